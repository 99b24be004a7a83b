"""Image generations: a model that draws images, measured by the judge against real data.

The steps of a generation are the engine's (lab/training/trained.py); this domain supplies
the real images, the judge and the metrics, how a generation draws (its samples, and a grid
from noise that is the same every generation, so one cell can be followed across them) and
its files. The model is reached only through its `sample(n, generator, ...)`, so the domain
never knows which model it runs (docs/models.md). A model whose training can fail sets
`diverged` to a sentence, and so does sampling when its images hold NaN or infinite values;
the generation records it in metrics.csv (`diverged` 1) and the manifest.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from typing import Any

import torch

from lab import regimes
from lab.curation.files import COLUMNS as CURATION_COLUMNS
from lab.curation.run import Draws, Reference
from lab.curation.section import NEEDS_CONFIDENCE, NEEDS_LABELS
from lab.data.images import RealData
from lab.device import DevicePlan
from lab.domains.images.files import image_files
from lab.domains.images.grids import grid_png
from lab.domains.images.judging import load_or_train_judge
from lab.domains.images.labels import ClassCoverage
from lab.domains.images.measure import check_feature_space, check_metric_sizes, heldout_metrics
from lab.domains.images.predictions import predict_confidence
from lab.domains.images.settings import IMAGE_SHAPE, NUM_CLASSES, ImageExperiment
from lab.errors import ConfigError, DataError
from lab.generators.build import call_sample, check_drawn, class_conditional
from lab.metrics.degenerate import FeatureSetError
from lab.metrics.memorisation import COLUMN as COPY_COLUMN
from lab.metrics.tails import COLUMNS as TAIL_COLUMNS
from lab.rundir import faults
from lab.rundir.directory import RunDirectory
from lab.rundir.storage import decode_npz, encode_npz
from lab.training.seeding import cpu_generator, derive_seed
from lab.training.trained import (
    DIVERGED,
    GENERATION,
    MEASURED,
    STEPS,
    SYNTHETIC,
    Measured,
    TrainedDomain,
)

# metrics.csv's columns: the tail, Vendi and copy columns came after the loop's own and a
# new column only ever goes at the end.
COLUMNS = (
    GENERATION,
    MEASURED,
    SYNTHETIC,
    STEPS,
    DIVERGED,
    *TAIL_COLUMNS,
    "vendi",
    COPY_COLUMN,
    *CURATION_COLUMNS,
)


# The samples file's array of the class each sample was drawn for (a class-conditional
# model's), which later generations train on; "labels" holds the judge's.
CLASSES = "classes"


@dataclasses.dataclass(frozen=True)
class Drawn:
    """A generation's samples, and its grid from the same noise every generation; for a
    class-conditional model, the class each sample was drawn for. With a `curate:` section,
    `extra` holds the draws after the first samples_per_generation (and their classes)."""

    samples: torch.Tensor
    grid: torch.Tensor
    classes: torch.Tensor | None = None
    extra: torch.Tensor | None = None
    extra_classes: torch.Tensor | None = None

    @property
    def all_samples(self) -> torch.Tensor:
        """Every draw in draw order: the samples, then the extra draws."""
        return self.samples if self.extra is None else torch.cat([self.samples, self.extra])

    @property
    def all_classes(self) -> torch.Tensor | None:
        if self.classes is None or self.extra_classes is None:
            return self.classes
        return torch.cat([self.classes, self.extra_classes])


class ImageDomain(TrainedDomain):
    """One generation per block: its samples, grid, checkpoint and provenance are its files."""

    setup = "setup (data and judge)"
    COLUMNS = COLUMNS
    ITEMS = "images"
    config: ImageExperiment

    def load_real(self) -> None:
        self.real = self.config.data.load()
        curate = self.config.curate
        # The judge labels, and is confident of, draws only of data with classes.
        judged = (*NEEDS_LABELS, *NEEDS_CONFIDENCE)
        needs_labels = [kind for kind in curate.kinds if kind in judged] if curate else []
        if needs_labels and not self.num_classes:
            raise ConfigError(
                f"key 'curate.kind' is {needs_labels[0]!r}, which scores draws by class labels, "
                f"but {self.real.name} has no classes (its labels are {self.real.label_kind}); "
                "use dedupe or feature_density."
            )
        check_sizes(self.config, self.real)

    def prepare_measures(self, run: RunDirectory, echo: Callable[[str], None]) -> None:
        config = self.config
        check_feature_space(config)
        judge, accuracy = load_or_train_judge(config, self.real, self.plan, echo)
        self.judge = judge
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
            self.metrics = heldout_metrics(config, self.real, judge, self.plan)
        except FeatureSetError as err:
            raise DataError(
                f"the {self.real.name} held-out set cannot be measured against: {err}."
            ) from None
        run.record("reference", self.metrics.reference)
        if self.metrics.coverage.report:
            run.record("real_labels", self.metrics.coverage.report)

    def real_fingerprint(self) -> tuple[str, str]:
        data = self.config.data
        where = f" in '{data.root}'" if hasattr(data, "root") else ""
        digest = hashlib.sha256()
        for images in (self.real.train, self.real.heldout):
            for tensor in (images.images, images.labels):
                if tensor is not None:
                    digest.update(tensor.contiguous().numpy().tobytes())
        return f"the real images of data.name {data.name!r}{where}", digest.hexdigest()

    @property
    def real_items(self) -> torch.Tensor:
        return self.real.train.images

    @property
    def real_classes(self) -> torch.Tensor | None:
        return self.real.train.labels if self.num_classes else None

    @property
    def num_classes(self) -> int:
        """The data's classes (one label per image); 0 for attributes or no labels."""
        return self.real.num_classes if self.real.label_kind == "classes" else 0

    def data_inputs(self) -> dict[str, Any]:
        return {IMAGE_SHAPE: self.image_shape, NUM_CLASSES: self.num_classes}

    def files(self, generation: int) -> dict[str, str]:
        return image_files(generation)

    def samples_of(self, stored: bytes) -> torch.Tensor:
        return torch.from_numpy(decode_npz(stored)["images"])

    def classes_of(self, stored: bytes) -> torch.Tensor | None:
        arrays = decode_npz(stored)
        return torch.from_numpy(arrays[CLASSES]) if CLASSES in arrays else None

    def curation_draws(self, drawn: Drawn) -> Draws:
        items = drawn.all_samples
        batch = self.config.metrics.batch_size
        features = self.metrics.space.extract(items, self.plan, batch).cpu()
        if not self.num_classes:
            return Draws(items, features)
        confidence, labels = predict_confidence(self.judge, items, self.plan, batch)
        return Draws(items, features, labels, confidence)

    def curation_reference(self) -> Reference:
        coverage = self.metrics.coverage
        shares = coverage.real_shares if isinstance(coverage, ClassCoverage) else None
        return Reference(self.metrics.train_features.cpu(), shares)

    def curated_file(self, drawn: Drawn, draws: Draws, kept: torch.Tensor) -> bytes:
        arrays = {"images": draws.items[kept].numpy()}
        if draws.labels is not None:
            arrays["labels"] = draws.labels[kept].numpy()
        classes = drawn.all_classes
        if classes is not None:
            arrays[CLASSES] = classes[kept].numpy()
        return encode_npz(arrays)

    def probe(self, model: torch.nn.Module, count: int, generator: torch.Generator) -> None:
        sample_images(self.config, model, count, generator, self.image_shape, self.num_classes)

    def draw(self, model: torch.nn.Module, generation: int) -> Drawn:
        return draw_images(
            self.config, generation, model, self.plan, self.image_shape, self.num_classes
        )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.real.train.images.shape[1:])

    def measure(
        self,
        run: RunDirectory,
        generation: int,
        model: torch.nn.Module,
        drawn: Drawn,
        training: regimes.TrainingSet,
    ) -> Measured:
        try:
            metrics, labels = self.metrics(drawn.samples, trained_on=training.items)
        except FeatureSetError as err:
            raise DataError(
                f"generation {generation}'s samples cannot be measured: {err}."
            ) from None
        arrays = {"images": drawn.samples.numpy()}
        if labels is not None:
            arrays["labels"] = labels.numpy()
        if drawn.classes is not None:
            arrays[CLASSES] = drawn.classes.numpy()
        files = {
            "samples": encode_npz(arrays),
            "grid": grid_png(drawn.grid, self.config.sampling.grid_rows),
        }
        return Measured(metrics, files)


def draw_images(
    config: ImageExperiment,
    generation: int,
    model: torch.nn.Module,
    plan: DevicePlan,
    image_shape: tuple[int, int, int],
    num_classes: int = 0,
) -> Drawn:
    """A generation's samples, and its grid from noise that is the same every generation
    (with the class each sample was drawn for, for a class-conditional model)."""
    generator = cpu_generator(derive_seed(config.seed, "samples", generation))
    count = config.samples_per_generation
    extra = extra_classes = None
    with plan.inference():
        samples, classes = sample_images(config, model, count, generator, image_shape, num_classes)
        if config.curate is not None and config.curate.oversample > 1:
            # After the first draws, from the same stream: those stay what a run without
            # curation draws, and the metrics measure them.
            extra, extra_classes = sample_images(
                config,
                model,
                (config.curate.oversample - 1) * count,
                generator,
                image_shape,
                num_classes,
            )
        faults.reached(f"drew-samples:{generation}")
        grid, _ = sample_images(
            config,
            model,
            config.sampling.grid_rows**2,
            cpu_generator(derive_seed(config.seed, "grid")),
            image_shape,
            num_classes,
        )
    return Drawn(samples, grid, classes, extra, extra_classes)


def sample_images(
    config: ImageExperiment,
    model: torch.nn.Module,
    n: int,
    generator: torch.Generator,
    image_shape: tuple[int, int, int],
    num_classes: int = 0,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """`n` images from `model.sample`, with the sampling knobs it declares; anything but
    uint8 [n, C, H, W] of the data's shape is a ModelContractError. A class-conditional model
    (docs/models.md) draws each image for a class drawn uniformly from `generator` first;
    those classes come back beside the images (None for other models)."""
    sampling = config.sampling
    knobs = {
        "batch_size": sampling.batch_size,
        "temperature": sampling.temperature,
        "truncation": sampling.truncation,
        "guidance": sampling.guidance,
        "steps": sampling.steps,
    }
    classes = None
    if class_conditional(model):
        if num_classes < 1:
            raise DataError(
                f"{type(model).__qualname__} is class-conditional, but the data has no class "
                "labels to draw its samples for; use data with classes, or an unconditional model"
            )
        classes = torch.randint(num_classes, (n,), generator=generator)
        knobs["classes"] = classes
    drawn = call_sample(model, (n, generator), knobs)
    call = f"sample({n}, generator)"
    images = check_drawn(model, drawn, (n, *image_shape), call, "images of the data's shape")
    return images, classes


def check_sizes(config: ImageExperiment, real: RealData) -> None:
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
