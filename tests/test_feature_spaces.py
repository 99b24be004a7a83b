"""The DINOv2 and CLIP feature spaces, several spaces in one run, and CMMD.

CMMD is checked against a float64 numpy transcription of the reference code's estimator on
the same inputs. The spaces run through the lab's own loaders and sha256 checks on small
random ViTs written by the same libraries (tests/vit_fixtures.py), since no hub is reachable;
a digits run in [judge, dinov2] writes both sets of columns, resumes byte-identical after a
kill, and compare, report, check and eval show both.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

import lab.metrics.clip
import lab.metrics.dinov2
import lab.report.figures
from lab.cli import main
from lab.config import load_config
from lab.errors import FeatureSpaceError
from lab.loop import run_experiment
from lab.metrics.cmmd import CMMD
from lab.metrics.vit import Preprocessing
from lab.rundir.directory import METRICS_FILE
from lab.rundir.storage import encode_npz
from tests.conftest import TINY_EXPERIMENT, assert_matches_row
from tests.run_processes import launch_run
from tests.vit_fixtures import CLIP_EMBEDDING, DINOV2, write_tiny_clip, write_tiny_dinov2

pytest.importorskip("timm")
pytest.importorskip("open_clip")


def numpy_cmmd(x: np.ndarray, y: np.ndarray, sigma: float = 10.0) -> float:
    """google-research cmmd/distance.py's `mmd`, in float64 numpy."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    gamma = 1 / (2 * sigma**2)

    def mean_kernel(a: np.ndarray, b: np.ndarray) -> float:
        squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
        return float(np.exp(-gamma * squared).mean())

    return 1000 * (mean_kernel(x, x) + mean_kernel(y, y) - 2 * mean_kernel(x, y))


def _cmmd(real: torch.Tensor, fake: torch.Tensor, **kwargs) -> float:
    metric = CMMD(**kwargs)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    return float(metric.compute())


def test_cmmd_is_the_reference_estimator() -> None:
    generator = torch.Generator().manual_seed(0)
    real = torch.randn(300, 12, generator=generator) * 3
    fake = torch.randn(200, 12, generator=generator) * 3 + 0.8
    expected = numpy_cmmd(real.numpy(), fake.numpy())
    # blocks of 64 rows: the tiled sums must give the one-shot mean
    assert _cmmd(real, fake, block=64) == pytest.approx(expected, rel=1e-5)
    assert _cmmd(real, fake) == pytest.approx(expected, rel=1e-5)
    assert _cmmd(fake, real) == pytest.approx(expected, rel=1e-5)  # symmetric
    assert _cmmd(real, real.clone()) == pytest.approx(0.0, abs=1e-9)
    assert expected > 1  # far from 0, so the relative tolerance means something


def test_cmmd_keeps_the_real_side_across_resets() -> None:
    generator = torch.Generator().manual_seed(1)
    real, first, second = (torch.randn(50, 4, generator=generator) for _ in range(3))
    metric = CMMD(reset_real_features=False)
    metric.update(real, real=True)
    values = []
    for fake in (first, second):
        metric.reset()
        metric.update(fake, real=False)
        values.append(float(metric.compute()))
    assert values == pytest.approx([numpy_cmmd(real.numpy(), f.numpy()) for f in (first, second)])


def test_resizing_is_pils_bicubic() -> None:
    """The reference code resizes with PIL's BICUBIC (antialiased) and keeps uint8."""
    generator = torch.Generator().manual_seed(2)
    images = torch.randint(0, 256, (2, 3, 28, 40), generator=generator, dtype=torch.uint8)
    unit = Preprocessing(size=224, mean=(0.0,) * 3, std=(1.0,) * 3, centre_crop=False)
    ours = (unit(images) * 255).round()
    for index, image in enumerate(images):
        pil = Image.fromarray(image.permute(1, 2, 0).numpy()).resize((224, 224), Image.BICUBIC)
        theirs = torch.from_numpy(np.asarray(pil)).permute(2, 0, 1).float()
        assert (ours[index] - theirs).abs().max() <= 1  # PIL rounds in fixed point


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    root = tmp_path_factory.mktemp("vit")
    dinov2, clip = root / "dinov2_vitl14_pretrain.pth", root / "ViT-L-14-336px.pt"
    return {"dinov2": (dinov2, write_tiny_dinov2(dinov2)), "clip": (clip, write_tiny_clip(clip))}


def test_the_loaders_read_the_sizes_from_the_file(tiny_weights) -> None:
    dinov2 = lab.metrics.dinov2.dinov2_features(*map(str, tiny_weights["dinov2"]))
    clip = lab.metrics.clip.clip_features(*map(str, tiny_weights["clip"]))
    grey = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    with torch.no_grad():
        for module, width in ((dinov2, DINOV2["width"]), (clip, CLIP_EMBEDDING)):
            features = module(grey)
            assert features.shape == (3, width) and module.num_features == width
            assert torch.equal(features, module(grey.repeat(1, 3, 1, 1)))
        assert torch.allclose(clip(grey).norm(dim=1), torch.ones(3))
        wide = torch.randint(0, 256, (3, 3, 28, 40), dtype=torch.uint8)
        assert torch.equal(clip(wide), clip(wide[..., 6:34]))  # CMMD's centre square
    # the 37x37 position grid of the 518 px file, resampled for 224 px inputs
    assert dinov2.network.pos_embed.shape == (1, 1 + 16 * 16, DINOV2["width"])


def test_a_file_of_other_content_is_refused_in_one_sentence(tmp_path, tiny_weights) -> None:
    weights = tmp_path / "ViT-L-14-336px.pt"
    weights.write_bytes(b"<html>not the weights</html>")
    with pytest.raises(FeatureSpaceError) as refused:
        lab.metrics.clip.clip_features(str(weights), None)
    message = str(refused.value)
    assert message.startswith(f"'{weights}' is not the expected CLIP ViT-L/14-336 weights")
    assert lab.metrics.clip.SHA256 in message and lab.metrics.clip.PUBLISHED.url in message
    assert "\n" not in message
    with pytest.raises(FeatureSpaceError, match="metrics.dinov2_sha256 is not set"):
        lab.metrics.dinov2.dinov2_features(str(tiny_weights["dinov2"][0]), None)


def test_a_wrong_weights_file_is_refused_before_any_training(
    tmp_path, tiny_weights, capsys
) -> None:
    """The CLIP file where the DINOv2 one should be: one sentence, and no judge trained."""
    wrong, _ = tiny_weights["clip"]
    expected = tiny_weights["dinov2"][1]
    metrics = {
        "feature_spaces": ["judge", "dinov2"],
        "dinov2_weights": str(wrong),
        "dinov2_sha256": expected,
    }
    config = tmp_path / "wrong.yaml"
    cache = tmp_path / "cache"
    config.write_text(
        yaml.safe_dump({**TINY_EXPERIMENT, "metrics": metrics, "cache_dir": str(cache)})
    )
    code = main(["run", str(config), "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"'{wrong}' is not the expected DINOv2 ViT-L/14 weights file" in err
    assert tiny_weights["clip"][1] in err and expected in err
    assert not list(cache.rglob("judge*")), "a judge trained before the weights were checked"


SPACES_RUN = {
    **TINY_EXPERIMENT,
    "generations": 2,
    "samples_per_generation": 400,
    "train": {"max_steps": 40, "batch_size": 64, "lr": 0.002},
}
# Columns of the second space: the feature metrics that need no labels, suffixed.
SUFFIXED = ("fid", "precision", "recall", "density", "coverage", "tail_recall", "vendi", "cmmd")


def _outputs(run_dir: Path) -> dict[str, bytes]:
    files = [run_dir / METRICS_FILE, *run_dir.glob("samples/*.npz"), *run_dir.glob("grids/*.png")]
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(files)}


@pytest.fixture(scope="module")
def spaces_run(tmp_path_factory, cache_dir, tiny_weights) -> tuple[Path, Path]:
    """(config, run folder) of an uninterrupted digits run in [judge, dinov2]."""
    root = tmp_path_factory.mktemp("spaces")
    weights, sha256 = tiny_weights["dinov2"]
    metrics = {
        "feature_spaces": ["judge", "dinov2"],
        "cmmd": ["dinov2"],
        "dinov2_weights": str(weights),
        "dinov2_sha256": sha256,
    }
    config = root / "spaces.yaml"
    config.write_text(
        yaml.safe_dump({**SPACES_RUN, "metrics": metrics, "cache_dir": str(cache_dir)})
    )
    run_experiment(load_config(config), root / "clean")  # `run` without its report's plots
    return config, root / "clean"


def _rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / METRICS_FILE, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_a_run_writes_both_spaces_and_resumes_identically(spaces_run, tmp_path) -> None:
    config, clean = spaces_run
    rows = _rows(clean)
    assert [row["generation"] for row in rows] == ["0", "1"]
    for name in SUFFIXED:
        assert f"{name}_dinov2" in rows[0], name
    assert "cmmd" not in rows[0]  # asked for in dinov2 only
    assert "copy_fraction" in rows[0] and "copy_fraction_dinov2" not in rows[0]
    assert "recall_0" in rows[0] and "recall_0_dinov2" not in rows[0]  # labels: first only
    assert all(row["fid"] != row["fid_dinov2"] for row in rows)
    reference = json.loads((clean / "manifest.json").read_text())["reference"]
    assert "vendi_dinov2" in reference and reference["vendi_dinov2"] != reference["vendi"]
    killed = tmp_path / "killed"
    process = launch_run(config, killed, kill_at="measured:1")
    _, err = process.communicate(timeout=300)
    assert process.returncode == -9, err
    run_experiment(load_config(config), killed)
    assert _outputs(killed) == _outputs(clean)


@pytest.fixture
def quick_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Which plots compare and report write is what is tested here; drawing each of the 50
    columns' figures (tested in test_report.py) would take most of the test's time."""
    blank = io.BytesIO()
    Image.new("RGB", (1, 1)).save(blank, format="PNG")
    monkeypatch.setattr(lab.report.figures, "png", lambda figure: blank.getvalue())


@pytest.mark.slow
def test_compare_report_check_and_eval_show_both(spaces_run, tmp_path, capsys, quick_plots):
    _, clean = spaces_run
    assert main(["compare", str(clean), "--out", str(tmp_path / "compare")]) == 0
    assert (tmp_path / "compare" / "plots" / "fid_dinov2.png").is_file()
    assert (tmp_path / "compare" / "plots" / "fid.png").is_file()
    assert "fid_dinov2" in capsys.readouterr().out  # the table's headline columns
    assert main(["report", str(clean)]) == 0
    assert (clean / "plots" / "metric_fid_dinov2.png").is_file()
    assert (clean / "plots" / "metric_cmmd_dinov2.png").is_file()
    rows = _rows(clean)
    limit = float(rows[1]["fid_dinov2"]) / 2
    capsys.readouterr()
    assert main(["check", str(clean), f"--max=fid_dinov2={limit}"]) == 1
    assert "fid_dinov2" in capsys.readouterr().out
    samples = clean / "samples" / "gen_001.npz"
    config = clean / "config.yaml"
    assert main(["eval", str(samples), "--judge-config", str(config), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["feature_spaces"] == ["judge", "dinov2"]
    assert_matches_row(report["metrics"], rows[1])


def test_eval_measures_in_several_pretrained_spaces(tmp_path, tiny_weights, monkeypatch, capsys):
    """Without a judge: CLIP first (plain columns), DINOv2 second (suffixed)."""
    for module in (lab.metrics.clip, lab.metrics.dinov2):
        space = module.PUBLISHED.space
        published = dataclasses.replace(module.PUBLISHED, sha256=tiny_weights[space][1])
        monkeypatch.setattr(module, "PUBLISHED", published)
    generator = torch.Generator().manual_seed(3)
    sets = {}
    for name, low in (("real", 0), ("fake", 40)):
        images = torch.randint(low, low + 200, (16, 1, 28, 28), generator=generator)
        sets[name] = tmp_path / f"{name}.npz"
        sets[name].write_bytes(encode_npz({"images": images.to(torch.uint8).numpy()}))
    args = ["eval", str(sets["real"]), str(sets["fake"]), "--feature-space", "clip,dinov2"]
    args += ["--clip-weights", str(tiny_weights["clip"][0])]
    args += ["--dinov2-weights", str(tiny_weights["dinov2"][0])]
    args += ["--cache-dir", str(tmp_path / "cache"), "--json"]
    assert main(args) == 0
    measured = json.loads(capsys.readouterr().out)["metrics"]
    assert {"fid", "fid_dinov2", "vendi", "vendi_dinov2"} <= set(measured)
    assert measured["fid"] != measured["fid_dinov2"]
    cached = sorted(p.name for p in (tmp_path / "cache" / "features").iterdir())
    hashes = [tiny_weights[s][1][:16] for s in ("clip", "dinov2")]
    assert [name.split("-")[-1] for name in cached] == [f"{h}.pt" for h in hashes]
