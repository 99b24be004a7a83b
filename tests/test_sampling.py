"""A model whose decoded images hold NaN or infinite values has diverged, whatever its losses
said: the generation is recorded as diverged, not quietly quantised into black and white."""

from __future__ import annotations

import csv
import json

import pytest
import torch
import yaml

from lab.cli import main
from lab.generators.build import build_from_section
from lab.rundir.directory import MANIFEST_FILE, METRICS_FILE
from lab.training.seeding import cpu_generator
from models.sections.vae import VAEConfig
from models.vae import VAE
from tests.conftest import TINY_EXPERIMENT

SPOILED = (float("nan"), float("inf"), float("-inf"))


def spoiled(decode):
    """`decode` with the first three pixels of every image NaN, +inf and -inf."""

    def decode_to_unit(self: VAE, z: torch.Tensor) -> torch.Tensor:
        images = decode(self, z).clone()
        images.view(len(images), -1)[:, :3] = torch.tensor(SPOILED)
        return images

    return decode_to_unit


def test_non_finite_pixels_mark_the_model_diverged(monkeypatch) -> None:
    model = build_from_section(
        VAEConfig(latent_dim=4, channels=(8,)), image_shape=(1, 28, 28), lr=1e-3
    )
    healthy = model.sample(6, cpu_generator(0), batch_size=4)
    assert model.diverged is None
    monkeypatch.setattr(VAE, "decode_to_unit", spoiled(VAE.decode_to_unit))
    images = model.sample(6, cpu_generator(0), batch_size=4)
    assert model.diverged == (
        "the model gave NaN or infinite values for 18 of 4704 sampled pixels "
        "(stored as 0 for NaN and -inf, 255 for +inf)"
    )
    flat, expected = images.view(6, -1), healthy.view(6, -1)
    assert flat[:, :3].tolist() == [[0, 255, 0]] * 6
    assert torch.equal(flat[:, 3:], expected[:, 3:])  # the finite pixels as before


@pytest.mark.slow
@pytest.mark.parametrize("on_divergence", ["continue", "stop"])
def test_a_run_records_non_finite_samples_as_divergence(
    on_divergence, tmp_path, cache_dir, monkeypatch, capsys
) -> None:
    experiment = {
        **TINY_EXPERIMENT,
        "generations": 2,
        "samples_per_generation": 200,
        "train": {**TINY_EXPERIMENT["train"], "max_steps": 3, "on_divergence": on_divergence},
        "cache_dir": str(cache_dir),
    }
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(experiment))
    monkeypatch.setattr(VAE, "decode_to_unit", spoiled(VAE.decode_to_unit))
    assert main(["run", str(config), "--run-dir", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "generation 0 diverged: the model gave NaN or infinite values for 600 of " in out
    with open(tmp_path / "run" / METRICS_FILE) as file:
        rows = list(csv.DictReader(file))
    generations = 2 if on_divergence == "continue" else 1
    assert [row["diverged"] for row in rows] == ["1"] * generations
    record = json.loads((tmp_path / "run" / MANIFEST_FILE).read_text())["generations"][0]
    assert record["diverged"].startswith("the model gave NaN or infinite values for 600 of ")
