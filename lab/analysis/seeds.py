"""Statistics across seeds: runs that differ only in their seed form a group, and every
metrics.csv column gets, per group and generation, a mean, a standard deviation and a
t-interval; groups that differ in one setting (a regime, say, or an optional section such
as `curate` that one of them lacks) are compared seed by seed.

Why a t-interval: a handful of seeds is a small sample from an unknown spread, so the interval
around the mean is mean +/- t(1 - (1 - confidence) / 2, n - 1) * s / sqrt(n), with s the
sample standard deviation (n - 1 in the denominator). One seed gives no spread, so a group of
one seed shows its value and no interval rather than a wrong one.

Why paired differences: runs with the same seed share their generation 0 exactly and draw the
same noise after it, so the difference between two regimes on the same seed removes most of
the seed-to-seed spread; its t-interval over seeds is much narrower than the two groups'
intervals side by side would suggest.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from scipy import stats

from lab.errors import RunDirError
from lab.experiment import OBSERVER_SECTIONS
from lab.rundir.results import RunResults

SEED_KEY = "seed"
# Config keys that do not tell groups apart: what the run is called, what only watches it.
IGNORED_SECTIONS = ("name", *OBSERVER_SECTIONS)
DEFAULT_CONFIDENCE = 0.95
_MISSING = "<not set>"


@dataclass(frozen=True)
class Estimate:
    """A metric over n seeds: mean, sample standard deviation and t-interval (None for n 1)."""

    n: int
    mean: float
    std: float | None
    low: float | None
    high: float | None

    @property
    def half_width(self) -> float | None:
        return None if self.low is None or self.high is None else (self.high - self.low) / 2

    def text(self) -> str:
        """'384.1 ± 25' (or '384.1' for one seed): the mean to 4 significant digits, the
        half-width to 2, both without exponents in the range metrics live in."""
        if self.half_width is None:
            return short_number(self.mean, 4)
        return f"{short_number(self.mean, 4)} ± {short_number(self.half_width, 2)}"


def short_number(value: float, significant: int) -> str:
    """`value` to `significant` digits in plain notation (exponents only far from 1)."""
    if not math.isfinite(value) or value == 0:
        return f"{value:g}"
    magnitude = math.floor(math.log10(abs(value)))
    if not -5 <= magnitude < 7:
        return f"{value:.{significant}g}"
    digits = significant - 1 - magnitude
    text = f"{round(value, digits):.{max(0, digits)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def estimate(values: Sequence[float], confidence: float = DEFAULT_CONFIDENCE) -> Estimate:
    """The estimate of `values` (one per seed; at least one)."""
    n = len(values)
    mean = statistics.fmean(values)
    if n < 2:
        return Estimate(n, mean, None, None, None)
    std = statistics.stdev(values)
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    return Estimate(n, mean, std, mean - half, mean + half)


@dataclass(frozen=True)
class SeedGroup:
    """Runs whose configs differ only in their seed; `settings` are the values of the keys
    that tell this group from the others."""

    label: str
    settings: dict[str, str]
    runs: dict[int | None, RunResults]

    @property
    def seeds(self) -> list[int | None]:
        return list(self.runs)

    @cached_property
    def _rows(self) -> dict[int | None, dict[int, dict[str, str]]]:
        """seed -> generation -> metrics.csv row, read once."""
        return {
            seed: dict(zip(run.generations, run.rows, strict=True))
            for seed, run in self.runs.items()
        }

    def values(self, seeds: Sequence[int | None], generation: int, metric: str) -> list[float]:
        """The metric at `generation` for each of `seeds` whose run has a value there."""
        found = []
        for seed in seeds:
            value = self._rows[seed].get(generation, {}).get(metric)
            if value:
                found.append(float(value))
        return found

    def generations(self) -> list[int]:
        every = {g for run in self.runs.values() for g in run.generations}
        return sorted(every)

    def common_generations(self) -> list[int]:
        """The generations every seed of the group has finished."""
        sets = [set(run.generations) for run in self.runs.values()]
        return sorted(set.intersection(*sets))


@dataclass(frozen=True)
class Difference:
    """`second` minus `first`, two groups that differ in one key, over the seeds both have."""

    label: str
    first: SeedGroup
    second: SeedGroup
    seeds: list[int | None]

    def values(self, generation: int, metric: str) -> list[float]:
        found = []
        for seed in self.seeds:
            pair = [group.values([seed], generation, metric) for group in (self.first, self.second)]
            if all(pair):
                found.append(pair[1][0] - pair[0][0])
        return found

    def common_generations(self) -> list[int]:
        runs = [group.runs[seed] for group in (self.first, self.second) for seed in self.seeds]
        return sorted(set.intersection(*(set(run.generations) for run in runs)))


def group_by_seed(results: Sequence[RunResults]) -> list[SeedGroup]:
    """Group runs by their config without the seed (and without name, check, logging), in
    the order the runs come; a group holds each seed once."""
    if not results:
        return []
    flat = [_flatten(run.config) for run in results]
    keys = sorted({key for config in flat for key in config if _telling(key)})
    members: dict[tuple[str, ...], list[int]] = {}
    for index, config in enumerate(flat):
        identity = tuple(_canonical(config.get(key, _MISSING)) for key in keys)
        members.setdefault(identity, []).append(index)
    absent = {identity: _absent_sections(keys, identity) for identity in members}
    # A section some groups lack altogether (an optional one such as curate) tells them apart
    # as one setting; its keys tell apart only the groups that have it.
    optional = set.union(*absent.values()) - set.intersection(*absent.values())

    def lacks(identity: tuple[str, ...], key: str) -> bool:
        return _section(key) in optional and _section(key) in absent[identity]

    telling = [
        key
        for position, key in enumerate(keys)
        if len({i[position] for i in members if not lacks(i, key)}) > 1
    ]
    groups = []
    for identity, indices in members.items():
        settings = {
            section: _MISSING for section in sorted(optional) if section in absent[identity]
        }
        settings |= {key: identity[keys.index(key)] for key in telling if not lacks(identity, key)}
        runs: dict[int | None, RunResults] = {}
        for index in indices:
            seed = results[index].config.get(SEED_KEY)
            if seed in runs:
                raise RunDirError(
                    f"runs '{runs[seed].path}' and '{results[index].path}' have the same config "
                    f"and seed {seed}; a seed counts once across seeds, so pass one of them."
                )
            runs[seed] = results[index]
        label = ", ".join(f"{key}={value}" for key, value in settings.items())
        groups.append(SeedGroup(label or results[indices[0]].name, settings, runs))
    return groups


def has_seed_groups(groups: Sequence[SeedGroup]) -> bool:
    """True when some group holds several seeds: then the runs are compared as groups."""
    return any(len(group.runs) > 1 for group in groups)


def paired_differences(groups: Sequence[SeedGroup]) -> list[Difference]:
    """Every pair of groups that differ in exactly one key, the later minus the earlier, on
    the seeds both have (e.g. 'regime: accumulate - replace')."""
    found = []
    for position, first in enumerate(groups):
        for second in groups[position + 1 :]:
            keys = [*first.settings, *(k for k in second.settings if k not in first.settings)]
            differing = [k for k in keys if first.settings.get(k) != second.settings.get(k)]
            seeds = [seed for seed in second.seeds if seed in first.runs]
            label = _one_setting(differing, first.settings, second.settings)
            if label is not None and seeds:
                found.append(Difference(label, first, second, seeds))
    return found


def _one_setting(
    differing: Sequence[str], first: Mapping[str, str], second: Mapping[str, str]
) -> str | None:
    """'key: second - first' when the groups differ in one setting: one key, or one optional
    section that one of them lacks (its keys in the other shown as the value); else None."""
    if len(differing) == 1 and differing[0] in first and differing[0] in second:
        key = differing[0]
        return f"{key}: {second[key]} - {first[key]}"
    sections = {_section(key) for key in differing}
    if len(sections) != 1:
        return None
    (section,) = sections

    def value(settings: Mapping[str, str]) -> str:
        if settings.get(section) == _MISSING:
            return _MISSING
        inside = [
            f"{k.removeprefix(section + '.')}={v}"
            for k, v in settings.items()
            if _section(k) == section
        ]
        return ", ".join(inside) or "set"

    if _MISSING not in (first.get(section), second.get(section)):
        return None
    return f"{section}: {value(second)} - {value(first)}"


def group_estimates(
    group: SeedGroup, metrics: Sequence[str], confidence: float = DEFAULT_CONFIDENCE
) -> dict[tuple[int, str], Estimate]:
    """(generation, metric) -> estimate over the group's seeds that have a value there."""
    found = {}
    for generation in group.generations():
        for metric in metrics:
            values = group.values(group.seeds, generation, metric)
            if values:
                found[generation, metric] = estimate(values, confidence)
    return found


def difference_estimates(
    difference: Difference, metrics: Sequence[str], confidence: float = DEFAULT_CONFIDENCE
) -> dict[tuple[int, str], Estimate]:
    """(generation, metric) -> estimate of the paired difference over the shared seeds."""
    found = {}
    generations = sorted(set(difference.first.generations()) & set(difference.second.generations()))
    for generation in generations:
        for metric in metrics:
            values = difference.values(generation, metric)
            if values:
                found[generation, metric] = estimate(values, confidence)
    return found


def _section(key: str) -> str:
    return key.split(".")[0]


def _absent_sections(keys: Sequence[str], identity: Sequence[str]) -> set[str]:
    """The sections with keys among `keys` of which this identity has none set."""
    present = {
        _section(key) for key, value in zip(keys, identity, strict=True) if value != _MISSING
    }
    return {_section(key) for key in keys if "." in key} - present


def _telling(key: str) -> bool:
    return key != SEED_KEY and _section(key) not in IGNORED_SECTIONS


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in config.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, dotted))
        else:
            flat[dotted] = value
    return flat


def _canonical(value: Any) -> str:
    """A value as a label shows it: strings bare, everything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
