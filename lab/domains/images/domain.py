"""Image models: train a Lightning model, sample uint8 images, measure them with the judge.

The domain talks to a model only through `build_model`, `Trainer.fit` (lab/training/) and
`sample(n, generator, batch_size, temperature, truncation)`, so it never knows which kind of
model it runs. A model whose training can fail sets `diverged` to a sentence, and so does
sampling when the model's images hold NaN or infinite values; the generation records it in
metrics.csv (`diverged` 1) and the manifest, and the loop goes on or stops as
`train.on_divergence` says. Each generation seeds itself from (seed, generation), which makes
a redone generation draw the same numbers as the first attempt did.
"""

from __future__ import annotations

import dataclasses
import io
import math
import time
from collections.abc import Callable

import torch

from lab import regimes
from lab.config import ExperimentConfig
from lab.data.images import RealData
from lab.data.load import load_real_data
from lab.device import DevicePlan, plan_device
from lab.domains.images.grids import grid_png
from lab.domains.images.judging import load_or_train_judge
from lab.domains.images.measure import LATER_COLUMNS, check_metric_sizes, heldout_metrics
from lab.domains.protocol import Block
from lab.errors import ConfigError, DataError
from lab.memory import refuse_if_too_large
from lab.metrics.degenerate import FeatureSetError
from lab.rundir import faults
from lab.rundir.directory import FinishedGeneration, RunDirectory, generation_files
from lab.rundir.storage import encode_npz, load_npz
from lab.training.generation import train_generation
from lab.training.logs import generation_loggers
from lab.training.seeding import cpu_generator, derive_seed
from models.registry import build_model

FLOAT32_BYTES = 4


class ImageDomain:
    """One generation per block: its samples, grid, checkpoint and provenance are its files."""

    setup = "setup (data and judge)"

    def __init__(self, config: ExperimentConfig) -> None:
        if config.train is None:  # ExperimentConfig requires it for image models
            raise ValueError("image models need a train section")
        self.config = config

    def prepare(self, run: RunDirectory, echo: Callable[[str], None]) -> None:
        config = self.config
        train = config.train
        self.plan = plan_device(
            train.accelerator, train.precision, train.deterministic, train.compile
        )
        self.real = load_real_data(config.data)
        check_sizes(config, self.real)
        judge, accuracy = load_or_train_judge(config, self.real, self.plan, echo)
        run.record(
            "judge",
            {
                "heldout_accuracy": round(accuracy, 6),
                "labels": self.real.label_kind,
                "classes": list(self.real.class_names),
            },
        )
        echo(f"judge: {accuracy:.4f} accurate on the {self.real.name} held-out set")
        try:
            self.measure = heldout_metrics(config, self.real, judge, self.plan)
        except FeatureSetError as err:
            raise DataError(
                f"the {self.real.name} held-out set cannot be measured against: {err}."
            ) from None
        run.record("reference", self.measure.reference)
        if self.measure.coverage.report:
            run.record("real_labels", self.measure.coverage.report)

    def block_end(self, generation: int) -> int:
        return generation + 1

    def run_block(self, run: RunDirectory, first: int, end: int) -> Block:
        config, real, plan, generation = self.config, self.real, self.plan, first
        began = time.perf_counter()
        training = regimes.training_set(
            config, generation, real.train.images, lambda k: _stored_samples(run, k)
        )
        loggers = generation_loggers(run.path, generation, config.logging)
        model, steps = train_generation(
            config, generation, training.items, len(real.train), plan, loggers
        )
        faults.reached(f"trained:{generation}")
        drawn, grid = draw_samples(config, generation, model, plan)
        diverged: str | None = getattr(model, "diverged", None)  # in training or sampling
        faults.reached(f"sampled:{generation}")
        try:
            metrics, labels = self.measure(drawn, trained_on=training.items)
        except FeatureSetError as err:
            raise DataError(
                f"generation {generation}'s samples cannot be measured: {err}."
            ) from None
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
        later = {name: metrics.pop(name) for name in LATER_COLUMNS if name in metrics}
        row = {
            "generation": generation,
            **metrics,
            "synthetic_fraction": training.synthetic_fraction,
            "train_steps": steps,
            "diverged": int(diverged is not None),
            **later,
        }
        seconds = time.perf_counter() - began
        details: dict[str, object] = {"training_set": training.composition()}
        if diverged:
            details["diverged"] = diverged
        return Block([FinishedGeneration(generation, row, seconds, details)], outputs)


def _stored_samples(run: RunDirectory, generation: int) -> torch.Tensor:
    """A finished generation's samples, read back from its (hash-verified) npz file."""
    stored = load_npz(run.path / generation_files(generation)["samples"])
    return torch.from_numpy(stored["images"])


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
    real_needed = regimes.real_items_per_generation(config)
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
    check_memory(config, real)


def check_memory(config: ExperimentConfig, real: RealData) -> None:
    """Sizes whose tensors cannot fit in memory are refused before anything is allocated:
    the largest training set with a generation's samples beside it (uint8, as stored), and
    the model's float32 parameters (counted on torch's meta device, which allocates nothing)."""
    shape = tuple(real.train.images.shape[1:])
    image_bytes = math.prod(shape)
    samples = config.samples_per_generation
    if config.regime == "accumulate":
        largest = len(real.train) + (config.generations - 1) * samples
        growing = f", the training set growing by them over {config.generations} generations"
    else:
        largest, growing = max(len(real.train), samples), ""
    refuse_if_too_large(
        (largest + samples) * image_bytes,
        f"key 'samples_per_generation' is {samples}: a generation's samples and training set "
        f"({'x'.join(map(str, shape))} uint8 images{growing})",
        "lower it",
    )
    with torch.device("meta"):
        model = build_model(config.model, shape, config.train.lr)
    parameters = sum(p.numel() for p in model.parameters())
    sizes = [
        f"model.{f.name}"
        for f in dataclasses.fields(config.model)
        if isinstance(getattr(config.model, f.name), (int, tuple)) and f.name != "kind"
    ]
    refuse_if_too_large(
        parameters * FLOAT32_BYTES,
        f"the model (model.kind {config.model.kind!r}) has {parameters:,} parameters, which",
        f"make it smaller ({', '.join(sizes)})",
    )
