"""A model from outside the lab, named by class_path (examples/own_model/, docs/models.md),
goes through the loop and every command as the lab's own models do."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lab.cli import main
from lab.config import load_config
from lab.domains.images.files import image_files
from lab.generators.build import call_sample, read_checkpoint
from lab.rundir.directory import MANIFEST_FILE, METRICS_FILE
from lab.training.seeding import cpu_generator, derive_seed
from tests.conftest import TINY_EXPERIMENT, assert_matches_row
from tests.run_processes import launch_run

pytestmark = pytest.mark.slow  # whole loops: make test-fast skips this file

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "own_model" / "experiment.yaml"
GENERATIONS = 2
SAMPLES = 300


def _overrides(cache_dir: Path) -> list[str]:
    """The example, small: two generations of a few steps; the tiny experiment's seed, so the
    session's cached judge is the one it measures with."""
    return [
        f"generations={GENERATIONS}",
        f"samples_per_generation={SAMPLES}",
        "train.max_epochs=null",
        "train.max_steps=12",
        f"seed={TINY_EXPERIMENT['seed']}",
        f"cache_dir={cache_dir}",
    ]


def _sets(overrides: list[str]) -> list[str]:
    return [argument for override in overrides for argument in ("--set", override)]


def _outputs(run_dir: Path) -> dict[str, bytes]:
    files = [run_dir / METRICS_FILE, *run_dir.glob("samples/*.npz"), *run_dir.glob("grids/*.png")]
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(files)}


@pytest.fixture(scope="module")
def own_run(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    run_dir = tmp_path_factory.mktemp("own") / "run"
    command = ["run", str(EXAMPLE), "--run-dir", str(run_dir), *_sets(_overrides(cache_dir))]
    assert main(command) == 0
    return run_dir


def _rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / METRICS_FILE, newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_example_runs_two_generations_measured_like_the_labs_models(own_run) -> None:
    rows = _rows(own_run)
    assert [row["generation"] for row in rows] == ["0", "1"]
    assert {"fid", "classes_covered", "recall", "vendi", "diverged"} <= set(rows[0])
    assert rows[1]["synthetic_fraction"] == "1"  # replace: generation 1 trained on samples
    for generation in range(GENERATIONS):
        with np.load(own_run / image_files(generation)["samples"]) as stored:
            assert stored["images"].shape == (SAMPLES, 1, 28, 28)
            assert stored["images"].dtype == np.uint8


def test_its_checkpoint_rebuilds_the_model_from_the_run_folder_alone(own_run, tmp_path) -> None:
    """Another process, with the example's folder nowhere on its path, rebuilds generation
    1's model from its checkpoint and draws exactly the samples the run stored."""
    checkpoint = own_run / image_files(1)["checkpoint"]
    saved = read_checkpoint(checkpoint.read_bytes())
    assert saved.recipe.class_path == "mlp_vae.MLPVAE"
    assert saved.recipe.init_args == {"latent_dim": 8, "hidden": 256}
    assert saved.inputs == {"image_shape": [1, 28, 28], "lr": 0.001}
    assert saved.source == str(EXAMPLE.parent)
    seed = derive_seed(TINY_EXPERIMENT["seed"], "samples", 1)
    code = (
        "import sys, torch\n"
        "from lab.generators.build import read_checkpoint, rebuild\n"
        "from lab.training.seeding import cpu_generator\n"
        "assert not any('own_model' in entry for entry in sys.path)\n"
        f"model = rebuild(read_checkpoint(open({str(checkpoint)!r}, 'rb').read()))\n"
        f"images = model.sample({SAMPLES}, cpu_generator({seed}))\n"
        f"torch.save(images, {str(tmp_path / 'drawn.pt')!r})\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)
    with np.load(own_run / image_files(1)["samples"]) as stored:
        expected = torch.from_numpy(stored["images"])
    assert torch.equal(torch.load(tmp_path / "drawn.pt"), expected)


def test_status_report_compare_check_and_eval_work_on_it(own_run, tmp_path, capsys) -> None:
    assert main(["status", str(own_run)]) == 0
    assert f"{GENERATIONS} of {GENERATIONS} generations done" in capsys.readouterr().out
    assert main(["report", str(own_run)]) == 0
    page = (own_run / "report.html").read_text()
    assert "grids/gen_001.png" in page and "judge accuracy" in page
    capsys.readouterr()
    assert main(["compare", str(own_run), "--out", str(tmp_path / "compare")]) == 0
    assert "own_model" in capsys.readouterr().out
    assert (tmp_path / "compare" / "last_grids.png").is_file()
    assert main(["check", str(own_run), "--max", "fid=100000"]) == 0
    assert "ok:" in capsys.readouterr().out
    samples = own_run / image_files(1)["samples"]
    config = own_run / "config.yaml"
    assert main(["eval", str(samples), "--judge-config", str(config), "--json"]) == 0
    measured = json.loads(capsys.readouterr().out)["metrics"]
    assert_matches_row(measured, _rows(own_run)[1])


def test_a_run_killed_mid_generation_resumes_to_identical_bytes(own_run, tmp_path, cache_dir):
    overrides = _overrides(cache_dir)
    run_dir = tmp_path / "killed"
    killed = launch_run(EXAMPLE, run_dir, kill_at="trained:1", overrides=overrides)
    _, err = killed.communicate(timeout=300)
    assert killed.returncode == -signal.SIGKILL, err
    manifest = json.loads((run_dir / MANIFEST_FILE).read_text())
    assert len(manifest["generations"]) == 1  # killed inside generation 1, after 0 finished
    assert manifest["in_progress"]["generation"] == 1
    resumed = launch_run(EXAMPLE, run_dir, overrides=overrides)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert _outputs(run_dir) == _outputs(own_run)


def test_a_folder_bound_to_one_model_refuses_other_arguments(own_run, cache_dir, capsys):
    overrides = [*_overrides(cache_dir), "model.init_args.hidden=32"]
    assert main(["run", str(EXAMPLE), "--run-dir", str(own_run), *_sets(overrides)]) == 2
    assert "'model.init_args.hidden' is 256 there and 32 here" in capsys.readouterr().err


def test_sample_gets_only_the_knobs_it_declares() -> None:
    """MLPVAE.sample declares temperature but not batch_size or truncation."""
    config = load_config(EXAMPLE)
    from lab.generators.build import build_from_section

    model = build_from_section(config.model, image_shape=(1, 28, 28), lr=1e-3)
    knobs = {"batch_size": 7, "temperature": 0.0, "truncation": None}
    drawn = call_sample(model, (5, cpu_generator(0)), knobs)
    assert drawn.shape == (5, 1, 28, 28)
    assert (drawn == drawn[0]).all()  # temperature 0 reached sample: every latent is zero


@pytest.mark.parametrize("init_from", ["scratch", "previous"])
def test_a_generation_starts_from_fresh_or_from_the_previous_weights(
    tmp_path, cache_dir, init_from
) -> None:
    """train.init_from: previous fine-tunes generation 0's weights (one step at a learning
    rate of 1e-12 leaves them as they were, to 1e-6); scratch starts afresh (other weights)."""
    overrides = [*_overrides(cache_dir), "train.max_steps=1", "train.lr=1.0e-12"]
    overrides.append(f"train.init_from={init_from}")
    run_dir = tmp_path / init_from
    assert main(["run", str(EXAMPLE), "--run-dir", str(run_dir), *_sets(overrides)]) == 0
    weights = [
        read_checkpoint((run_dir / image_files(g)["checkpoint"]).read_bytes()).state_dict
        for g in range(GENERATIONS)
    ]
    largest = max((weights[1][name] - weights[0][name]).abs().max() for name in weights[0])
    if init_from == "previous":
        assert largest < 1e-6  # 1.8e-12 here
    else:
        assert largest > 1e-2  # 0.69 here (69 times the line)
