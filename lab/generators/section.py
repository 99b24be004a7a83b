"""`model: {class_path: pkg.module.Class, init_args: {...}}`: a model from outside the lab.

Torch-free: the section only says which class and which arguments. Importing the class and
checking it against the contract (lab/generators/contract.py) is left to whoever needs the
class, so a run folder's stored config can be read without the user's code at hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lab.schema import SchemaError, by_kind

CLASS_PATH_KEY = "class_path"
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


@dataclass(frozen=True)
class ClassPathModel:
    """A LightningModule built as `Class(**init_args)` plus the data's shape (docs/models.md)."""

    # A LightningModule's import path, package.module.Class (models.md).
    class_path: str
    # The constructor's keyword arguments; checked against its signature when the class is
    # imported. The data's shape and train.lr are passed by the lab, not given here.
    init_args: dict[str, Any] = field(default_factory=dict)

    def check(self, prefix: str) -> None:
        if not _DOTTED.fullmatch(self.class_path):
            raise SchemaError(
                f"{prefix}.{CLASS_PATH_KEY}",
                f"is {self.class_path!r}, not an import path; name the class as "
                "package.module.Class (e.g. my_model.MyGenerator for my_model.py next to the "
                "experiment file)",
            )


def model_field(kinds: Callable[[], Mapping[str, type]]) -> dict[str, Any]:
    """Field metadata of a domain's `model:` section: one of its `kinds` by `kind`, or any
    class by `class_path`."""
    return by_kind(kinds, alternative=(CLASS_PATH_KEY, ClassPathModel))
