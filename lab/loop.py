"""The generation loop: train, sample, measure, store; then train the next on the samples.

The loop talks to a model only through `build_model`, `Trainer.fit` (via lab.training) and
`sample(n, generator, batch_size)`, so it never knows which kind of model it runs. A model
whose training can fail sets `diverged` to a sentence; the loop records it in metrics.csv
(`diverged` 1) and the manifest, then goes on or stops as `train.on_divergence` says. Each
generation seeds itself from (seed, generation), which makes a redone generation draw the
same numbers as the first attempt did.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

import torch

from lab import regimes
from lab.config import ExperimentConfig
from lab.data import RealData, load_real_data
from lab.device import DevicePlan, plan_device
from lab.errors import ConfigError
from lab.grids import grid_png
from lab.judging import load_or_train_judge
from lab.metrics.suite import GenerationMetrics
from lab.runs import RunDirectory, generation_files
from lab.seeding import cpu_generator, derive_seed, seed_everything
from lab.storage import encode_npz, load_npz
from lab.training import fit
from models.registry import build_model

SUMMARY_COLUMNS = ("fid", "class_entropy", "classes_covered", "rare_attributes_kept")


def run_experiment(
    config: ExperimentConfig, run_dir: Path, echo: Callable[[str], None] = print
) -> RunDirectory:
    """Run (or resume) every generation of `config` in `run_dir`."""
    run = RunDirectory.open(run_dir, config.as_dict(), config.digest())
    start = len(run.generations)
    if start >= config.generations:
        echo(f"{run_dir}: all {config.generations} generations are complete; nothing to do.")
        return run
    stop = stopping_reason(run, config)
    if stop:
        echo(f"{run_dir}: {stop}; nothing to do.")
        return run
    if start:
        echo(f"{run_dir}: resuming at generation {start} of {config.generations}.")
    plan = plan_device(config.train.accelerator, config.train.precision, config.train.deterministic)
    real = load_real_data(config.data)
    check_sizes(config, real)
    judge, accuracy = load_or_train_judge(config, real, plan)
    run.record(
        "judge",
        {
            "heldout_accuracy": round(accuracy, 6),
            "labels": real.label_kind,
            "classes": list(real.class_names),
        },
    )
    echo(f"judge: {accuracy:.4f} accurate on the {real.name} held-out set")
    measure = GenerationMetrics(judge, real, config.metrics, plan)
    run.record("reference", measure.reference)
    if measure.coverage.report:
        run.record("real_labels", measure.coverage.report)
    samples: dict[int, torch.Tensor] = {}

    def samples_of(generation: int) -> torch.Tensor:
        if generation not in samples:
            stored = load_npz(run.path / generation_files(generation)["samples"])
            samples[generation] = torch.from_numpy(stored["images"])
        return samples[generation]

    for generation in range(start, config.generations):
        began = time.perf_counter()
        images = regimes.training_images(config.regime, generation, real.train, samples_of)
        model = train_generation(config, generation, images, plan)
        diverged: str | None = getattr(model, "diverged", None)
        drawn, grid = draw_samples(config, generation, model, plan)
        metrics, labels = measure(drawn)
        files = generation_files(generation)
        state = {name: tensor.cpu() for name, tensor in model.state_dict().items()}
        buffer = io.BytesIO()
        torch.save(state, buffer)
        arrays = {"images": drawn.numpy()}
        if labels is not None:
            arrays["labels"] = labels.numpy()
        outputs = {
            files["samples"]: encode_npz(arrays),
            files["grid"]: grid_png(grid, config.sampling.grid_rows),
            files["checkpoint"]: buffer.getvalue(),
        }
        row = {"generation": generation, "diverged": int(diverged is not None), **metrics}
        seconds = time.perf_counter() - began
        notes = {"diverged": diverged} if diverged else {}
        run.commit_generation(generation, outputs, row, seconds, notes)
        samples[generation] = drawn
        samples.pop(generation - 1, None)
        summary = ", ".join(
            f"{name} {metrics[name]:.4g}" for name in SUMMARY_COLUMNS if name in metrics
        )
        echo(f"generation {generation}/{config.generations - 1} done in {seconds:.1f}s: {summary}")
        if diverged:
            echo(f"generation {generation} diverged: {diverged}.")
            stop = stopping_reason(run, config)
            if stop:
                echo(f"{stop}.")
                return run
    return run


def stopping_reason(run: RunDirectory, config: ExperimentConfig) -> str | None:
    """Why the run must not go on: its last generation diverged and the config says stop."""
    last = run.generations[-1] if run.generations else {}
    if last.get("diverged") and config.train.on_divergence == "stop":
        return (
            f"stopped after generation {last['generation']}, whose training diverged "
            f"({last['diverged']}), as train.on_divergence is 'stop'"
        )
    return None


def train_generation(
    config: ExperimentConfig, generation: int, images: torch.Tensor, plan: DevicePlan
) -> torch.nn.Module:
    """A fresh model, seeded from (seed, generation), trained on `images`."""
    seed_everything(derive_seed(config.seed, "model", generation))
    model = build_model(config.model, tuple(images.shape[1:]), config.train.lr)
    fit(
        model,
        [images],
        plan=plan,
        batch_size=config.train.batch_size,
        seed=derive_seed(config.seed, "batches", generation),
        max_epochs=config.train.max_epochs,
        max_steps=config.train.max_steps,
        label=f"generation {generation}/{config.generations - 1}",
    )
    return model


def draw_samples(
    config: ExperimentConfig, generation: int, model: torch.nn.Module, plan: DevicePlan
) -> tuple[torch.Tensor, torch.Tensor]:
    """This generation's samples, and its grid from noise that is the same every generation
    (so one grid cell can be followed across generations)."""
    sampling = config.sampling
    with plan.inference():
        drawn = model.sample(
            config.samples_per_generation,
            cpu_generator(derive_seed(config.seed, "samples", generation)),
            sampling.batch_size,
        )
        grid = model.sample(
            sampling.grid_rows**2,
            cpu_generator(derive_seed(config.seed, "grid")),
            sampling.batch_size,
        )
    return drawn, grid


def check_sizes(config: ExperimentConfig, real: RealData) -> None:
    """Batch sizes that the data cannot fill are config errors, caught before any training."""
    limits = {
        "train.batch_size": (
            config.train.batch_size,
            min(len(real.train), config.samples_per_generation),
        ),
        "judge.batch_size": (config.judge.batch_size, len(real.train)),
    }
    for key, (value, available) in limits.items():
        if value > available:
            raise ConfigError(
                f"key '{key}' is {value}, more than the {available} images a generation of "
                f"{real.name} trains on (samples_per_generation {config.samples_per_generation}, "
                f"{len(real.train)} real training images); lower it."
            )


def metrics_table(run: RunDirectory, columns: tuple[str, ...] = SUMMARY_COLUMNS) -> str:
    """A small fixed-width table of the headline metrics per generation (those it has)."""
    present = {name for record in run.generations for name in record["metrics"]}
    header = ("generation", *(name for name in columns if name in present))
    lines = ["  ".join(f"{name:>15}" for name in header)]
    for record in run.generations:
        values = [record["metrics"].get(name) for name in header]
        lines.append("  ".join(_cell(value) for value in values))
    return "\n".join(lines)


def _cell(value: float | int | None) -> str:
    if value is None:
        return f"{'':>15}"
    if isinstance(value, float):
        return f"{value:>15.4f}"
    return f"{value:>15}"
