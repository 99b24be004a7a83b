"""Experiment files: one YAML file in experiments/, read into its domain's frozen dataclass.

Every key is validated on load (unknown keys, types, limits, cross-field rules), so a typo
fails in the first second with a sentence naming the file and the key, not an hour into a run.
`--set key.path=value` overrides go through the same validation and are named as the source
of any error they cause. `data.name` picks the domain (lab/domains/registry.py), whose
ExperimentConfig subclass holds its sections; the engine's own sections are in
lab/experiment.py. Loading never imports torch, except for a model named by `class_path`:
its module is the user's, imported and checked against the contract of docs/models.md.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from lab.domains import registry
from lab.domains.protocol import DomainSpec
from lab.errors import ConfigError, ModelContractError
from lab.experiment import ExperimentConfig
from lab.schema import SchemaError, build, join

# The key by which an experiment file extends another (read_experiment).
BASE_KEY = "base"
# The key of every experiment's data section, whose `name` picks the domain.
DATA_KEY, DATA_NAME_KEY, MODEL_KIND_KEY = "data", "name", "kind"

# A folder holding one of these is a repository: the folder an experiment file's relative
# cache_dir is relative to (experiments/ and cache/ sit side by side in it).
REPOSITORY_MARKERS = (".git", "pyproject.toml")
# A model section's check that what it names can be had (a pretrained model's folder, or its
# hub id offline), run when an experiment file loads, not when a run's stored config is read
# back, so a finished run still reports after its model folder moved.
AVAILABILITY_CHECK = "check_available"


def load_config(
    path: str | Path, overrides: Sequence[str] = (), import_model: bool = True
) -> ExperimentConfig:
    """Load, override and validate an experiment file; any problem is one ConfigError sentence
    naming the file (or the --set) the offending key came from. A model named by
    `class_path` is imported (from PYTHONPATH, else the file's own folder) and checked, and
    what a model section names is checked to be there (its `check_available`), unless
    `import_model` is false (e.g. a run's config.yaml read only for its data and judge)."""
    path = Path(path)
    raw, origins = read_experiment(path)
    parsed = [parse_override(text) for text in overrides]
    for key, value, _ in parsed:
        set_dotted(raw, key, value, parsed)
    try:
        config = build_experiment(raw)
        available = getattr(config.model, AVAILABILITY_CHECK, None)
        if import_model and callable(available):
            available("model")
        if import_model and getattr(config.model, "class_path", None):
            from lab.generators.contract import check_model

            check_model(config, search=[path.resolve().parent])
        if import_model and config.curate is not None:
            from lab.curation.contract import curator_classes

            curator_classes(config.curate, search=[path.resolve().parent])
    except SchemaError as err:
        raise ConfigError(f"{_source(err.key, path, parsed, origins)}: {err}.") from None
    except ModelContractError as err:
        where = _source(err.key, path, parsed, origins) if err.key else str(path)
        raise ConfigError(f"{where}: {err.problem}.") from None
    if any(key == "cache_dir" for key, _, _ in parsed):
        return config  # typed on the command line, so relative to the current folder
    return anchored_cache_dir(config, origins.get("cache_dir", path))


def build_experiment(raw: Mapping[str, Any]) -> ExperimentConfig:
    """The experiment `raw` describes, as its domain's dataclass (chosen by data.name);
    SchemaError names the key at fault."""
    spec = domain_of(raw)
    _refuse_other_domains_keys(raw, spec)
    return build(spec.experiment, raw)


def domain_of(raw: Mapping[str, Any]) -> DomainSpec:
    """The domain whose data `raw` names (the default data when it names none)."""
    data = raw.get(DATA_KEY)
    name = registry.default_data()
    if isinstance(data, Mapping) and DATA_NAME_KEY in data:
        name = data[DATA_NAME_KEY]
    spec = registry.spec_of_data(name) if isinstance(name, str) else None
    if spec is None:
        allowed = ", ".join(repr(k) for k in sorted(registry.data_configs()))
        raise SchemaError(join(DATA_KEY, DATA_NAME_KEY), f"must be one of {allowed}, not {name!r}")
    return spec


def _refuse_other_domains_keys(raw: Mapping[str, Any], spec: DomainSpec) -> None:
    """A model, a section or a key that belongs to another kind of data is named as such:
    the model made for another domain's data, the image domain's judge in a text config."""
    model = raw.get("model")
    kind = model.get(MODEL_KIND_KEY) if isinstance(model, Mapping) else None
    maker = registry.spec_of_model(kind) if isinstance(kind, str) else None
    if maker is not None and maker is not spec:
        kinds = ", ".join(repr(k) for k in spec.model_configs())
        data = raw.get(DATA_KEY) or {}
        raise SchemaError(
            f"model.{MODEL_KIND_KEY}",
            f"is {kind!r}, which does not model {spec.name} such as data.name "
            f"{data.get(DATA_NAME_KEY, registry.default_data())!r}; use model.kind {kinds}",
        )
    own = _keys(spec.experiment)
    for key, value in raw.items():
        if key not in own:
            _refuse_if_elsewhere((str(key),), spec)
        elif isinstance(value, Mapping):
            for name in value:
                if name not in _keys(own[key]):
                    _refuse_if_elsewhere((str(key), str(name)), spec)


def _refuse_if_elsewhere(path: tuple[str, ...], spec: DomainSpec) -> None:
    """A SchemaError if another domain's experiment has the key at `path`."""
    takers = []
    for other in registry.specs():
        keys = _keys(other.experiment)
        for part in path[:-1]:
            keys = _keys(keys.get(part))
        if path[-1] in keys:
            takers.append(other.name)
    if takers:
        raise SchemaError(
            ".".join(path),
            f"applies to {' and '.join(takers)} experiments only, not to {spec.name} data "
            f"({', '.join(repr(n) for n in spec.data_configs())}); remove it",
        )


def _keys(cls: Any) -> dict[str, Any]:
    """A dataclass's keys -> their types; nothing for what is not a dataclass."""
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        return {}
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


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
    """Validate a config a run directory stored, as this version of the lab reads it (keys
    its domain has retired since are dropped); its model's class is not imported."""
    try:
        spec = domain_of(raw)
    except SchemaError as err:
        raise ConfigError(f"{source}: {err}.") from None
    return spec.experiment.from_stored(raw, source)


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
