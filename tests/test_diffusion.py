"""The diffusion model (models/diffusion.py) in the loop: a tiny class-conditional DDPM runs
two generations through `collapse-lab run`, resumes byte-identical after a kill while it
samples, and classifier-free guidance changes its samples (and is refused without classes)."""

from __future__ import annotations

import csv
import json
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from lab.cli import main
from lab.config import load_config
from lab.domains.images.files import image_files
from lab.errors import ConfigError
from lab.generators.build import build_from_section, read_checkpoint
from lab.rundir.directory import MANIFEST_FILE, METRICS_FILE
from lab.training.seeding import cpu_generator
from models.sections.diffusion import DiffusionConfig
from tests.conftest import TINY_EXPERIMENT
from tests.run_processes import launch_run

SAMPLES = 120
TINY_UNET = {
    "kind": "diffusion",
    "block_out_channels": [8, 16],
    "norm_groups": 8,
    "train_timesteps": 50,
    "conditional": True,
}
TINY_DIFFUSION = {
    "generations": 2,
    "samples_per_generation": SAMPLES,
    "model": TINY_UNET,
    "train": {"max_steps": 8, "batch_size": 32, "lr": 0.002},
    "sampling": {"steps": 3, "guidance": 1.0, "grid_rows": 3},
    "metrics": {"batch_size": 60},
}
# metrics.csv of a model on mnist5k, in order: the image domain's columns, whatever the model.
MNIST5K_COLUMNS = (
    "generation,fid,class_entropy,classes_covered,"
    + ",".join(f"share_{d}" for d in range(10))
    + ",precision,recall,density,coverage,"
    + ",".join(f"recall_{d}" for d in range(10))
    + ",rare_class_recall,feature_variance_ratio,pairwise_distance_ratio,synthetic_fraction,"
    "train_steps,diverged,tail_recall,bulk_recall,tail_coverage,bulk_coverage,vendi,copy_fraction"
).split(",")


def _outputs(run_dir: Path) -> dict[str, bytes]:
    files = [run_dir / METRICS_FILE, *run_dir.glob("samples/*.npz"), *run_dir.glob("grids/*.png")]
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(files)}


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    path = tmp_path_factory.mktemp("diffusion") / "diffusion.yaml"
    experiment = {**TINY_EXPERIMENT, **TINY_DIFFUSION, "cache_dir": str(cache_dir)}
    path.write_text(yaml.safe_dump(experiment, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def clean_run(config_file: Path) -> Path:
    run_dir = config_file.parent / "clean"
    assert main(["run", str(config_file), "--run-dir", str(run_dir)]) == 0
    return run_dir


@pytest.mark.slow
def test_two_generations_write_every_file_and_column(clean_run) -> None:
    with open(clean_run / METRICS_FILE, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["generation"] for row in rows] == ["0", "1"]
    assert list(rows[0]) == MNIST5K_COLUMNS
    assert all(value not in ("", "nan") for row in rows for value in row.values())
    assert rows[1]["synthetic_fraction"] == "1"
    for generation in range(2):
        files = image_files(generation)
        for relative in files.values():
            assert (clean_run / relative).stat().st_size > 0, relative
        assert (clean_run / "logs" / f"gen_{generation:03d}" / "csv" / "metrics.csv").is_file()
        with np.load(clean_run / files["samples"]) as stored:
            assert stored["images"].shape == (SAMPLES, 1, 28, 28)
            assert stored["images"].dtype == np.uint8
            # The class each sample was drawn for, beside the judge's label of it: every digit
            # is drawn for (120 uniform draws over 10 classes).
            assert stored["classes"].shape == stored["labels"].shape == (SAMPLES,)
            assert set(stored["classes"].tolist()) == set(range(10))
        saved = read_checkpoint((clean_run / files["checkpoint"]).read_bytes())
        assert saved.recipe.class_path == "models.diffusion.Diffusion"
        assert saved.inputs["num_classes"] == 10
    # Generation 1 trained on generation 0's samples alone (replace): a conditional model
    # refuses a training set without classes, so they came from gen_000.npz's classes.
    manifest = json.loads((clean_run / MANIFEST_FILE).read_text())
    assert manifest["generations"][1]["training_set"] == {"gen_0": SAMPLES}


@pytest.mark.slow
def test_a_run_killed_while_sampling_resumes_to_identical_bytes(
    clean_run, config_file, tmp_path
) -> None:
    run_dir = tmp_path / "killed"
    killed = launch_run(config_file, run_dir, kill_at="drew-samples:1")
    _, err = killed.communicate(timeout=300)
    assert killed.returncode == -signal.SIGKILL, err
    manifest = json.loads((run_dir / MANIFEST_FILE).read_text())
    assert len(manifest["generations"]) == 1
    resumed = launch_run(config_file, run_dir)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert _outputs(run_dir) == _outputs(clean_run)


def _tiny_model(conditional: bool, prediction: str = "epsilon") -> torch.nn.Module:
    torch.manual_seed(0)
    section = DiffusionConfig(
        block_out_channels=(8, 16),
        norm_groups=8,
        train_timesteps=50,
        conditional=conditional,
        prediction=prediction,
    )
    return build_from_section(section, image_shape=(1, 16, 16), num_classes=10, lr=1e-3)


def _draw(model: torch.nn.Module, guidance: float) -> torch.Tensor:
    classes = torch.arange(6) % 10
    return model.sample(6, cpu_generator(5), steps=3, guidance=guidance, classes=classes)


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction"])
def test_guidance_changes_a_conditional_models_samples(prediction: str) -> None:
    model = _tiny_model(conditional=True, prediction=prediction)
    unbiased = _draw(model, 0.0)
    assert unbiased.dtype == torch.uint8 and unbiased.shape == (6, 1, 16, 16)
    assert torch.equal(unbiased, _draw(model, 0.0))  # the generator alone decides
    assert not torch.equal(unbiased, _draw(model, 3.0))


def test_guidance_is_refused_for_an_unconditional_model(write_config) -> None:
    changes = {"model": {**TINY_UNET, "conditional": False}, "sampling": {"guidance": 2.0}}
    with pytest.raises(ConfigError, match=r"sampling\.guidance' is 2\.0, but model\.conditional"):
        load_config(write_config(changes))
    load_config(write_config({**changes, "sampling": {"guidance": 0.0}}))  # unbiased: fine
