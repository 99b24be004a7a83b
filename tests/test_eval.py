"""`collapse-lab eval` on small folders and .npz files written here, and its clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from lab.cli import main
from lab.commands.eval import experiment_file
from lab.config import load_config
from lab.data.image_files import load_images
from lab.domains.images.judging import judge_cache_path
from lab.errors import DataError
from lab.rundir.storage import encode_npz
from models.judges import JudgeFeatures
from tests.conftest import TINY_EXPERIMENT

pytestmark = pytest.mark.slow  # whole loops: make test-fast skips this file

COUNT = 40
REPO = Path(__file__).resolve().parents[1]


def write_folder(folder: Path, images: torch.Tensor) -> Path:
    folder.mkdir(parents=True)
    for index, image in enumerate(images):
        Image.fromarray(image[0].numpy()).save(folder / f"{index:04d}.png")
    return folder


@pytest.fixture(scope="module")
def digits(tiny_config, tmp_path_factory) -> dict[str, Path]:
    """Real held-out digits and real training digits as folders, and the latter as .npz."""
    real = load_config(tiny_config).data.load()
    root = tmp_path_factory.mktemp("digits")
    picked = torch.arange(0, len(real.heldout), len(real.heldout) // COUNT)[:COUNT]
    others = real.train.images[:COUNT]
    (root / "fake.npz").write_bytes(encode_npz({"images": others.numpy()}))
    return {
        "real": write_folder(root / "real", real.heldout.images[picked]),
        "fake": write_folder(root / "fake", others),
        "fake_npz": root / "fake.npz",
    }


def run_eval(capsys, *args: str) -> tuple[int, dict | None, str]:
    code = main(["eval", *map(str, args)])
    captured = capsys.readouterr()
    report = json.loads(captured.out) if code == 0 and "--json" in args else None
    return code, report, captured.err


def test_folders_with_a_judge_give_every_number(digits, tiny_config, capsys) -> None:
    code, report, _ = run_eval(
        capsys, digits["real"], digits["fake"], "--judge-config", tiny_config, "--json"
    )
    assert code == 0
    metrics = report["metrics"]
    assert report["real_images"] == report["fake_images"] == COUNT
    for name in ("fid", "precision", "recall", "density", "coverage", "classes_covered"):
        assert name in metrics
    assert {f"recall_{d}" for d in range(10)} <= set(metrics)
    # Fixed digits, the judge of seed 7: precision 0.975, recall 0.1 (4 of the 40), fid 1068.6.
    assert 0 < metrics["precision"] <= 1 and 0 < metrics["recall"] <= 1
    assert metrics["fid"] > 0


def test_the_training_set_adds_copy_fraction(digits, tiny_config, capsys) -> None:
    """FAKE is the training digits themselves: every one a copy of TRAIN; the held-out digits,
    never trained on, are not all copies. Tail, bulk and Vendi columns come without --train."""
    code, report, _ = run_eval(
        capsys, digits["real"], digits["fake"], "--judge-config", tiny_config, "--json"
    )
    assert code == 0 and "copy_fraction" not in report["metrics"]
    assert {"tail_recall", "bulk_recall", "tail_coverage", "bulk_coverage", "vendi"} <= set(
        report["metrics"]
    )
    copied = run_eval(
        capsys,
        digits["fake"],
        "--judge-config",
        tiny_config,
        "--train",
        digits["fake_npz"],
        "--json",
    )[1]["metrics"]
    assert copied["copy_fraction"] == 1.0
    unseen = run_eval(
        capsys, digits["real"], "--judge-config", tiny_config, "--train", digits["fake"], "--json"
    )[1]["metrics"]
    assert unseen["copy_fraction"] < 1.0  # 0.075 here (3 of the 40)


def test_a_folder_against_itself_is_perfect(digits, tiny_config, capsys) -> None:
    code, report, _ = run_eval(
        capsys, digits["real"], digits["real"], "--judge-config", tiny_config, "--json"
    )
    assert code == 0
    metrics = report["metrics"]
    assert metrics["precision"] == metrics["recall"] == metrics["coverage"] == 1.0
    assert metrics["fid"] == pytest.approx(0.0, abs=1e-2)


def test_npz_and_folder_of_the_same_images_agree(digits, tiny_config, capsys) -> None:
    reports = []
    for fake in (digits["fake"], digits["fake_npz"]):
        code, report, _ = run_eval(
            capsys, digits["real"], fake, "--judge-config", tiny_config, "--json"
        )
        assert code == 0
        reports.append(report["metrics"])
    # The same uint8 pixels; float features may differ in the last bits between two passes.
    assert reports[0] == pytest.approx(reports[1], rel=1e-5)


def test_text_output_lists_the_metrics(digits, tiny_config, capsys) -> None:
    assert (
        main(["eval", str(digits["real"]), str(digits["fake"]), "--judge-config", str(tiny_config)])
        == 0
    )
    out = capsys.readouterr().out
    assert "feature space: judge" in out
    assert "precision" in out and "rare_class_recall" in out


def test_a_corrupt_png_is_named(digits, tmp_path, capsys) -> None:
    fake = tmp_path / "fake"
    fake.mkdir()
    for source in sorted(digits["fake"].iterdir())[:10]:
        (fake / source.name).write_bytes(source.read_bytes())
    broken = fake / "0005.png"
    broken.write_bytes(broken.read_bytes()[:60])  # truncated mid-file
    code, _, err = run_eval(capsys, digits["real"], fake, "--feature-space", "inception")
    assert code == 2
    assert f"'{broken}' cannot be read as an image" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_folder_of_mixed_sizes_is_named(digits, tmp_path, capsys) -> None:
    fake = tmp_path / "mixed"
    fake.mkdir()
    for index in range(8):
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(fake / f"{index}.png")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(fake / "9.png")
    code, _, err = run_eval(capsys, digits["real"], fake, "--feature-space", "inception")
    assert code == 2
    assert f"'{fake / '9.png'}' is 32x32 pixels but '{fake / '0.png'}' is 28x28" in err


def test_the_judge_space_needs_a_judge_config(digits, capsys) -> None:
    code, _, err = run_eval(capsys, digits["real"], digits["fake"])
    assert code == 2
    assert "pass --judge-config" in err and "--feature-space inception" in err


def test_images_of_another_shape_than_the_judges_are_refused(digits, tiny_config, tmp_path, capsys):
    colour = tmp_path / "colour.npz"
    colour.write_bytes(encode_npz({"images": np.zeros((10, 3, 32, 32), np.uint8)}))
    code, _, err = run_eval(capsys, digits["real"], colour, "--judge-config", tiny_config)
    assert code == 2
    assert f"'{colour}' holds 3x32x32 images but the judge" in err and "takes 1x28x28" in err


def test_an_npz_without_images_is_named(digits, tmp_path, capsys) -> None:
    wrong = tmp_path / "wrong.npz"
    wrong.write_bytes(encode_npz({"samples": np.zeros((10, 1, 28, 28), np.uint8)}))
    code, _, err = run_eval(capsys, digits["real"], wrong, "--feature-space", "inception")
    assert code == 2
    assert f"'{wrong}' has no 'images' array (it has samples)" in err


def test_16_bit_images_read_as_the_8_bit_ones(digits, tmp_path) -> None:
    """16-bit grey PNGs were clipped to 255 (the same digits then scored FID 893)."""
    eight = load_images(digits["fake"])
    for name, widen in (("times257", lambda x: x * 257), ("shifted", lambda x: x << 8)):
        folder = tmp_path / name
        folder.mkdir()
        for index, image in enumerate(eight):
            pixels = widen(image[0].numpy().astype(np.uint16))
            Image.fromarray(pixels).save(folder / f"{index:04d}.png")
        assert Image.open(folder / "0000.png").mode == "I;16"
        assert torch.equal(load_images(folder), eight), name


def test_wide_pixels_are_taken_only_as_whole_bytes(tmp_path) -> None:
    folder = tmp_path / "wide"
    folder.mkdir()
    Image.fromarray(np.arange(12, dtype=np.int32).reshape(3, 4) * 20).save(folder / "0.tif")
    assert load_images(folder)[0, 0, 2, 3] == 220
    Image.fromarray(np.full((3, 4), 0.5, np.float32)).save(folder / "0.tif")
    with pytest.raises(DataError, match="holds floating-point pixels from 0.5 to 0.5"):
        load_images(folder)


def test_kid_subsets_are_half_the_smaller_set(digits, tiny_config, capsys) -> None:
    """Subsets as large as the sets were all the same set, so kid_std was about 1e-5."""
    code, report, _ = run_eval(
        capsys, digits["real"], digits["fake"], "--judge-config", tiny_config, "--kid", "--json"
    )
    assert code == 0
    note = "KID over 100 subsets of 20 images, half the smaller set: metrics.kid_subset_size 1000"
    assert report["notes"] == [f"{note} is more than the 40 images of the smaller set"]
    metrics = report["metrics"]
    # It was 1e-7 of it; now 178.3 against 0.05 x 976.1 = 48.8 (3.7 times the line).
    assert metrics["kid_std"] > 0.05 * abs(metrics["kid"]) > 0


@pytest.mark.parametrize(
    ("settings", "count", "note"),
    [
        ({"kid_subset_size": 20}, 40, None),  # subsets differ: the config's size, as in a run
        ({"kid_subset_size": 40}, 40, "would take every image of both sets"),
        (
            {"kid_subset_size": 40, "precision_recall_k": 1, "density_coverage_k": 1},
            3,
            "kid is measured on the whole sets and kid_std is empty",
        ),
    ],
)
def test_kid_subsets_follow_the_config_where_they_differ(
    digits, tiny_config, tmp_path, capsys, settings: dict, count: int, note: str | None
) -> None:
    config = tmp_path / "kid.yaml"
    experiment = yaml.safe_load(tiny_config.read_text())
    config.write_text(yaml.safe_dump({**experiment, "metrics": {"kid": True, **settings}}))
    real, fake = (load_images(digits[name])[:count] for name in ("real", "fake"))
    args = (write_folder(tmp_path / "r", real), write_folder(tmp_path / "f", fake))
    code, report, _ = run_eval(capsys, *args, "--judge-config", config, "--json")
    assert code == 0
    assert (note is None) == (not report["notes"])
    assert note is None or note in report["notes"][0]
    kid_std = report["metrics"]["kid_std"]
    assert kid_std is None if count == 3 else kid_std > 0  # 178.3 for both sets of 40


def test_identical_real_images_are_named_not_divided_by(digits, tiny_config, tmp_path, capsys):
    same = write_folder(tmp_path / "same", load_images(digits["real"])[:1].repeat(20, 1, 1, 1))
    code, _, err = run_eval(capsys, same, digits["fake"], "--judge-config", tiny_config)
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1
    assert f"'{same}' cannot be the real reference set: its 20 images have identical" in err


def test_nan_features_are_named_before_any_metric(
    digits, tiny_config, tmp_path, monkeypatch, capfd
) -> None:
    """A broken extractor used to give NaN FID (and oneMKL noise) before PRDC's ValueError."""
    seven = write_folder(tmp_path / "seven", load_images(digits["fake"])[:7])
    forward = JudgeFeatures.forward

    def broken(self: JudgeFeatures, images: torch.Tensor) -> torch.Tensor:
        features = forward(self, images)
        return features.fill_(float("nan")) if len(images) == 7 else features

    monkeypatch.setattr(JudgeFeatures, "forward", broken)
    code = main(["eval", str(digits["real"]), str(seven), "--judge-config", str(tiny_config)])
    err = capfd.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert f"'{seven}' cannot be measured: the features of 7 of its 7 generated images" in err


def test_from_another_folder_eval_uses_the_cache_run_uses(
    digits, tiny_config, tmp_path, monkeypatch, capsys
) -> None:
    """The judge cache landed in ./cache of whatever folder eval ran from, so a judge that
    `run` had trained was trained again there."""
    repository = tmp_path / "lab"
    (repository / "experiments").mkdir(parents=True)
    (repository / "pyproject.toml").write_text("")
    experiment = repository / "experiments" / "tiny.yaml"
    experiment.write_text(yaml.safe_dump(TINY_EXPERIMENT))  # cache_dir "cache", as run's
    trained = judge_cache_path(load_config(tiny_config))  # the session's judge, run's own
    cached = repository / "cache" / trained.relative_to(trained.parents[1])
    cached.parent.mkdir(parents=True)
    shutil.copyfile(trained, cached)
    elsewhere = tmp_path / "images"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    relative = Path("../lab/experiments/tiny.yaml")
    code, _, err = run_eval(capsys, digits["real"], digits["fake"], "--judge-config", relative)
    assert code == 0 and "training the" not in err
    assert not (elsewhere / "cache").exists()
    assert len(list((repository / "cache" / "features").iterdir())) == 1


def test_eval_says_when_it_trains_a_judge(digits, tmp_path, capsys) -> None:
    quick = {"max_epochs": 1, "batch_size": 256, "min_accuracy": 0.5}
    config = tmp_path / "quick.yaml"
    config.write_text(
        yaml.safe_dump({**TINY_EXPERIMENT, "judge": quick, "cache_dir": str(tmp_path / "cache")})
    )
    args = (digits["real"], digits["fake"], "--judge-config", config)
    _, _, first = run_eval(capsys, *args)
    judge = judge_cache_path(load_config(config))
    assert f"judge (judge.max_epochs: 1), once: it is cached at '{judge}'" in first
    _, _, second = run_eval(capsys, *args)
    assert "training" not in second


def test_a_relative_judge_config_is_found_in_this_checkout(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    notes: list[str] = []
    found = experiment_file(Path("experiments/demo.yaml"), notes)
    assert found == REPO / "experiments" / "demo.yaml"
    assert notes == [f"--judge-config experiments/demo.yaml is {found} (not in the current folder)"]
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "demo.yaml").write_text("")
    assert experiment_file(Path("experiments/demo.yaml"), []) == Path("experiments/demo.yaml")


def test_lab_evaluate_is_eval_from_python(digits, tiny_config, capsys) -> None:
    """lab.evaluate gives what `eval --json` prints, from a config file or a loaded config;
    a text experiment, which eval does not score, is one sentence."""
    import lab
    from lab.errors import ConfigError

    code, printed, _ = run_eval(
        capsys, digits["real"], digits["fake"], "--judge-config", tiny_config, "--json"
    )
    assert code == 0
    assert lab.evaluate(digits["fake"], digits["real"], config=tiny_config) == printed
    loaded = lab.evaluate(digits["fake"], digits["real"], config=load_config(tiny_config))
    assert loaded["metrics"] == printed["metrics"]
    text = {"data": {"name": "pydoc"}, "model": {"kind": "gpt", "width": 8, "heads": 1}}
    text_config = Path(tiny_config).with_name("text.yaml")
    text_config.write_text(yaml.safe_dump({**TINY_EXPERIMENT, **text}))
    with pytest.raises(ConfigError, match="is text, which eval does not score"):
        lab.evaluate(digits["fake"], config=text_config)
