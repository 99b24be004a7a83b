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
SEED_KEY = "seed"


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
    # Several seeds: one run per seed, <date>/<name>/seed=<s>/, each tracked night to night
    # on its own; `collapse-lab compare <date>/<name>` gives their mean and interval.
    seeds: tuple[int, ...] = ()

    def check(self, prefix: str) -> None:
        if not _ENTRY_NAME.fullmatch(self.name):
            raise SchemaError(
                f"{prefix}.name", "must be a folder name (letters, digits, '_', '-', '.')"
            )
        for seed in self.seeds:
            if self.seeds.count(seed) > 1:
                raise SchemaError(f"{prefix}.seeds", f"lists seed {seed} twice")
        if self.seeds and any(text.partition("=")[0].strip() == SEED_KEY for text in self.set):
            raise SchemaError(
                f"{prefix}.set", f"sets '{SEED_KEY}' and the entry lists seeds; keep one of them"
            )

    def runs(self) -> list[NightRun]:
        """One run without seeds; with seeds, one per seed in a folder of the entry's name."""
        if not self.seeds:
            return [NightRun(self.name, self, self.set)]
        return [
            NightRun(f"{self.name}/{SEED_KEY}={seed}", self, (*self.set, f"{SEED_KEY}={seed}"))
            for seed in self.seeds
        ]


@dataclass(frozen=True)
class NightRun:
    """One run of a night: its folder under <date>/ and its --set overrides."""

    name: str
    entry: SuiteEntry
    overrides: tuple[str, ...]


@dataclass(frozen=True)
class NightlySuite:
    """The whole suite; paths are relative to the directory the nightly runs in."""

    entries: tuple[SuiteEntry, ...]
    output: str = "runs/nightly"
    # Default tolerances for every entry's final metrics (metrics.csv column -> tolerance).
    tolerance: dict[str, Tolerance] = field(default_factory=dict)
    # Further final metrics shown on the index page without a tolerance.
    headline: tuple[str, ...] = ()
    # Keep samples/ and checkpoints/ of only this many newest finished nights (metrics,
    # grids, reports and logs are always kept); null keeps everything.
    keep_samples_nights: int | None = field(default=None, metadata=bounds(ge=0))

    def check(self, prefix: str) -> None:
        if not self.entries:
            raise SchemaError("entries", "must list at least one experiment")
        names = [entry.name for entry in self.entries]
        for name in names:
            if names.count(name) > 1:
                raise SchemaError("entries", f"names '{name}' twice; entry names must differ")

    def tolerances(self, entry: SuiteEntry) -> dict[str, Tolerance]:
        return {**self.tolerance, **entry.tolerance}

    def runs(self) -> list[NightRun]:
        return [run for entry in self.entries for run in entry.runs()]


def load_suite(path: Path) -> NightlySuite:
    """Load and validate a suite file; any problem is one ConfigError sentence."""
    try:
        return build(NightlySuite, read_yaml(path))
    except SchemaError as err:
        raise ConfigError(f"{path}: {err}.") from None
