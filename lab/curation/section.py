"""`curate:`, the section that picks a curator (docs/curation.md). Torch-free, like every
config section: importing a curator and checking its arguments is left to the run.

A generation draws `oversample` times `samples_per_generation` items; the curator keeps
`samples_per_generation` of them, and only those reach the regime as the generation's
samples. With `dedupe: true`, near-copies are dropped before the curator chooses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from lab.schema import SchemaError, bounds, join

# The built-in curators (lab/curation/<kind>.py); those that need class labels of the draws,
# which only some data have; and those that need a judge's confidence in each draw.
BUILT_IN = ("judge_confidence", "class_balance", "dedupe", "feature_density")
NEEDS_LABELS = ("class_balance",)
NEEDS_CONFIDENCE = ("judge_confidence",)
DEDUPE = "dedupe"
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


class CuratorArgumentError(ValueError):
    """A built-in curator's argument out of its range: `name` is the argument, `problem`
    completes a sentence about it."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name} {problem}")
        self.name = name
        self.problem = problem


@dataclass(frozen=True)
class CurateConfig:
    """A curator, named by `kind` (built in) or `class_path` (yours), with its keyword
    arguments in `init_args`."""

    # A built-in curator (docs/curation.md); give this or class_path, not both.
    kind: Literal["judge_confidence", "class_balance", "dedupe", "feature_density"] | None = None
    # Your own curator as module.Class, with select(items, labels, features, generator).
    class_path: str | None = None
    # Keyword arguments of the curator's constructor, checked against its signature.
    init_args: dict[str, Any] = field(default_factory=dict)
    # How many times samples_per_generation the model draws for the curator to choose from.
    oversample: int = field(default=2, metadata=bounds(ge=1))
    # Drop near-copies (lab/curation/dedupe.py) before the curator chooses.
    dedupe: bool = False
    # A curator keeping fewer than samples_per_generation stops the run, unless this is true
    # (the next generation then trains on fewer items).
    allow_fewer: bool = False

    def check(self, prefix: str) -> None:
        if (self.kind is None) == (self.class_path is None):
            raise SchemaError(
                join(prefix, "kind"),
                f"or '{join(prefix, 'class_path')}' must be given, exactly one of them; kinds "
                f"are {', '.join(BUILT_IN)}",
            )
        if self.class_path is not None and not _DOTTED.fullmatch(self.class_path):
            raise SchemaError(
                join(prefix, "class_path"),
                f"is {self.class_path!r}, not an import path; name the class as "
                "package.module.Class (e.g. my_curator.MyCurator for my_curator.py next to "
                "the experiment file)",
            )
        if self.dedupe and self.kind == DEDUPE:
            raise SchemaError(
                join(prefix, "dedupe"),
                "is true while the curator is dedupe itself; remove one of them",
            )

    @property
    def name(self) -> str:
        """How provenance and messages name the curator."""
        return self.kind if self.kind is not None else str(self.class_path)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The built-in curators this section runs (dedupe first)."""
        chosen = (DEDUPE,) if self.dedupe else ()
        return (*chosen, self.kind) if self.kind is not None else chosen


def drawn_per_kept(section: CurateConfig | None) -> int:
    """How many items a generation draws per item it passes on: curate.oversample, else 1."""
    return section.oversample if section is not None else 1
