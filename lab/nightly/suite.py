"""The nightly suite file (experiments/nightly.yaml): which experiments run every night and
how far each final metric may move from the previous night before the night is flagged.

Validated like experiment configs, so a typo fails at once rather than after a night's work.
An entry is one line; a new experiment joins the suite by adding its line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from lab.config import read_yaml
from lab.errors import ConfigError
from lab.schema import SchemaError, bounds, build

_ENTRY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Tolerance:
    """How far a final metric may move from the previous night: an absolute amount, or a
    fraction of the previous value."""

    absolute: float | None = field(default=None, metadata=bounds(ge=0))
    relative: float | None = field(default=None, metadata=bounds(ge=0))

    def check(self, prefix: str) -> None:
        if (self.absolute is None) == (self.relative is None):
            raise SchemaError(
                prefix, "must set exactly one of 'absolute' or 'relative', e.g. {relative: 0.1}"
            )

    def allowed(self, previous: float) -> float:
        """The largest change allowed from `previous`."""
        if self.absolute is not None:
            return self.absolute
        return float(self.relative) * abs(previous)


@dataclass(frozen=True)
class SuiteEntry:
    """One experiment of the suite; its run directory is runs/nightly/<date>/<name>/."""

    name: str
    config: str
    # --set overrides for this entry, e.g. [data.root=/datasets].
    set: tuple[str, ...] = ()
    # Per-metric tolerances; they replace the suite's default for the same metric.
    tolerance: dict[str, Tolerance] = field(default_factory=dict)
    timeout_minutes: float | None = field(default=None, metadata=bounds(gt=0))

    def check(self, prefix: str) -> None:
        if not _ENTRY_NAME.fullmatch(self.name):
            raise SchemaError(
                f"{prefix}.name", "must be a folder name (letters, digits, '_', '-', '.')"
            )


@dataclass(frozen=True)
class NightlySuite:
    """The whole suite; paths are relative to the directory the nightly runs in."""

    entries: tuple[SuiteEntry, ...]
    output: str = "runs/nightly"
    # Default tolerances for every entry's final metrics (metrics.csv column -> tolerance).
    tolerance: dict[str, Tolerance] = field(default_factory=dict)
    # Further final metrics shown on the index page without a tolerance.
    headline: tuple[str, ...] = ()

    def check(self, prefix: str) -> None:
        if not self.entries:
            raise SchemaError("entries", "must list at least one experiment")
        names = [entry.name for entry in self.entries]
        for name in names:
            if names.count(name) > 1:
                raise SchemaError("entries", f"names '{name}' twice; entry names must differ")

    def tolerances(self, entry: SuiteEntry) -> dict[str, Tolerance]:
        return {**self.tolerance, **entry.tolerance}


def load_suite(path: Path) -> NightlySuite:
    """Load and validate a suite file; any problem is one ConfigError sentence."""
    try:
        return build(NightlySuite, read_yaml(path))
    except SchemaError as err:
        raise ConfigError(f"{path}: {err}.") from None
