"""The collapse timeline: from which generation on each stage of collapse is visible.

Shumailov et al. (Nature 2024) describe collapse in two stages: in *early* collapse the model
loses the tails of the distribution while the overall numbers barely move; in *late*
collapse it loses most of its variety. The domain names the columns that show each stage
(`CollapseSignals`), the run's `check:` section the fractions (`EarlyCollapseConfig`,
`LateCollapseConfig`), and this module finds the first generation that meets them, or says
why none does, in one line per stage. It reports; the exit code of `collapse-lab check`
stays the thresholds'.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lab.domains.protocol import CollapseSignals
from lab.experiment import CheckConfig
from lab.rundir.results import RunResults

EARLY = "early collapse"
LATE = "late collapse"
NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class Stage:
    """One stage: its first generation (None when not reached or not measured) and why."""

    name: str
    generation: int | None
    detail: str

    def line(self) -> str:
        if self.generation is None:
            return f"{self.name}: {self.detail}"
        return f"{self.name}: from generation {self.generation} ({self.detail})"


def collapse_timeline(
    results: RunResults, signals: CollapseSignals, check: CheckConfig
) -> list[Stage]:
    """Both stages; none when the run has no column of either (a run older than them)."""
    if not results.rows:
        return []
    stages = [early_stage(results, signals, check), late_stage(results, signals, check)]
    if all(stage.detail.startswith(NOT_MEASURED) for stage in stages):
        return []
    return stages


def early_stage(results: RunResults, signals: CollapseSignals, check: CheckConfig) -> Stage:
    """The first generation where a tail column is below `tails_below` x its first value
    while the quality column is at most `quality_within` x its first value."""
    below, within = check.early_collapse.tails_below, check.early_collapse.quality_within
    tails = {n: results.series(n) for n in signals.tails if n in results.metric_columns}
    if not tails or signals.quality not in results.metric_columns:
        wanted = " or ".join(signals.tails)
        return Stage(EARLY, None, f"{NOT_MEASURED}: the run has no {wanted} and {signals.quality}")
    first = results.generations[0]
    if not any(series[0] for series in tails.values()):
        names = ", ".join(tails)
        return Stage(
            EARLY, None, f"not seen: {names} already 0 at generation {first}, nothing left to lose"
        )
    quality = results.series(signals.quality)
    fell_too_late = None
    for index, generation in enumerate(results.generations):
        fallen = [
            f"{name} {series[index]:.4g} < {below:g} x generation {first}'s {series[0]:.4g}"
            for name, series in tails.items()
            if _below(series[index], below, series[0])
        ]
        if not fallen or quality[index] is None or quality[0] is None:
            continue
        if quality[index] <= within * quality[0]:
            held = (
                f"{signals.quality} {quality[index]:.4g} <= {within:g} x generation {first}'s "
                f"{quality[0]:.4g}"
            )
            return Stage(EARLY, generation, f"{fallen[0]}, while {held}")
        if fell_too_late is None:
            fell_too_late = (
                f"not seen: the tails fell only after {signals.quality} had passed {within:g} x "
                f"generation {first}'s ({fallen[0]} at generation {generation}, when "
                f"{signals.quality} was {quality[index]:.4g})"
            )
    if fell_too_late is not None:
        return Stage(EARLY, None, fell_too_late)
    lowest = _lowest(results, {name: series[0] for name, series in tails.items()})
    return Stage(
        EARLY,
        None,
        f"not seen in {len(results.rows)} generations (lowest: {lowest} x generation "
        f"{first}'s; early collapse is below {below:g} x)",
    )


def late_stage(results: RunResults, signals: CollapseSignals, check: CheckConfig) -> Stage:
    """The first generation where a diversity column is below `diversity_below` x the real
    data's value (the manifest's reference)."""
    below = check.late_collapse.diversity_below
    real = {
        name: results.reference[name]
        for name in signals.diversity
        if name in results.metric_columns and results.reference.get(name, 0) > 0
    }
    if not real:
        wanted = " or ".join(signals.diversity)
        return Stage(
            LATE,
            None,
            f"{NOT_MEASURED}: the run's manifest holds no real-data value of {wanted} to compare "
            "with (runs made before the timeline existed lack it)",
        )
    series = {name: results.series(name) for name in real}
    for index, generation in enumerate(results.generations):
        for name, value in real.items():
            measured = series[name][index]
            if _below(measured, below, value):
                detail = f"{name} {measured:.4g} < {below:g} x the real data's {value:.4g}"
                return Stage(LATE, generation, detail)
    lowest = _lowest(results, real)
    return Stage(
        LATE,
        None,
        f"not reached in {len(results.rows)} generations (lowest: {lowest} x the real data's; "
        f"late collapse is below {below:g} x)",
    )


def _below(value: float | None, fraction: float, base: float | None) -> bool:
    return value is not None and base is not None and value < fraction * base


def _lowest(results: RunResults, bases: Mapping[str, float | None]) -> str:
    """'name at generation g: r' for the column and generation lowest relative to its base."""
    found = [
        (value / base, name, generation)
        for name, base in bases.items()
        if base
        for generation, value in zip(results.generations, results.series(name), strict=True)
        if value is not None
    ]
    if not found:
        return "no value"
    ratio, name, generation = min(found)
    return f"{name} at generation {generation}: {ratio:.3g}"
