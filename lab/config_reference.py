"""The config reference page, docs/config.md: every key an experiment file may hold.

Written from the same typed schema that `lab.config.load_config` validates with: each
domain's experiment dataclass (lab/domains/registry.py), its `data:` and `model:` choices
and every section they nest, so a key added to a dataclass appears on the page without an
edit here. A key's type and default come from its field, its limits from `bounds(...)`, and
its one line from the comment above the field (`lab.schema.field_descriptions`).
tests/test_docs.py fails when the checked-in page differs from what this writes.

    python -m lab.config_reference           # rewrite docs/config.md
    python -m lab.config_reference --check   # exit 1 when docs/config.md is stale
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from lab.config import BASE_KEY
from lab.domains import registry
from lab.schema import field_descriptions, join, to_plain

PAGE = Path(__file__).resolve().parent.parent / "docs" / "config.md"
REGENERATE = "python -m lab.config_reference"
_LIMITS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}


@dataclass(frozen=True)
class Key:
    """One row of the page: a dotted key, its type, its default and what it sets."""

    path: str
    type: str
    default: str
    description: str
    owner: str  # module.Class whose field it is: where its description lives


@dataclass(frozen=True)
class Section:
    """The keys of one dataclass at `path`; `choice` names the entry that picks it
    (`name: mnist5k`, `kind: vae`, `class_path`), if any."""

    path: str
    choice: str | None
    keys: tuple[Key, ...]
    about: str = dataclasses.field(default="", compare=False)


def sections(
    cls: type, path: str = "", choice: str | None = None, by_default: bool = False
) -> Iterator[Section]:
    """The section of dataclass `cls` at `path`, then every section nested in it, in field
    order; a section chosen by its `kind` (or `name`) yields one section per choice, and
    `by_default` says this one is chosen when the section names none."""
    hints = typing.get_type_hints(cls)
    notes = field_descriptions(cls)
    own, nested = [], []
    for fld in dataclasses.fields(cls):
        if not fld.init:
            continue
        key = join(path, fld.name)
        meta = fld.metadata
        if "kinds" in meta:
            nested.append(_choices(key, meta))
            continue
        inner = _section_type(hints[fld.name])
        if inner is not None:
            nested.append(sections(inner, key))
            continue
        own.append(
            Key(
                key,
                _type_text(hints[fld.name], meta),
                _default_text(fld, choice, by_default),
                notes.get(fld.name, ""),
                _owner(cls, fld.name),
            )
        )
    yield Section(path, choice, tuple(own), _about(cls) if path else "")
    for group in nested:
        yield from group


def _choices(key: str, meta: dict[str, Any]) -> Iterator[Section]:
    """One section per entry of a by-kind field, then its alternative (`class_path`)."""
    kind_key, default = meta["kind_key"], meta["default_kind"]
    for kind, cls in meta["kinds"]().items():
        yield from sections(cls, key, f"{kind_key}: {kind}", kind == default)
    alternative = meta.get("alternative")
    if alternative:
        yield from sections(alternative[1], key, alternative[0])


def _section_type(tp: Any) -> type | None:
    """The dataclass a field holds (a nested section), or None for a plain value."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (Union, types.UnionType) and len(args) == 1:
        tp = args[0]
    return tp if isinstance(tp, type) and dataclasses.is_dataclass(tp) else None


def _type_text(tp: Any, meta: Any) -> str:
    limits = ", ".join(f"{_LIMITS[k]} {v:g}" for k, v in meta.items() if k in _LIMITS)
    text = _describe_type(tp)
    return f"{text} ({limits})" if limits else text


def _describe_type(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return "any"
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        text = " or ".join(_describe_type(a) for a in inner)
        return f"{text} or null" if type(None) in args else text
    if origin is Literal:
        return " or ".join(f"`{_yaml(a)}`" for a in args)
    if origin is tuple:
        return f"list of {_plural(_describe_type(args[0]))}"
    if origin is dict:
        return f"mapping of names to {_plural(_describe_type(args[1]))}"
    names = {int: "integer", float: "number", bool: "true or false", str: "string"}
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def _plural(text: str) -> str:
    return {"integer": "integers", "number": "numbers", "string": "strings"}.get(
        text, text if text.startswith("list") else f"{text} values"
    )


def _default_text(fld: dataclasses.Field, choice: str | None, by_default: bool) -> str:
    if choice is not None and fld.name == choice.split(":")[0]:
        return f"`{fld.default}` (when not given)" if by_default else "required"
    if fld.default is not dataclasses.MISSING:
        return f"`{_yaml(to_plain(fld.default))}`"
    if fld.default_factory is not dataclasses.MISSING:
        return f"`{_yaml(to_plain(fld.default_factory()))}`"
    return "required"


def _yaml(value: Any) -> str:
    """A value as one line of YAML flow style, as it would be written in an experiment."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    return text.removesuffix("...").strip()


def _owner(cls: type, name: str) -> str:
    """The class in `cls`'s bases that declares field `name` last (where its comment is)."""
    for klass in cls.__mro__:
        if name in klass.__dict__.get("__annotations__", {}):
            return f"{klass.__module__}.{klass.__qualname__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def _about(cls: type) -> str:
    """The first paragraph of a section's docstring, on one line."""
    doc = cls.__doc__ or ""
    if doc.startswith(f"{cls.__name__}("):  # dataclass's generated signature: no docstring
        return ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def all_sections() -> list[tuple[Section, list[str]]]:
    """Every distinct section over every domain, with the domains whose experiments have
    it; grouped by top-level key in the order each first appears."""
    found: dict[Section, list[str]] = {}
    for spec in registry.specs():
        for section in sections(spec.experiment):
            if section.keys:
                found.setdefault(section, []).append(spec.name)
    tops = list(dict.fromkeys(_top(section) for section in found))
    return sorted(found.items(), key=lambda item: tops.index(_top(item[0])))


def _top(section: Section) -> str:
    return section.path.split(".")[0]


def render() -> str:
    """The page's Markdown."""
    domains = [spec.name for spec in registry.specs()]
    lines = [
        "# Experiment files: every key",
        "",
        f"Generated by `{REGENERATE}` (or `make config-doc`) from the typed schema that",
        "`load_config` validates with (lab/experiment.py, each domain's `settings.py`,",
        "models/sections/), so it lists exactly the keys the loader accepts; tests/test_docs.py",
        "fails when it is stale. A key's line is the comment above its field in the class its",
        "row names last: edit it there, then run the command again.",
        "",
        f"An experiment file is YAML. `{BASE_KEY}: other.yaml` (a path relative to the file)",
        "extends another file: mappings merge key by key, any other value replaces the",
        "base's. `data.name` picks the kind of data (images, vectors or text) and with it the",
        "sections below that name their kind; `model.kind` picks one of that data's models,",
        "or `model.class_path` names a model from outside the lab ([models.md](models.md)).",
        "Every key can also be set from the command line, `--set train.max_epochs=10`,",
        "validated the same way. An unknown key, a wrong type or a value out of its limits is",
        "refused in one sentence naming the file and the key ([errors.md](errors.md)).",
        "",
    ]
    last_top = None
    for section, having in all_sections():
        top = _top(section)
        if top != last_top:
            lines += [f"## {f'`{top}`' if top else 'Top-level keys'}", ""]
            last_top = top
        qualifiers = []
        if section.choice:
            qualifiers.append(f"`{section.choice}`")
        if having != domains:
            qualifiers.append(f"{' and '.join(having)} experiments")
        if section.path != top or qualifiers:
            title = f"`{section.path}`" if section.path else "Top level"
            lines += [f"### {title}{': ' + ', '.join(qualifiers) if qualifiers else ''}", ""]
        if section.about:
            lines += [section.about, ""]
        lines += ["| key | type | default | what it sets | defined in |", "|---|---|---|---|---|"]
        for key in section.keys:
            cells = [f"`{key.path}`", key.type, key.default, key.description, f"`{key.owner}`"]
            lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _cell(text: str) -> str:
    """`text` safe in a Markdown table cell: no column breaks, no HTML tags (`<name>`)."""
    return text.replace("|", "\\|").replace("<", "&lt;")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the page is stale")
    parser.add_argument("--out", type=Path, default=PAGE, help="where the page goes")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is stale; run `{REGENERATE}` and commit it.", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
