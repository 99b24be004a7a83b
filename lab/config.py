"""Experiment configuration: one YAML file in experiments/, loaded into frozen dataclasses.

Every key is validated on load (unknown keys, types, limits, cross-field rules), so a typo
fails in the first second with a sentence naming the file and the key, not an hour into a run.
`--set key.path=value` overrides go through the same validation and are named as the source
of any error they cause.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from lab.domains import registry
from lab.domains.images.settings import JudgeConfig, MetricsConfig
from lab.errors import ConfigError
from lab.schema import SchemaError, bounds, build, by_kind, join, to_plain


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
class LoggingConfig:
    """Training logs of every generation, kept in the run directory under logs/gen_NNN/."""

    # Lightning's CSVLogger: the report draws each generation's loss curves from it.
    csv: bool = True
    # Lightning's TensorBoardLogger, used only when the tensorboard package is installed.
    tensorboard: bool = False
    every_n_steps: int = field(default=50, metadata=bounds(ge=1))


_METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class EarlyCollapseConfig:
    """Early collapse (lab/analysis/timeline.py): the first generation in which one of the
    domain's tail columns (images: tail_recall, rare_class_recall) is below `tails_below`
    times its generation-0 value while its quality column (images: fid) is still at most
    `quality_within` times its generation-0 value: the tails went first."""

    tails_below: float = field(default=0.5, metadata=bounds(gt=0, le=1))
    quality_within: float = field(default=1.5, metadata=bounds(ge=1))


@dataclass(frozen=True)
class LateCollapseConfig:
    """Late collapse: the first generation in which one of the domain's diversity columns
    (images: vendi, class_entropy) is below `diversity_below` times the real data's value."""

    diversity_below: float = field(default=0.5, metadata=bounds(gt=0, le=1))


@dataclass(frozen=True)
class CheckConfig:
    """Thresholds for `collapse-lab check RUN`, per metrics.csv column, applied to every
    generation. Names are checked against the run's columns when the check runs, since the
    columns depend on the dataset and the metrics measured."""

    max: dict[str, float] = field(default_factory=dict)
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


def _default_data() -> Any:
    return registry.data_configs()[registry.DEFAULT_DATA]()


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: a model trained on its own samples for `generations` generations."""

    name: str
    generations: int = field(metadata=bounds(ge=1))
    samples_per_generation: int = field(metadata=bounds(ge=1))
    seed: int
    # Chosen by model.kind among every domain's models (lab/domains/registry.py).
    model: Any = field(metadata=by_kind(registry.model_configs))
    # Required for the models that train with Lightning; the vector fits have none.
    train: TrainConfig | None = None
    regime: Literal["replace", "accumulate", "fresh"] = "replace"
    regime_options: RegimeOptions = field(default_factory=RegimeOptions)
    # Chosen by data.name among every domain's data sections (lab/domains/registry.py).
    data: Any = field(
        default_factory=_default_data,
        metadata=by_kind(registry.data_configs, key="name", default=registry.DEFAULT_DATA),
    )
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    check: CheckConfig = field(default_factory=CheckConfig)
    # Judges and real-set features are cached here, shared by every run. A relative path in
    # an experiment file is relative to that file's repository (anchored_cache_dir).
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
        """The model must make the data's kind of data; the domain checks the rest."""
        domain = registry.spec_of_data(self.data.name)
        if registry.spec_of_model(self.model.kind) is not domain:
            kinds = ", ".join(repr(kind) for kind in domain.model_configs())
            raise SchemaError(
                "model.kind",
                f"is {self.model.kind!r}, which does not model {domain.name} such as data.name "
                f"{self.data.name!r}; use model.kind {kinds}",
            )
        domain.check_experiment(self)

    def as_dict(self) -> dict[str, Any]:
        return to_plain(self)

    def digest(self) -> str:
        """A hash of what the config computes: a run directory belongs to exactly one.
        Sections that only observe a run (OBSERVER_SECTIONS) are left out."""
        computed = {k: v for k, v in self.as_dict().items() if k not in OBSERVER_SECTIONS}
        return hashlib.sha256(json.dumps(computed, sort_keys=True).encode()).hexdigest()


# The key by which an experiment file extends another (read_experiment).
BASE_KEY = "base"

# Sections that watch a run without changing its numbers: editing them (e.g. tightening a
# check threshold) must not stop an existing run directory from resuming. cache_dir is one
# too: what is cached there is found by its content, so a run resumed from another folder
# (whose cache_dir is then spelled as an absolute path) computes the same numbers.
OBSERVER_SECTIONS = ("check", "logging", "cache_dir")

# A folder holding one of these is a repository: the folder an experiment file's relative
# cache_dir is relative to (experiments/ and cache/ sit side by side in it).
REPOSITORY_MARKERS = (".git", "pyproject.toml")


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Load, override and validate an experiment file; any problem is one ConfigError sentence
    naming the file (or the --set) the offending key came from."""
    path = Path(path)
    raw, origins = read_experiment(path)
    parsed = [parse_override(text) for text in overrides]
    for key, value, _ in parsed:
        set_dotted(raw, key, value, parsed)
    try:
        config = build(ExperimentConfig, raw)
    except SchemaError as err:
        raise ConfigError(f"{_source(err.key, path, parsed, origins)}: {err}.") from None
    if any(key == "cache_dir" for key, _, _ in parsed):
        return config  # typed on the command line, so relative to the current folder
    return anchored_cache_dir(config, origins.get("cache_dir", path))


def anchored_cache_dir(config: ExperimentConfig, source: Path) -> ExperimentConfig:
    """`config` with its relative cache_dir taken relative to the repository of `source`, the
    file that set it, so that `run` and `eval` share one cache from any folder. Spelled as
    before when the current folder is that repository (the usual `make demo`), and left
    relative to the current folder when `source` is in no repository."""
    cache = Path(config.cache_dir)
    home = repository_of(source)
    if cache.is_absolute() or home is None or (home / cache).resolve() == cache.resolve():
        return config
    return replace(config, cache_dir=str(home.resolve() / cache))


def repository_of(path: Path) -> Path | None:
    """The nearest folder above `path` holding a .git or pyproject.toml, if any."""
    for folder in path.resolve().parents:
        if any((folder / marker).exists() for marker in REPOSITORY_MARKERS):
            return folder
    return None


def read_experiment(path: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    """An experiment file merged over the files it extends (`base: other.yaml`, relative to
    the file that says it), and for each dotted key the file that set it.

    Mappings merge key by key; any other value (a list included) replaces the base's, so a
    file that extends another states only what differs."""
    return _read_extending(path, ())


def _read_extending(path: Path, chain: tuple[Path, ...]) -> tuple[dict[str, Any], dict[str, Path]]:
    raw = read_yaml(path)
    origins = {key: path for key in _dotted_keys(raw) if key != BASE_KEY}
    if BASE_KEY not in raw:
        return raw, origins
    base = raw.pop(BASE_KEY)
    if not isinstance(base, str) or not base.strip():
        raise ConfigError(
            f"{path}: key '{BASE_KEY}' must be the path of the experiment file this one extends, "
            "relative to this file, e.g. 'base: replace.yaml'."
        )
    target = path.parent / base
    if not target.is_file():
        raise ConfigError(
            f"{path}: key '{BASE_KEY}' names '{base}', but '{target}' is not a file; give the "
            f"path of an experiment file relative to '{path.parent}'."
        )
    chain = (*chain, path)
    if target.resolve() in {file.resolve() for file in chain}:
        names = " -> ".join(str(file) for file in (*chain, target))
        raise ConfigError(
            f"{path}: key '{BASE_KEY}' makes a cycle ({names}); an experiment file cannot "
            "extend itself, so remove one of these bases."
        )
    inherited, inherited_origins = _read_extending(target, chain)
    return _merged(inherited, raw), {**inherited_origins, **origins}


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def _dotted_keys(raw: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key, value in raw.items():
        dotted = join(prefix, str(key))
        keys.append(dotted)
        if isinstance(value, dict):
            keys += _dotted_keys(value, dotted)
    return keys


def config_from_dict(raw: dict[str, Any], source: str = "<config>") -> ExperimentConfig:
    """Validate an already-parsed config (e.g. the copy stored in a run directory)."""
    try:
        return build(ExperimentConfig, raw)
    except SchemaError as err:
        raise ConfigError(f"{source}: {err}.") from None


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        if path.is_dir():
            raise ConfigError(
                f"config '{path}' is a folder, not a YAML file; pass a file such as "
                "experiments/demo.yaml."
            )
        raise ConfigError(
            f"config file '{path}' does not exist; pass a YAML file from experiments/."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}: is not UTF-8 text (byte 0x{err.object[err.start]:02x} at line {line}); "
            "save the file as UTF-8."
        ) from None
    try:
        raw = yaml.load(text, Loader=UniqueKeyLoader)
    except DuplicateKeyError as err:
        raise ConfigError(f"{path}: {err}; keep one of them.") from None
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


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error: plain
    YAML keeps the last value, so a forgotten earlier line would silently win or lose."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` merges, by design
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise DuplicateKeyError(
                    f"key '{key}' is given twice (lines {seen[key]} and {line})"
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


class DuplicateKeyError(yaml.YAMLError):
    """A mapping names one key twice; the message says which and where."""


def parse_override(text: str) -> tuple[str, Any, str]:
    """`a.b=value` -> ("a.b", YAML scalar value, original text)."""
    key, sep, value_text = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set '{text}' must look like KEY=VALUE, e.g. train.max_epochs=2.")
    try:
        value = yaml.load(value_text, Loader=UniqueKeyLoader) if value_text.strip() else None
    except DuplicateKeyError as err:
        raise ConfigError(f"--set '{text}': {err}; keep one of them.") from None
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


def _source(
    key: str,
    path: Path | None,
    parsed: Sequence[tuple[str, Any, str]],
    origins: dict[str, Path] | None = None,
) -> str:
    """Name the --set that caused an error at `key` (the last one, which is the one that
    counts when a key is set twice), or else the file that set the key."""
    for set_key, _, text in reversed(parsed):
        if key == set_key or key.startswith(set_key + ".") or set_key.startswith(key + "."):
            return f"--set '{text}'"
    parts = key.split(".")
    for depth in range(len(parts), 0, -1):
        origin = (origins or {}).get(".".join(parts[:depth]))
        if origin is not None:
            return str(origin)
    return str(path) if path else "<config>"
