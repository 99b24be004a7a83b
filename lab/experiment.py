"""The engine's sections of an experiment: what every kind of data shares.

An experiment file is one `ExperimentConfig` of its domain's class: each domain
(lab/domains/) subclasses it with its `data:` and `model:` choices and the sections only it
has (the image domain's `judge:` and `metrics:`, every domain's own `sampling:`). Torch-free
and free of every domain, so a domain's settings can build on it without an import cycle;
lab/config.py reads the files and picks the domain.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from lab.curation.section import CurateConfig
from lab.errors import ConfigError
from lab.schema import SchemaError, bounds, build, join, omitted_at_default, to_plain


@dataclass(frozen=True)
class TrainConfig:
    """The training budget of every generation, and the device it runs on."""

    # Training budget per generation in epochs (see fixed_budget); set this or max_steps.
    max_epochs: int | None = field(default=None, metadata=bounds(ge=1))
    # Training budget per generation in optimiser steps; set this or max_epochs.
    max_steps: int | None = field(default=None, metadata=bounds(ge=1))
    # Training batch size.
    batch_size: int = field(default=128, metadata=bounds(ge=1))
    # Learning rate (passed to the model's constructor as `lr`).
    lr: float = field(default=1e-3, metadata=bounds(gt=0))
    # true: max_epochs counts epochs of generation 0's real training set and is turned into
    # optimiser steps, the same for every generation and regime, so a comparison of regimes
    # measures the data, not the compute. false: epochs of each generation's own training
    # set (an accumulating set then gets ever more steps).
    fixed_budget: bool = True
    # Where training runs: auto picks the GPU when there is one.
    accelerator: Literal["auto", "cpu", "cuda"] = "auto"
    # auto: bf16 mixed precision on a GPU that supports it, else 32-bit.
    precision: Literal["auto", "32-true", "bf16-mixed"] = "auto"
    # Deterministic kernels (byte-identical reruns); false lets cuDNN autotune.
    deterministic: bool = True
    # torch.compile each part of the model (GPU only; ignored on the CPU). Compiling costs
    # time at the start of each generation (bench/RESULTS.md: the warm-up column).
    compile: bool = False
    # What the loop does after a generation whose model reports that its training diverged
    # (e.g. a GAN's losses turned NaN): record it and go on, or record it and stop the run.
    on_divergence: Literal["continue", "stop"] = "continue"
    # Where each generation's weights start: scratch (fresh weights, seeded from the
    # generation), previous (generation g-1's trained weights, fine-tuned further, as
    # Bertrand et al. 2024 do; generation 0 starts as pretrained, or else scratch, would), or
    # pretrained (the model's pretrained weights every generation, as the Nature paper
    # fine-tunes OPT-125m; for a model that has them). Unset: pretrained for a model with
    # pretrained weights (its constructor takes `from_pretrained`), scratch for any other.
    init_from: Literal["scratch", "previous", "pretrained"] | None = field(
        default=None, metadata=omitted_at_default()
    )

    def check(self, prefix: str) -> None:
        if (self.max_epochs is None) == (self.max_steps is None):
            raise SchemaError(
                f"{prefix}.max_epochs",
                f"or '{prefix}.max_steps' must be set, exactly one of them, to bound training",
            )


@dataclass(frozen=True)
class RegimeOptions:
    """Options of the `fresh` regime (exactly one of the two fractions) and of `augment`
    (see lab/regimes.py)."""

    # Share of each generation's training set that is real data not shown in the previous
    # generations (MAD's fresh-data loop).
    fresh_fraction: float | None = field(default=None, metadata=bounds(ge=0, le=1))
    # Share that is one fixed real subset, the same every generation (Nature's 10%).
    real_fraction: float | None = field(default=None, metadata=bounds(ge=0, le=1))
    # augment: generation g-1's samples added to the whole real set, as this many times the
    # real set's size (MAD's synthetic augmentation loop; Bertrand et al.'s lambda).
    synthetic_ratio: float | None = field(
        default=None, metadata={**bounds(gt=0), **omitted_at_default()}
    )

    # Which regime each option belongs to.
    OWNERS: ClassVar[Mapping[str, str]] = {
        "fresh_fraction": "fresh",
        "real_fraction": "fresh",
        "synthetic_ratio": "augment",
    }


@dataclass(frozen=True)
class LoggingConfig:
    """Training logs of every generation, kept in the run directory under logs/gen_NNN/."""

    # Lightning's CSVLogger: the report draws each generation's loss curves from it.
    csv: bool = True
    # Lightning's TensorBoardLogger, used only when the tensorboard package is installed.
    tensorboard: bool = False
    # Training losses are logged every this many optimiser steps.
    every_n_steps: int = field(default=50, metadata=bounds(ge=1))


_METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class EarlyCollapseConfig:
    """Early collapse (lab/analysis/timeline.py): the first generation in which one of the
    domain's tail columns (images: tail_recall, rare_class_recall) is below `tails_below`
    times its generation-0 value while its quality column (images: fid) is still at most
    `quality_within` times its generation-0 value: the tails went first."""

    # A tail column counts as fallen below this fraction of its generation-0 value.
    tails_below: float = field(default=0.5, metadata=bounds(gt=0, le=1))
    # The quality column must still be at most this factor of its generation-0 value.
    quality_within: float = field(default=1.5, metadata=bounds(ge=1))


@dataclass(frozen=True)
class LateCollapseConfig:
    """Late collapse: the first generation in which one of the domain's diversity columns
    (images: vendi, class_entropy) is below `diversity_below` times the real data's value."""

    # A diversity column counts as lost below this fraction of the real data's.
    diversity_below: float = field(default=0.5, metadata=bounds(gt=0, le=1))


@dataclass(frozen=True)
class CheckConfig:
    """Thresholds for `collapse-lab check RUN`, per metrics.csv column, applied to every
    generation. Names are checked against the run's columns when the check runs, since the
    columns depend on the dataset and the metrics measured."""

    # Largest allowed value per metrics.csv column, e.g. fid: 400.
    max: dict[str, float] = field(default_factory=dict)
    # Smallest allowed value per metrics.csv column, e.g. classes_covered: 9.
    min: dict[str, float] = field(default_factory=dict)
    # Largest allowed factor over the first generation's value, e.g. fid: 3.0.
    max_increase: dict[str, float] = field(default_factory=dict, metadata=bounds(gt=0))
    # When each stage of collapse began, shown by `check` and the report (no exit code).
    early_collapse: EarlyCollapseConfig = field(default_factory=EarlyCollapseConfig)
    late_collapse: LateCollapseConfig = field(default_factory=LateCollapseConfig)

    def check(self, prefix: str) -> None:
        for kind in ("max", "min", "max_increase"):
            for name in getattr(self, kind):
                if not _METRIC_NAME.fullmatch(name) or name == "generation":
                    raise SchemaError(
                        join(prefix, f"{kind}.{name}"),
                        "is not a metric name; use a metrics.csv column such as fid or "
                        "classes_covered",
                    )


@dataclass(frozen=True, kw_only=True)
class ExperimentConfig:
    """One experiment: a model trained on its own samples for `generations` generations.

    A domain's subclass fills in `data` and `model` (chosen by data.name, and by model.kind
    or model.class_path, among its own) and adds its own sections; `check_experiment`
    holds its rules across sections."""

    # The experiment's name: runs go to runs/<name>/<timestamp>/.
    name: str
    # Generations to run, generation 0 (trained on real data) included.
    generations: int = field(metadata=bounds(ge=1))
    # Samples each generation draws (and, under replace, the next trains on).
    samples_per_generation: int = field(metadata=bounds(ge=1))
    # Seeds every random draw, by (seed, purpose, generation); also picks the judge.
    seed: int
    model: Any
    # Required for the models that train with Lightning; the vector fits have none.
    train: TrainConfig | None = None
    # What each generation after the first trains on (regimes.md).
    regime: Literal["replace", "accumulate", "fresh", "augment", "accumulate_subsample"] = "replace"
    regime_options: RegimeOptions = field(default_factory=RegimeOptions)
    # Which of a generation's oversampled draws the next generation trains on
    # (docs/curation.md); unset, all of its samples_per_generation draws.
    curate: CurateConfig | None = field(default=None, metadata=omitted_at_default())
    data: Any
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    check: CheckConfig = field(default_factory=CheckConfig)
    # Judges and real-set features are cached here, shared by every run. A relative path in
    # an experiment file is relative to that file's repository (lab.config.anchored_cache_dir).
    cache_dir: str = "cache"

    # Keys that this domain's configs stored in run directories before the domain owned its
    # sections, and that its runs never read: section -> keys ("" for whole sections).
    # lab.config.config_from_dict drops them from a stored config, so older runs resume.
    RETIRED: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    def __post_init__(self) -> None:
        # Not a `check(prefix)` hook: this class has a field of that name (its thresholds).
        if not self.name or "/" in self.name or self.name.strip() != self.name:
            raise SchemaError("name", "must be a non-empty name without '/' or outer spaces")
        if self.name in (os.curdir, os.pardir):
            raise SchemaError(
                "name",
                f"is {self.name!r}, a path rather than a name: runs/{self.name}/<timestamp> "
                "would not be a folder of its own under runs/; give the experiment a name",
            )
        self._check_regime_options()
        self._check_pretrained()
        self._check_curate()
        self.check_experiment()

    def _check_regime_options(self) -> None:
        options = self.regime_options
        given = [name for name in options.OWNERS if getattr(options, name) is not None]
        for name in given:
            owner = options.OWNERS[name]
            if owner != self.regime:
                raise SchemaError(
                    f"regime_options.{name}",
                    f"only applies to regime {owner!r}, not {self.regime!r}",
                )
        if self.regime == "fresh" and len(given) != 1:
            raise SchemaError(
                "regime_options",
                "must set exactly one of fresh_fraction and real_fraction for regime 'fresh'",
            )
        if self.regime == "augment" and not given:
            raise SchemaError(
                "regime_options.synthetic_ratio",
                "is required for regime 'augment': how many times the real set's size of "
                "generation g-1's samples to add (e.g. 0.5)",
            )

    def _check_curate(self) -> None:
        """What curation needs of every domain; a domain's check_experiment refuses the
        curators its draws offer nothing to score by."""
        if self.curate is not None and self.curate.allow_fewer and self.regime == SUBSAMPLE:
            raise SchemaError(
                "curate.allow_fewer",
                f"is true, but regime {SUBSAMPLE!r} draws from every generation's samples as "
                "if each held samples_per_generation; set it to false or use another regime",
            )

    def _check_pretrained(self) -> None:
        """init_from: pretrained needs a model with pretrained weights: a `kind` section says
        so (PRETRAINED_WEIGHTS); a class_path model is asked when it is imported."""
        if self.train is None or self.train.init_from != PRETRAINED:
            return
        if hasattr(self.model, "kind") and not getattr(self.model, PRETRAINED_WEIGHTS, False):
            raise SchemaError(
                "train.init_from",
                f"is 'pretrained', but model.kind {self.model.kind!r} has no pretrained "
                "weights; use scratch or previous, or a model that has them (docs/models.md)",
            )

    def check_experiment(self) -> None:
        """The domain's rules across sections; raises SchemaError naming the key."""

    def check_model_class(self, cls: type) -> None:
        """The domain's rules on a model class from outside the lab, once it is imported
        (lab/generators/contract.py); raises SchemaError naming the key."""

    def model_inputs(self) -> Mapping[str, str]:
        """The keywords the lab passes to a model's constructor where it declares them, and
        what each holds; a domain adds the data's shape."""
        return {LEARNING_RATE: "train.lr", FROM_PRETRAINED: "train.init_from"}

    def sampling_biases(self) -> dict[str, Any]:
        """The biases this config asks of the model's `sample` (keyword -> value); a model
        whose `sample` does not declare one is refused."""
        return {}

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any], source: str) -> ExperimentConfig:
        """A config a run directory stored (in `source`), as this version of the lab reads
        it: the keys its domain has retired since are dropped. ConfigError names `source`."""
        try:
            return build(cls, cls.upgraded(stored))
        except SchemaError as err:
            raise ConfigError(f"{source}: {err}.") from None

    @classmethod
    def upgraded(cls, stored: Mapping[str, Any]) -> dict[str, Any]:
        """A config stored by an older lab as this one reads it: the keys this domain has
        retired (RETIRED, and its data section's own) dropped."""
        raw = without_retired(stored, cls.RETIRED)
        data = raw.get("data")
        chooser = next(f for f in dataclasses.fields(cls) if f.name == "data").metadata
        if isinstance(data, Mapping) and "kinds" in chooser:
            name = data.get(chooser["kind_key"], chooser["default_kind"])
            section = chooser["kinds"]().get(name)
            retired = getattr(section, "RETIRED", ())
            raw["data"] = {key: value for key, value in data.items() if key not in retired}
        return raw

    def require_train(self) -> None:
        """The domains whose models train with Lightning need a train section."""
        if self.train is None:
            raise SchemaError("train", f"is required in the config for model {self.model_name}")

    @property
    def model_name(self) -> str:
        """How messages name the model: `model.kind 'vae'` or `model.class_path 'a.B'`."""
        kind = getattr(self.model, "kind", None)
        if kind is not None:
            return f"kind {kind!r}"
        return f"class_path {self.model.class_path!r}"

    def as_dict(self) -> dict[str, Any]:
        """The resolved config in reading order: the engine's sections up to `data`, the
        domain's own sections, then the observers."""
        plain = to_plain(self)
        engine = [f.name for f in dataclasses.fields(ExperimentConfig)]
        head = engine[: engine.index("data") + 1]
        own = [name for name in plain if name not in engine]
        order = [*head, *own, *engine[len(head) :]]
        return {name: plain[name] for name in order if name in plain}

    def digest(self) -> str:
        """A hash of what the config computes: a run directory belongs to exactly one."""
        return config_digest(self.as_dict())


def config_digest(resolved: Mapping[str, Any]) -> str:
    """The hash of a resolved config (as config.yaml holds it) that a run directory is bound
    to. Sections that only observe a run (OBSERVER_SECTIONS) are left out."""
    computed = {k: v for k, v in resolved.items() if k not in OBSERVER_SECTIONS}
    return hashlib.sha256(json.dumps(computed, sort_keys=True).encode()).hexdigest()


def requested_biases(sampling: Any) -> dict[str, Any]:
    """The biases a `sampling:` section sets away from their unbiased defaults (its BIASES)."""
    defaults = {f.name: f.default for f in dataclasses.fields(sampling)}
    return {
        name: getattr(sampling, name)
        for name in getattr(sampling, "BIASES", ())
        if getattr(sampling, name) != defaults[name]
    }


def without_retired(raw: Mapping[str, Any], retired: Mapping[str, tuple[str, ...]]) -> dict:
    """`raw` less the `retired` keys (section -> keys; "" -> whole top-level sections)."""
    kept = {key: value for key, value in raw.items() if key not in retired.get("", ())}
    for section, keys in retired.items():
        if section and isinstance(kept.get(section), Mapping):
            kept[section] = {k: v for k, v in kept[section].items() if k not in keys}
    return kept


# The regime that subsamples a pool of fixed-size generations (lab/regimes.py).
SUBSAMPLE = "accumulate_subsample"
# The keyword by which a model's constructor gets train.lr, where it declares it.
LEARNING_RATE = "lr"
# The keyword by which a model with pretrained weights is told to start from them (True:
# train.init_from pretrained or previous) or from fresh weights (False: scratch); declaring
# it is how a model says it has pretrained weights.
FROM_PRETRAINED = "from_pretrained"
# train.init_from's values.
SCRATCH, PREVIOUS, PRETRAINED = "scratch", "previous", "pretrained"
# What a `kind` section's class says when its model has pretrained weights.
PRETRAINED_WEIGHTS = "PRETRAINED_WEIGHTS"

# Sections that watch a run without changing its numbers: editing them (e.g. tightening a
# check threshold) must not stop an existing run directory from resuming. cache_dir is one
# too: what is cached there is found by its content, so a run resumed from another folder
# (whose cache_dir is then spelled as an absolute path) computes the same numbers.
OBSERVER_SECTIONS = ("check", "logging", "cache_dir")
