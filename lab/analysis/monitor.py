"""The collapse monitor: thresholds on metrics.csv columns, checked on every generation.

A threshold names a column, so a new metric needs no new code: `max fid 400`, `min
classes_covered 8`, `min attr_Eyeglasses 0.02`. `max_increase` bounds a column by a factor of
its first generation's value (FID may at most triple, say), which holds across datasets whose
absolute FIDs differ.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lab.errors import ConfigError, RunDirError
from lab.experiment import CheckConfig
from lab.rundir.results import RunResults
from lab.schema import SchemaError, build

Kind = Literal["max", "min", "max_increase"]
KINDS: tuple[Kind, ...] = ("max", "min", "max_increase")


@dataclass(frozen=True)
class Threshold:
    """One limit on one column; `source` says where it was set, for the messages."""

    metric: str
    kind: Kind
    limit: float
    source: str


@dataclass(frozen=True)
class Violation:
    """The first generation that breaks a threshold, and the later ones that do too. A
    generation without a finite value (an empty cell, NaN) or whose training diverged breaks
    every threshold on the column: `unmeasured` says which of these it was."""

    threshold: Threshold
    generation: int
    value: float | None
    bound: float
    baseline: tuple[int, float] | None
    later: tuple[int, ...]
    unmeasured: str | None = None

    def line(self) -> str:
        """metric, generation, value and limit on one line."""
        t = self.threshold
        if self.unmeasured is not None:
            text = (
                f"{t.metric}: generation {self.generation} {self.unmeasured}, which fails every "
                f"threshold ({t.source})"
            )
        else:
            side = "below the minimum" if t.kind == "min" else "above the limit"
            how = ""
            if self.baseline is not None:
                generation, value = self.baseline
                how = f" = {t.limit:g} x generation {generation}'s {value:.6g}"
            text = (
                f"{t.metric}: generation {self.generation} has {self.value:.6g}, {side} "
                f"{self.bound:.6g}{how} ({t.source})"
            )
        if self.later:
            text += f"; also generation{'s' if len(self.later) > 1 else ''} "
            text += ", ".join(str(g) for g in self.later)
        return text


def config_thresholds(check: CheckConfig, source: str) -> list[Threshold]:
    """The thresholds of an experiment's `check:` section."""
    return [
        Threshold(metric, kind, limit, f"check.{kind}.{metric} in {source}")
        for kind in KINDS
        for metric, limit in getattr(check, kind).items()
    ]


def check_section(raw_config: Mapping[str, Any], source: str) -> CheckConfig:
    """Validate the `check:` section of an experiment config (YAML data) on its own, so a run
    written by another version of collapse-lab can still be checked."""
    try:
        return build(CheckConfig, raw_config.get("check") or {}, "check")
    except SchemaError as err:
        raise ConfigError(f"{source}: {err}.") from None


def combine(*sources: Iterable[Threshold]) -> list[Threshold]:
    """Later sources replace earlier ones on the same (metric, kind): a command-line flag
    overrides the config's value."""
    chosen: dict[tuple[str, str], Threshold] = {}
    for source in sources:
        for threshold in source:
            chosen[(threshold.metric, threshold.kind)] = threshold
    return list(chosen.values())


def evaluate(results: RunResults, thresholds: Iterable[Threshold]) -> list[Violation]:
    """Every violated threshold (at most one Violation each), in the order given."""
    thresholds = list(thresholds)
    if not results.rows:
        raise RunDirError(f"'{results.path}' has no finished generation to check yet.")
    known = results.metric_columns
    violations = []
    for threshold in thresholds:
        if threshold.metric not in known:
            raise ConfigError(_unknown_metric(threshold, known, results.path))
        violation = _violation(results, threshold)
        if violation is not None:
            violations.append(violation)
    return violations


def _violation(results: RunResults, threshold: Threshold) -> Violation | None:
    diverged = set(results.diverged_generations())
    points = list(zip(results.generations, results.series(threshold.metric), strict=True))
    unmeasured = {g: why for g, v in points if (why := _unmeasured(g, v, diverged)) is not None}
    measured = [(g, v) for g, v in points if g not in unmeasured]
    baseline = None
    bound = threshold.limit
    if threshold.kind == "max_increase" and points[0][0] not in unmeasured:
        baseline = points[0]
        if baseline[1] <= 0:
            raise ConfigError(
                f"{threshold.source}: a factor over the first value needs a positive first "
                f"value, but {threshold.metric} is {baseline[1]:g} at generation {baseline[0]}; "
                f"use a max threshold for {threshold.metric} instead."
            )
        bound = threshold.limit * baseline[1]
    if threshold.kind == "min":
        broken = {g: v for g, v in measured if v < bound}
    else:
        broken = {g: v for g, v in measured if v > bound}
    failing = sorted([*broken, *unmeasured])
    if not failing:
        return None
    first, *rest = failing
    return Violation(
        threshold,
        first,
        broken.get(first),
        bound,
        baseline,
        tuple(rest),
        unmeasured.get(first),
    )


def _unmeasured(generation: int, value: float | None, diverged: set[int]) -> str | None:
    """Why a generation's value cannot pass any threshold, or None when it can be compared."""
    if generation in diverged:
        return "diverged (its training failed)"
    if value is None:
        return "has no value"
    if math.isnan(value):
        return "is NaN"
    return None


def _unknown_metric(threshold: Threshold, known: list[str], path: Path) -> str:
    close = difflib.get_close_matches(threshold.metric, known, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return (
        f"{threshold.source}: '{threshold.metric}' is not a metric of the run '{path}'; "
        f"{hint}its metrics.csv has {', '.join(known)}."
    )
