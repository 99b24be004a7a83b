"""What builds a run's model: a class and its arguments, from either kind of `model:` section.

Torch-free. A `kind:` section (the lab's own models) is shorthand for the class that
models/registry.py names, with the section's fields as its arguments; a `class_path:`
section says both itself. Everything after this point treats the two the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lab.generators.section import ClassPathModel
from lab.schema import to_plain

KIND_KEY = "kind"


@dataclass(frozen=True)
class Recipe:
    """`class_path(**init_args, **inputs)`: `init_args` from the config, the inputs (the data's
    shape, train.lr) from the lab, passed only where the constructor declares them."""

    class_path: str
    init_args: Mapping[str, Any]
    # Where it came from in the config: "model.init_args" or "model" (a kind's section).
    arguments_key: str
    # True for a class_path section: a class from outside the lab, checked more closely.
    outside: bool

    def argument_key(self, name: str) -> str:
        return f"{self.arguments_key}.{name}"


def recipe_of(section: Any) -> Recipe:
    """The recipe of a config's `model:` section (a kind's dataclass or a ClassPathModel)."""
    if isinstance(section, ClassPathModel):
        return Recipe(section.class_path, dict(section.init_args), "model.init_args", True)
    from models.registry import class_path_of

    arguments = {
        f.name: getattr(section, f.name) for f in dataclasses.fields(section) if f.name != KIND_KEY
    }
    return Recipe(class_path_of(section.kind), arguments, "model", False)


def plain_arguments(recipe: Recipe) -> dict[str, Any]:
    """The arguments as YAML and JSON can hold them (tuples as lists)."""
    return to_plain(dict(recipe.init_args))
