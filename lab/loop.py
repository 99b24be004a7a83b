"""The generation loop: train, sample, measure, store; then train the next on the samples.

The loop talks to a model only through `build_model`, `Trainer.fit` (via lab.training) and
`sample(n, generator, batch_size, temperature, truncation)`, so it never knows which kind of
model it runs. A model whose training can fail sets `diverged` to a sentence; the loop records
it in metrics.csv (`diverged` 1) and the manifest, then goes on or stops as
`train.on_divergence` says. Each generation seeds itself from (seed, generation), which makes
a redone generation draw the same numbers as the first attempt did.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from lightning.pytorch.loggers import Logger

from lab import faults, regimes
from lab.config import OBSERVER_SECTIONS, ExperimentConfig
from lab.data import RealData, load_real_data
from lab.device import DevicePlan, plan_device
from lab.errors import ConfigError
from lab.grids import grid_png
from lab.judging import load_or_train_judge
from lab.metrics.suite import GenerationMetrics, check_metric_sizes
from lab.runs import RunDirectory, generation_files
from lab.seeding import cpu_generator, derive_seed, seed_everything
from lab.storage import encode_npz, load_npz
from lab.training import fit
from lab.training_logs import generation_loggers
from models.registry import build_model

SUMMARY_COLUMNS = (
    "fid",
    "class_entropy",
    "classes_covered",
    "rare_attributes_kept",
    "precision",
    "recall",
    "rare_class_recall",
)


def run_experiment(
    config: ExperimentConfig, run_dir: Path, echo: Callable[[str], None] = print
) -> RunDirectory:
    """Run (or resume) every generation of `config` in `run_dir`, holding its lock throughout.

    Whatever stops the run (a user error, a bug, Ctrl-C) is recorded in the manifest for
    `collapse-lab status` before it propagates; finished generations are never touched.
    """
    opened = RunDirectory.open(run_dir, config.as_dict(), config.digest(), OBSERVER_SECTIONS)
    with opened as run:
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
        during = "setup (data and judge)"
        try:
            measure, real, plan = _prepare(config, run, echo)
            for generation in range(start, config.generations):
                during = f"generation {generation}"
                _run_generation(config, generation, run, real, plan, measure, echo)
                stop = stopping_reason(run, config)
                if stop:
                    echo(f"{stop}.")
                    break
        except BaseException as error:
            run.record_failure(during, error)
            raise
        return run


def _prepare(
    config: ExperimentConfig, run: RunDirectory, echo: Callable[[str], None]
) -> tuple[GenerationMetrics, RealData, DevicePlan]:
    train = config.train
    plan = plan_device(train.accelerator, train.precision, train.deterministic, train.compile)
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
    measure = GenerationMetrics(judge, real, config, plan)
    run.record("reference", measure.reference)
    if measure.coverage.report:
        run.record("real_labels", measure.coverage.report)
    return measure, real, plan


def _run_generation(
    config: ExperimentConfig,
    generation: int,
    run: RunDirectory,
    real: RealData,
    plan: DevicePlan,
    measure: GenerationMetrics,
    echo: Callable[[str], None],
) -> None:
    began = time.perf_counter()
    run.begin_generation(generation)
    training = regimes.training_set(
        config, generation, real.train, lambda k: _stored_samples(run, k)
    )
    loggers = generation_loggers(run.path, generation, config.logging)
    model, steps = train_generation(
        config, generation, training.images, len(real.train), plan, loggers
    )
    diverged: str | None = getattr(model, "diverged", None)
    faults.reached(f"trained:{generation}")
    drawn, grid = draw_samples(config, generation, model, plan)
    faults.reached(f"sampled:{generation}")
    metrics, labels = measure(drawn)
    faults.reached(f"measured:{generation}")
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
        files["provenance"]: training.provenance_csv(),
    }
    row = {
        "generation": generation,
        **metrics,
        "synthetic_fraction": training.synthetic_fraction,
        "train_steps": steps,
        "diverged": int(diverged is not None),
    }
    seconds = time.perf_counter() - began
    details: dict[str, object] = {"training_set": training.composition()}
    if diverged:
        details["diverged"] = diverged
    run.commit_generation(generation, outputs, row, seconds, details)
    summary = ", ".join(
        f"{name} {metrics[name]:.4g}" for name in SUMMARY_COLUMNS if name in metrics
    )
    echo(f"generation {generation}/{config.generations - 1} done in {seconds:.1f}s: {summary}")
    if diverged:
        echo(f"generation {generation} diverged: {diverged}.")


def stopping_reason(run: RunDirectory, config: ExperimentConfig) -> str | None:
    """Why the run must not go on: its last generation diverged and the config says stop."""
    last = run.generations[-1] if run.generations else {}
    if last.get("diverged") and config.train.on_divergence == "stop":
        return (
            f"stopped after generation {last['generation']}, whose training diverged "
            f"({last['diverged']}), as train.on_divergence is 'stop'"
        )
    return None


def _stored_samples(run: RunDirectory, generation: int) -> torch.Tensor:
    """A finished generation's samples, read back from its (hash-verified) npz file."""
    stored = load_npz(run.path / generation_files(generation)["samples"])
    return torch.from_numpy(stored["images"])


def train_generation(
    config: ExperimentConfig,
    generation: int,
    images: torch.Tensor,
    real_size: int,
    plan: DevicePlan,
    loggers: Sequence[Logger] = (),
) -> tuple[torch.nn.Module, int]:
    """A fresh model, seeded from (seed, generation), trained on `images`; and its step count."""
    seed_everything(derive_seed(config.seed, "model", generation))
    model = build_model(config.model, tuple(images.shape[1:]), config.train.lr)
    max_epochs, max_steps = training_budget(config, real_size)
    steps = fit(
        model,
        [images],
        plan=plan,
        batch_size=config.train.batch_size,
        seed=derive_seed(config.seed, "batches", generation),
        max_epochs=max_epochs,
        max_steps=max_steps,
        label=f"generation {generation}/{config.generations - 1}",
        loggers=loggers,
        log_every_n_steps=config.logging.every_n_steps,
    )
    return model, steps


def training_budget(config: ExperimentConfig, real_size: int) -> tuple[int | None, int | None]:
    """(max_epochs, max_steps) for every generation: with `train.fixed_budget`, epochs count
    passes over the real training set and become a step budget shared by all generations."""
    train = config.train
    if train.max_steps is not None:
        return None, train.max_steps
    if train.fixed_budget:
        return None, train.max_epochs * (real_size // train.batch_size)
    return train.max_epochs, None


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
            sampling.temperature,
            sampling.truncation,
        )
        grid = model.sample(
            sampling.grid_rows**2,
            cpu_generator(derive_seed(config.seed, "grid")),
            sampling.batch_size,
            sampling.temperature,
            sampling.truncation,
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
    real_needed = regimes.real_images_per_generation(config)
    if real_needed > len(real.train):
        raise ConfigError(
            f"regime_options asks for {real_needed} real images per generation but {real.name} "
            f"has {len(real.train)} training images; lower the fraction or samples_per_generation."
        )
    for key, (value, available) in limits.items():
        if value > available:
            raise ConfigError(
                f"key '{key}' is {value}, more than the {available} images a generation of "
                f"{real.name} trains on (samples_per_generation {config.samples_per_generation}, "
                f"{len(real.train)} real training images); lower it."
            )
    check_metric_sizes(config, len(real.heldout))


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
