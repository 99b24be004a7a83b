"""Build typed, frozen dataclasses from plain YAML data, with errors a user can act on.

Why our own ~150 lines instead of a validation library: the config must reject unknown keys
with a suggestion, name the dotted key of every problem, and choose a model's section by its
`kind` from a registry, and each of those needs hooks that would be most of this code anyway.

Field constraints live in `field(metadata=bounds(...))`, so the dataclasses stay the single
description of what is allowed. Cross-field rules go in a `check(self, prefix)` method that raises
`SchemaError` naming the key. A field's one-line description is the comment block right above
it (`field_descriptions`): docs/config.md shows it next to the key (lab/config_reference.py).
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import math
import textwrap
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, Union


class SchemaError(Exception):
    """A value does not fit the schema; `key` is the dotted path, `problem` completes a sentence."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"key '{key}' {problem}")
        self.key = key
        self.problem = problem


def bounds(
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
) -> dict[str, float]:
    """Field metadata for numeric limits, checked on load."""
    limits = {"ge": ge, "gt": gt, "le": le, "lt": lt}
    return {name: value for name, value in limits.items() if value is not None}


def omitted_at_default() -> dict[str, bool]:
    """Field metadata for a key added after experiments and run directories already existed:
    at its default it is left out of the resolved config (`to_plain`), so their resolved
    configs, digests and cache keys stay what they were."""
    return {"omitted_at_default": True}


def by_kind(
    registry: Callable[[], Mapping[str, type]],
    key: str = "kind",
    default: str | None = None,
    alternative: tuple[str, type] | None = None,
) -> dict[str, Any]:
    """Field metadata for a section whose dataclass is chosen by its `key` entry (`kind`, or
    e.g. `name` for the data section); `default` is the choice when the section omits it.
    `alternative` (key, dataclass): a section that gives that key instead is built as that
    dataclass (a model named by `class_path` rather than by `kind`)."""
    return {"kinds": registry, "kind_key": key, "default_kind": default, "alternative": alternative}


def field_descriptions(cls: type) -> dict[str, str]:
    """Field name -> the comment block right above the field in its class's source, on one
    line; a subclass's comment on a field it redeclares wins. Fields without one are left out.
    """
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass) or "__annotations__" not in klass.__dict__:
            continue
        lines, _ = inspect.getsourcelines(klass)
        body = ast.parse(textwrap.dedent("".join(lines))).body[0]
        for node in getattr(body, "body", ()):
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                comment = _comment_above(lines, node.lineno - 1)
                if comment:
                    found[node.target.id] = comment
    return found


def _comment_above(lines: list[str], index: int) -> str:
    """The `#` lines directly above line `index` (0-based), joined into one line."""
    block: list[str] = []
    while index > 0 and lines[index - 1].strip().startswith("#"):
        index -= 1
        block.insert(0, lines[index].strip().lstrip("#").strip())
    return " ".join(block)


_LIMIT_TEXT = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
_LIMIT_TEST = {
    "ge": lambda v, b: v >= b,
    "gt": lambda v, b: v > b,
    "le": lambda v, b: v <= b,
    "lt": lambda v, b: v < b,
}


def join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def build(cls: type, raw: Any, prefix: str = "") -> Any:
    """Turn a mapping into an instance of dataclass `cls`, validating every key."""
    section = f"section '{prefix}'" if prefix else "the config"
    if not isinstance(raw, Mapping):
        raise SchemaError(prefix or "<top>", f"must be a mapping of keys, not {_describe(raw)}")
    known = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for name in raw:
        if name not in known:
            key = join(prefix, str(name))
            close = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.6)
            hint = f"did you mean '{join(prefix, close[0])}'? " if close else ""
            raise SchemaError(
                key, f"is not known in {section}; {hint}known keys are {', '.join(sorted(known))}"
            )
    hints = typing.get_type_hints(cls)
    values = {}
    for name, fld in known.items():
        key = join(prefix, name)
        if name in raw:
            values[name] = _coerce(hints[name], raw[name], key, fld.metadata)
        elif fld.default is dataclasses.MISSING and fld.default_factory is dataclasses.MISSING:
            raise SchemaError(key, f"is required in {section}")
    obj = cls(**values)
    # Looked up on the class, so a section may also be a field named `check` (the experiment's
    # `check:` thresholds) without being taken for the hook.
    check = getattr(cls, "check", None)
    if callable(check):
        check(obj, prefix)
    return obj


def to_plain(obj: Any) -> Any:
    """Dataclasses to dicts and tuples to lists, so the result dumps to YAML or JSON."""
    if dataclasses.is_dataclass(obj):
        return {
            f.name: to_plain(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if not (f.metadata.get("omitted_at_default") and getattr(obj, f.name) == f.default)
        }
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, Mapping):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj


def _coerce(tp: Any, value: Any, key: str, meta: Mapping[str, Any]) -> Any:
    if "kinds" in meta:
        return _build_by_kind(meta["kinds"](), value, key, meta)
    if tp is Any:  # any YAML value, checked by whoever reads it (e.g. a sweep's axis values)
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, key, meta)
    if origin is Literal:
        if value not in args:
            allowed = ", ".join(repr(a) for a in args)
            raise SchemaError(key, f"must be one of {allowed}, not {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise SchemaError(key, f"must be a list, not {_describe(value)}")
        return tuple(_coerce(args[0], v, f"{key}[{i}]", meta) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise SchemaError(key, f"must be a mapping, not {_describe(value)}")
        return {str(k): _coerce(args[1], v, join(key, str(k)), meta) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return build(tp, value, key)
    return _scalar(tp, value, key, meta)


def _scalar(tp: type, value: Any, key: str, meta: Mapping[str, Any]) -> Any:
    if tp is bool:
        if not isinstance(value, bool):
            raise SchemaError(key, f"must be true or false, not {_describe(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError(key, f"must be an integer, not {_describe(value)}")
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SchemaError(key, f"must be a number, not {_describe(value)}")
        value = float(value)
        if not math.isfinite(value):  # no setting means anything at infinity, or NaN
            raise SchemaError(key, f"must be a finite number, not {value!r}")
    elif tp is str:
        if not isinstance(value, str):
            raise SchemaError(key, f"must be a string, not {_describe(value)}")
    else:
        raise TypeError(f"schema cannot build {tp!r} for {key}")
    for name, limit in meta.items():
        if name in _LIMIT_TEST and not _LIMIT_TEST[name](value, limit):
            raise SchemaError(key, f"must be {_LIMIT_TEXT[name]} {limit:g}, not {value!r}")
    return value


def _build_by_kind(
    registry: Mapping[str, type], value: Any, key: str, meta: Mapping[str, Any]
) -> Any:
    kind_key, default = meta["kind_key"], meta["default_kind"]
    alternative = meta.get("alternative")
    if isinstance(value, Mapping) and alternative and alternative[0] in value:
        if kind_key in value:
            raise SchemaError(
                join(key, kind_key),
                f"and '{join(key, alternative[0])}' are both given; a section names its class "
                f"one way, so keep one of them",
            )
        return build(alternative[1], value, key)
    if isinstance(value, Mapping) and kind_key not in value and default is not None:
        return _build_chosen(registry, default, value, key, kind_key)
    if not isinstance(value, Mapping) or kind_key not in value:
        other = f", or '{join(key, alternative[0])}'" if alternative else ""
        raise SchemaError(
            join(key, kind_key),
            f"is required; one of {', '.join(map(repr, sorted(registry)))}{other}",
        )
    kind = value[kind_key]
    if kind not in registry:
        allowed = ", ".join(repr(k) for k in sorted(registry))
        raise SchemaError(join(key, kind_key), f"must be one of {allowed}, not {kind!r}")
    return _build_chosen(registry, kind, value, key, kind_key)


def _build_chosen(
    registry: Mapping[str, type], kind: str, value: Mapping[str, Any], key: str, kind_key: str
) -> Any:
    """Build the section of `kind`; a key only its siblings know says which of them take it."""
    cls = registry[kind]
    known = {f.name for f in dataclasses.fields(cls)}
    for name in value:
        if name in known:
            continue
        takers = sorted(k for k, other in registry.items() if _takes(other, str(name)))
        if takers:
            raise SchemaError(
                join(key, str(name)),
                f"applies to {join(key, kind_key)} {', '.join(map(repr, takers))}, not to "
                f"{kind!r}; remove it",
            )
    return build(cls, value, key)


def _takes(cls: type, name: str) -> bool:
    return any(f.name == name and f.init for f in dataclasses.fields(cls))


def _describe(value: Any) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"{type(value).__name__} {value!r}"
