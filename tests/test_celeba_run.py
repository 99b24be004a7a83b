"""The tiny CelebA DCGAN experiment through the CLI, a diverging GAN, and a face folder."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from lab.cli import main
from lab.data.celeba import ATTRIBUTES, IMAGE_DIR, cache_path
from lab.domains.images.files import image_files
from lab.rundir.directory import MANIFEST_FILE, METRICS_FILE
from lab.rundir.storage import encode_npz
from models.dcgan import DCGAN
from tests.celeba_fixtures import VISIBLE, write_tiny_celeba
from tests.conftest import assert_matches_row

pytestmark = pytest.mark.slow  # whole loops: make test-fast skips this file

TINY = Path(__file__).parent.parent / "experiments" / "celeba_dcgan_tiny.yaml"
GRID_SIDE = 8 * 64 + 9 * 2  # 8 cells of 64 px with 2 px padding around each
RARE = ("Eyeglasses", "Bald", "Mustache", "Gray_Hair", "Wearing_Hat")


@pytest.fixture(scope="module")
def celeba_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("celeba")
    write_tiny_celeba(root)
    return root


@pytest.fixture(scope="module")
def finished(celeba_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """(run directory, the settings it ran with) of the tiny experiment's 2 generations."""
    cache = tmp_path_factory.mktemp("celeba_cache")
    settings = ["--set", f"data.root={celeba_root}", "--set", f"cache_dir={cache}"]
    assert not cache_path(celeba_root, 64, 148).exists()
    run_dir = tmp_path_factory.mktemp("celeba_run") / "run"
    assert main(["run", str(TINY), "--run-dir", str(run_dir), *settings]) == 0
    return run_dir, settings


def _rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / METRICS_FILE) as handle:
        return list(csv.DictReader(handle))


def test_two_generations_with_attribute_columns_and_face_grids(finished) -> None:
    run_dir, _ = finished
    rows = _rows(run_dir)
    assert [int(r["generation"]) for r in rows] == [0, 1]
    columns = {"fid", "rare_attributes_kept", "diverged"} | {f"attr_{a}" for a in ATTRIBUTES}
    assert columns <= set(rows[0])
    for row in rows:
        assert all(math.isfinite(float(value)) for value in row.values())
        assert all(0 <= float(row[f"attr_{a}"]) <= 1 for a in ATTRIBUTES)
        assert 0 <= int(row["rare_attributes_kept"]) <= len(RARE)
        assert row["diverged"] == "0"
    for generation in (0, 1):
        files = image_files(generation)
        with Image.open(run_dir / files["grid"]) as grid:
            assert grid.size == (GRID_SIDE, GRID_SIDE) and grid.mode == "RGB"
        with np.load(run_dir / files["samples"]) as stored:
            assert stored["images"].shape == (216, 3, 64, 64)
            assert stored["labels"].shape == (216, len(ATTRIBUTES))
            assert stored["labels"].dtype == np.uint8


def test_manifest_records_judge_and_real_prevalence(finished) -> None:
    run_dir, _ = finished
    manifest = json.loads((run_dir / MANIFEST_FILE).read_text())
    assert manifest["judge"]["labels"] == "attributes"
    assert 0.6 <= manifest["judge"]["heldout_accuracy"] <= 1  # 0.722 (margin 0.122, seed 0)
    real = manifest["real_labels"]
    assert real["rare_attributes"] == list(RARE) and real["kept_fraction"] == 0.5
    assert set(real["annotated_prevalence"]) == set(ATTRIBUTES)
    # The judge learned what the fixture draws: each visible attribute beats always guessing
    # the majority answer, and its prevalence on real faces matches the annotations. Measured
    # (experiment seed 0, fixture seed 0), accuracy against baseline + 0.05: Eyeglasses 1.0
    # against 0.85, Wearing_Hat 0.967 against 0.85, Blond_Hair 0.967 against 0.75, Smiling
    # 0.983 against 0.583 (smallest margin 0.117); judged against annotated prevalence: 0.224
    # and 0.2, 0.166 and 0.2, 0.262 and 0.3, 0.492 and 0.533 (at most 0.041 off of the 0.1).
    for name in VISIBLE:
        baseline = max(real["annotated_prevalence"][name], 1 - real["annotated_prevalence"][name])
        assert real["judge_accuracy"][name] >= baseline + 0.05, name
        assert real["judged_prevalence"][name] == pytest.approx(
            real["annotated_prevalence"][name], abs=0.1
        )
    assert manifest["reference"]["attr_Eyeglasses"] == pytest.approx(
        real["judged_prevalence"]["Eyeglasses"], abs=1e-6
    )
    # Mean held-out accuracy is the mean of the per-attribute accuracies.
    accuracies = list(real["judge_accuracy"].values())
    assert manifest["judge"]["heldout_accuracy"] == pytest.approx(np.mean(accuracies), abs=1e-5)


def test_the_image_cache_is_reused_by_the_next_run(finished, celeba_root, tmp_path) -> None:
    _, settings = finished
    cache = cache_path(celeba_root, 64, 148)
    assert cache.is_file()
    written = cache.stat().st_mtime_ns
    images = celeba_root / "celeba" / IMAGE_DIR
    away = images.with_name("moved-away")
    images.rename(away)  # only a reused cache can run without the JPEGs
    try:
        command = ["run", str(TINY), "--run-dir", str(tmp_path / "run"), *settings]
        assert main([*command, "--set", "generations=1"]) == 0
    finally:
        away.rename(images)
    assert len(_rows(tmp_path / "run")) == 1
    assert cache.stat().st_mtime_ns == written


class PoisonedDCGAN(DCGAN):
    """A DCGAN whose generator holds a NaN weight: its losses are NaN from the first step."""

    def on_train_start(self) -> None:
        super().on_train_start()
        with torch.no_grad():
            self.generator[0].weight[0, 0, 0, 0] = float("nan")


@pytest.fixture
def poisoned(monkeypatch) -> None:
    from models import registry

    poisoned = registry._MODELS["dcgan"]._replace(class_path="tests.test_celeba_run.PoisonedDCGAN")
    monkeypatch.setitem(registry._MODELS, "dcgan", poisoned)


@pytest.mark.parametrize(("policy", "generations"), [("stop", 1), ("continue", 2)])
def test_a_diverged_generation_is_recorded_and_the_loop_obeys_the_config(
    finished, poisoned, tmp_path, capsys, policy: str, generations: int
) -> None:
    _, settings = finished
    run_dir = tmp_path / "run"
    command = ["run", str(TINY), "--run-dir", str(run_dir), *settings]
    command += ["--set", f"train.on_divergence={policy}"]
    assert main(command) == 0
    rows = _rows(run_dir)
    assert len(rows) == generations and all(row["diverged"] == "1" for row in rows)
    manifest = json.loads((run_dir / MANIFEST_FILE).read_text())
    for record in manifest["generations"]:
        assert record["diverged"] == "the losses became NaN or infinite at step 1"
    out = capsys.readouterr().out
    assert "generation 0 diverged: the losses became NaN" in out
    if policy == "stop":
        assert "as train.on_divergence is 'stop'" in out
        assert main(command) == 0  # running it again does not go past the divergence
        assert "nothing to do" in capsys.readouterr().out
        assert len(_rows(run_dir)) == 1


def test_a_face_folder_runs_without_attribute_metrics(
    celeba_root, cache_dir, tmp_path, capsys
) -> None:
    """A folder of faces has no labels: FID in the rotation judge's space, no attr columns."""
    faces = tmp_path / "faces"
    shutil.copytree(celeba_root / "celeba" / IMAGE_DIR, faces)
    # The tiny CelebA experiment with a data section of a folder of faces (whose keys differ).
    experiment = yaml.safe_load(TINY.read_text())
    experiment["data"] = {"name": "faces", "root": str(faces), "heldout_fraction": 0.2}
    config = tmp_path / "faces.yaml"
    config.write_text(yaml.safe_dump(experiment))
    settings = [
        "samples_per_generation=64",
        "generations=1",
        f"cache_dir={cache_dir}",
        "judge.max_epochs=4",
        "judge.min_accuracy=0.5",  # four rotations: chance is 0.25
    ]
    run_dir = tmp_path / "run"
    command = ["run", str(config), "--run-dir", str(run_dir)]
    assert main(command + [arg for s in settings for arg in ("--set", s)]) == 0
    (row,) = _rows(run_dir)
    assert math.isfinite(float(row["fid"])) and row["diverged"] == "0"
    assert not any(name.startswith(("attr_", "share_", "rare_")) for name in row)
    manifest = json.loads((run_dir / MANIFEST_FILE).read_text())
    assert manifest["judge"]["labels"] == "none" and "real_labels" not in manifest
    with np.load(run_dir / image_files(0)["samples"]) as stored:
        assert stored.files == ["images"]
    # eval with the face run's config: the rotation judge's four answers are no classes.
    measured = _eval(
        capsys, run_dir / image_files(0)["samples"], "--judge-config", run_dir / "config.yaml"
    )
    assert_matches_row(measured, row)


def _eval(capsys, *args: object) -> dict:
    capsys.readouterr()  # what earlier commands printed
    assert main(["eval", *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)["metrics"]


def test_eval_of_a_runs_samples_with_its_config_repeats_its_metrics_row(finished, capsys) -> None:
    """The same code as the loop: attribute columns included, to metrics.csv's 6 digits."""
    run_dir, _ = finished
    measured = _eval(
        capsys, run_dir / image_files(1)["samples"], "--judge-config", run_dir / "config.yaml"
    )
    assert_matches_row(measured, _rows(run_dir)[1])
    assert {f"attr_{a}" for a in ATTRIBUTES} <= set(measured)


def test_eval_with_a_celeba_judge_labels_a_real_folder_by_attributes(
    finished, celeba_root, tmp_path, capsys
) -> None:
    """REAL given as files: the attribute judge labels it, so every attribute gets its
    prevalence and recall; no class shares."""
    run_dir, _ = finished
    real = tmp_path / "real.npz"
    with np.load(run_dir / image_files(0)["samples"]) as stored:
        real.write_bytes(encode_npz({"images": stored["images"]}))
    fake = run_dir / image_files(1)["samples"]
    measured = _eval(capsys, real, fake, "--judge-config", run_dir / "config.yaml")
    assert {f"attr_{a}" for a in ATTRIBUTES} <= set(measured)
    assert "rare_attributes_kept" in measured and not any(n.startswith("share_") for n in measured)
    assert all(0 <= measured[f"attr_{a}"] <= 1 for a in ATTRIBUTES)
