"""The engine's path for one generation of a model trained with Lightning, for every domain.

A domain whose generations train a LightningModule (images, text) subclasses
`TrainedDomain` and supplies only what differs: its real data, the keywords its models are
built with, how a generation draws, what is measured and which files it writes. The steps
and their order are the engine's, the same for every such domain:

  1. the regime builds the training set (lab/regimes.py) from real items and the stored
     samples of earlier generations, each read back through its sha256;
  2. a fresh model, seeded from (seed, generation), trains on it;
  3. it draws the generation's samples (the domain's `draw`, through the model's `sample`);
  4. they are measured against the real data;
  4b. with a `curate:` section, a curator keeps samples_per_generation of the oversampled
     draws (lab/curation/), and the kept ones are what later generations train on;
  5. the files (the domain's, the checkpoint that rebuilds the model, the provenance of
     every training item) and the metrics.csv row, in the domain's column order, make the
     Block the loop commits.
Fault points (lab/rundir/faults.py) mark each step for the tests that kill a run there.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from lab import regimes
from lab.curation.contract import build_curators
from lab.curation.files import CURATED, CURATION, curation_files
from lab.curation.run import Draws, Reference, curate, kept_metrics
from lab.curation.section import drawn_per_kept
from lab.device import DevicePlan, plan_device
from lab.domains.protocol import Block
from lab.errors import ConfigError, DataError
from lab.experiment import (
    FROM_PRETRAINED,
    LEARNING_RATE,
    PRETRAINED,
    PREVIOUS,
    SCRATCH,
    ExperimentConfig,
)
from lab.generators.build import build_model, checkpoint_bytes, read_checkpoint
from lab.generators.contract import check_model, declared_keywords, import_class
from lab.generators.recipe import recipe_of
from lab.memory import refuse_if_too_large
from lab.rundir import faults
from lab.rundir.directory import MANIFEST_FILE, FinishedGeneration, RunDirectory
from lab.rundir.results import DIVERGED_COLUMN, GENERATION_COLUMN
from lab.training.generation import train_generation
from lab.training.logs import generation_loggers
from lab.training.seeding import cpu_generator, derive_seed

# In a column order: every measured column the order does not name, in the order measured.
MEASURED = "*"
# The engine's own metrics.csv columns; a domain's COLUMNS says which it shows, and where.
GENERATION, SYNTHETIC, STEPS, DIVERGED = (
    GENERATION_COLUMN,
    "synthetic_fraction",
    "train_steps",
    DIVERGED_COLUMN,
)
ENGINE_COLUMNS = (GENERATION, SYNTHETIC, STEPS, DIVERGED)
# The roles of a generation's files that the engine reads or writes itself (a domain's
# `files` names them all): what later generations train on, the model, the training set.
SAMPLES, CHECKPOINT, PROVENANCE = "samples", "checkpoint", "provenance"
# The manifest's record of the real data a run was made with, checked on every resume.
REAL_DATA, SHA256 = "real_data", "sha256"
FLOAT32_BYTES = 4
# The regime whose training set grows every generation (lab/regimes.py).
ACCUMULATE = "accumulate"
# Items an untrained model draws before anything is bound, to check what `sample` returns.
PROBE_ITEMS = 2
PROBE_SEED = 0


@dataclass(frozen=True)
class Measured:
    """A generation's metrics (name -> value, None for an empty cell) and the domain's files
    of it (role -> bytes)."""

    metrics: Mapping[str, float | int | None]
    files: Mapping[str, bytes]
    # Facts for the generation's manifest record, besides its training set.
    details: Mapping[str, Any] = field(default_factory=dict)
    # Why the measures say the generation failed (e.g. a NaN perplexity), when the model
    # did not say so itself.
    diverged: str | None = None


class TrainedDomain(ABC):
    """A domain whose every generation trains the config's model: the engine's steps, the
    domain's methods below."""

    # What `prepare` does, for the failure record when it fails.
    setup: ClassVar[str]
    # metrics.csv's columns in order; MEASURED stands for the measured columns not named.
    COLUMNS: ClassVar[tuple[str, ...]]
    # What one item of the data is, in words ("images"), for the messages.
    ITEMS: ClassVar[str]

    def __init__(self, config: ExperimentConfig) -> None:
        if config.train is None:  # the domain's experiment class requires it
            raise ValueError("models trained with Lightning need a train section")
        self.config = config
        self.recipe = recipe_of(config.model)
        self.plan: DevicePlan

    # What a domain supplies.

    @abstractmethod
    def load_real(self) -> None:
        """Load the real data and check the config's sizes against it."""

    @abstractmethod
    def real_fingerprint(self) -> tuple[str, str]:
        """(the real data in words, naming its files; the sha256 of what was loaded)."""

    @abstractmethod
    def prepare_measures(self, run: RunDirectory, echo: Callable[[str], None]) -> None:
        """Set up what measures every generation against the real data (a judge, the real
        features); record run-level facts."""

    @property
    @abstractmethod
    def real_items(self) -> torch.Tensor:
        """Generation 0's training set: one item per row."""

    @property
    def real_classes(self) -> torch.Tensor | None:
        """The class of each real item (int64), which a class-conditional model trains on;
        None for data without classes."""
        return None

    def classes_of(self, stored: bytes) -> torch.Tensor | None:
        """The class each item of a generation's samples file was drawn for (a
        class-conditional model's); None when it holds none."""
        return None

    @abstractmethod
    def data_inputs(self) -> dict[str, Any]:
        """The keywords the data gives a model's constructor (e.g. image_shape)."""

    @abstractmethod
    def files(self, generation: int) -> dict[str, str]:
        """Role -> path (relative to the run) of a generation's files: the domain's own roles,
        and SAMPLES, CHECKPOINT and PROVENANCE."""

    @abstractmethod
    def samples_of(self, stored: bytes) -> torch.Tensor:
        """The items a generation's samples file holds (what later generations train on)."""

    @abstractmethod
    def probe(self, model: torch.nn.Module, count: int, generator: torch.Generator) -> None:
        """Draw `count` items from an untrained model, checking what `sample` returns."""

    @abstractmethod
    def draw(self, model: torch.nn.Module, generation: int) -> Any:
        """The generation's draws (its samples, and whatever else the domain shows)."""

    @abstractmethod
    def measure(
        self,
        run: RunDirectory,
        generation: int,
        model: torch.nn.Module,
        drawn: Any,
        training: regimes.TrainingSet,
    ) -> Measured:
        """The generation's metrics and files, from its model and draws."""

    # What a domain supplies for a `curate:` section (lab/curation/).

    def curation_draws(self, drawn: Any) -> Draws:
        """All of a generation's draws (the first samples_per_generation, then the extra
        ones) and what curators score them by."""
        raise NotImplementedError(f"{type(self).__name__} does not curate")

    def curation_reference(self) -> Reference:
        """The real data curators compare draws with."""
        raise NotImplementedError(f"{type(self).__name__} does not curate")

    def curated_file(self, drawn: Any, draws: Draws, kept: torch.Tensor) -> bytes:
        """The kept draws (indices into all the draws) as a samples file of the domain."""
        raise NotImplementedError(f"{type(self).__name__} does not curate")

    # The engine's steps.

    def prepare(self, run: RunDirectory, echo: Callable[[str], None]) -> None:
        train = self.config.train
        self.plan = plan_device(
            train.accelerator, train.precision, train.deterministic, train.compile
        )
        self.load_real()
        problem = regimes.size_problem(self.config, len(self.real_items), self.ITEMS)
        if problem:
            raise ConfigError(f"{problem}.")
        self._check_real_unchanged(run)
        self._check_memory()
        check_model(self.config)
        if self.config.curate is not None:
            self.curators = build_curators(self.config.curate)
        with torch.random.fork_rng():  # the probe leaves every later random draw unchanged
            model = build_model(self.recipe, self.model_inputs())
            self.probe(model, PROBE_ITEMS, cpu_generator(PROBE_SEED))
        self.prepare_measures(run, echo)

    def _check_real_unchanged(self, run: RunDirectory) -> None:
        """A run's generations are measured against, and may train on, one real data set:
        data that changed under finished generations is refused, never mixed in."""
        source, digest = self.real_fingerprint()
        recorded = run.manifest.get(REAL_DATA)
        was = recorded.get(SHA256) if isinstance(recorded, Mapping) else None
        if run.generations and was is not None and was != digest:
            raise DataError(
                f"the real data changed since this run's generations were made: {source} has "
                f"sha256 {digest} now, where the run's {MANIFEST_FILE} records {was}; put "
                "back the data the run was made with, or start the experiment in a new --run-dir."
            )
        run.record(REAL_DATA, {"source": source, SHA256: digest})

    def _check_memory(self) -> None:
        """Sizes whose tensors cannot fit in memory are refused before anything is allocated:
        the largest training set with a generation's samples beside it (uint8, as stored),
        and the model's float32 parameters (counted on torch's meta device, which allocates
        nothing; a model from outside the lab that cannot be built there is not counted)."""
        config, shape = self.config, tuple(self.real_items.shape[1:])
        real, samples = len(self.real_items), config.samples_per_generation
        item_bytes = math.prod(shape) * self.real_items.element_size()
        largest = regimes.largest_training_set(config, real)
        growing = ""
        if config.regime == ACCUMULATE:
            growing = f", the training set growing by them over {config.generations} generations"
        refuse_if_too_large(
            (largest + samples * drawn_per_kept(config.curate)) * item_bytes,
            f"key 'samples_per_generation' is {samples}: a generation's samples and training "
            f"set ({'x'.join(map(str, shape))} uint8 {self.ITEMS}{growing})",
            "lower it",
        )
        try:
            with torch.device("meta"):
                model = build_model(self.recipe, self.model_inputs())
        except Exception:  # a model from outside the lab may need real tensors to be built
            if not self.recipe.outside:
                raise
            return
        parameters = sum(p.numel() for p in model.parameters())
        sizes = [
            self.recipe.argument_key(name)
            for name, value in self.recipe.init_args.items()
            if isinstance(value, (int, tuple, list)) and not isinstance(value, bool)
        ]
        refuse_if_too_large(
            parameters * FLOAT32_BYTES,
            f"the model (model.{config.model_name}) has {parameters:,} parameters, which",
            f"make it smaller ({', '.join(sizes)})",
        )

    def model_inputs(self) -> dict[str, Any]:
        """What the lab passes a model's constructor, where it declares them."""
        return {
            LEARNING_RATE: self.config.train.lr,
            FROM_PRETRAINED: self.init_from() != SCRATCH,
            **self.data_inputs(),
        }

    def init_from(self) -> str:
        """Where generations start: train.init_from, or when it is unset, pretrained for a
        model whose constructor takes `from_pretrained` and scratch for any other."""
        chosen = self.config.train.init_from
        if chosen is not None:
            return chosen
        declared = declared_keywords(import_class(self.recipe.class_path).__init__)
        return PRETRAINED if FROM_PRETRAINED in declared else SCRATCH

    def block_end(self, generation: int) -> int:
        return generation + 1

    def _starting_weights(
        self, run: RunDirectory, generation: int
    ) -> dict[str, torch.Tensor] | None:
        """Generation g-1's trained weights (read through their sha256) when the config says
        each generation fine-tunes the previous one; None: the weights the model is built
        with (fresh, or pretrained)."""
        if self.init_from() != PREVIOUS or generation == 0:
            return None
        relative = self.files(generation - 1)[CHECKPOINT]
        return read_checkpoint(run.read_generation_file(generation - 1, relative)).state_dict

    def generation_files(self, generation: int) -> dict[str, str]:
        """Role -> path of every file a generation writes: the domain's, and with a
        `curate:` section the kept items and their provenance."""
        curated = curation_files(generation) if self.config.curate is not None else {}
        return {**self.files(generation), **curated}

    def stored_samples(self, run: RunDirectory, generation: int) -> regimes.Items:
        """What a finished generation offers later ones (its samples, or with curation the
        kept ones) and the classes they were drawn for (if any), read back through their
        sha256."""
        role = CURATED if self.config.curate is not None else SAMPLES
        relative = self.generation_files(generation)[role]
        stored = run.read_generation_file(generation, relative)
        return regimes.Items(self.samples_of(stored), self.classes_of(stored))

    def run_block(self, run: RunDirectory, first: int, end: int) -> Block:
        config, generation = self.config, first
        began = time.perf_counter()
        training = regimes.training_set(
            config,
            generation,
            regimes.Items(self.real_items, self.real_classes),
            lambda k: self.stored_samples(run, k),
        )
        inputs = self.model_inputs()
        loggers = generation_loggers(run.path, generation, config.logging)
        model, steps = train_generation(
            config,
            generation,
            training.items,
            len(self.real_items),
            self.plan,
            inputs,
            loggers,
            self._starting_weights(run, generation),
            training.classes,
        )
        faults.reached(f"trained:{generation}")
        drawn = self.draw(model, generation)
        faults.reached(f"sampled:{generation}")
        measured = self.measure(run, generation, model, drawn, training)
        faults.reached(f"measured:{generation}")
        # Said by the model (in training or sampling), else by the measures.
        diverged: str | None = getattr(model, "diverged", None) or measured.diverged
        layout = self.generation_files(generation)
        files, metrics = dict(measured.files), dict(measured.metrics)
        if config.curate is not None:
            curated_files, curated_metrics = self._curate(generation, drawn)
            files.update(curated_files)
            metrics.update(curated_metrics)
        outputs = {layout[role]: data for role, data in files.items()}
        outputs[layout[CHECKPOINT]] = checkpoint_bytes(model, self.recipe, inputs)
        outputs[layout[PROVENANCE]] = training.provenance_csv()
        values = {
            GENERATION: generation,
            **metrics,
            SYNTHETIC: training.synthetic_fraction,
            STEPS: steps,
            DIVERGED: int(diverged is not None),
        }
        row = in_column_order(self.COLUMNS, values)
        details: dict[str, object] = {"training_set": training.composition(), **measured.details}
        if diverged:
            details["diverged"] = diverged
        seconds = time.perf_counter() - began
        return Block([FinishedGeneration(generation, row, seconds, details)], outputs)

    def _curate(self, generation: int, drawn: Any) -> tuple[dict[str, bytes], dict[str, float]]:
        """The curated files (role -> bytes) and columns of a generation, deterministic under
        (seed, generation) so a resumed run keeps exactly the same draws."""
        draws = self.curation_draws(drawn)
        reference = self.curation_reference()
        kept = curate(
            self.config.curate,
            self.curators,
            draws,
            reference,
            self.config.samples_per_generation,
            cpu_generator(derive_seed(self.config.seed, "curate", generation)),
            generation,
        )
        faults.reached(f"curated:{generation}")
        files = {
            CURATED: self.curated_file(drawn, draws, kept.indices),
            CURATION: kept.provenance_csv(),
        }
        return files, kept_metrics(draws, kept, reference)


def in_column_order(
    columns: tuple[str, ...], values: Mapping[str, float | int | None]
) -> dict[str, float | int | None]:
    """`values` in the order `columns` gives, MEASURED standing for every value it does not
    name (in their order); a named column without a value is left out, and so is an engine
    column the domain does not name."""
    named = set(columns)
    rest = [name for name in values if name not in named and name not in ENGINE_COLUMNS]
    row: dict[str, float | int | None] = {}
    for name in columns:
        for column in rest if name == MEASURED else [name]:
            if column in values:
                row[column] = values[column]
    return row
