"""`compare` for runs that repeat settings over several seeds: per group the mean and the
t-interval of every metrics.csv column (seeds.csv, plots with bands, the table with ±), and
paired differences between groups on the same seeds (differences.csv, the table).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from lab.analysis.seeds import (
    Difference,
    Estimate,
    SeedGroup,
    difference_estimates,
    group_estimates,
    paired_differences,
)
from lab.report.figures import band_plot
from lab.rundir.directory import format_value

SEEDS_FILE = "seeds.csv"
DIFFERENCES_FILE = "differences.csv"
_CSV_HEADER = ["generation", "metric", "seeds", "mean", "std", "low", "high", "confidence"]


def write_seed_comparison(
    groups: Sequence[SeedGroup],
    metrics: Sequence[str],
    headline: Sequence[str],
    out_dir: Path,
    confidence: float,
) -> str:
    """Write seeds.csv, differences.csv and plots/<metric>.png; return the table."""
    differences = paired_differences(groups)
    by_group = {group.label: group_estimates(group, metrics, confidence) for group in groups}
    by_difference = {d.label: difference_estimates(d, metrics, confidence) for d in differences}
    (out_dir / SEEDS_FILE).write_bytes(_estimates_csv("group", by_group, confidence))
    if differences:
        (out_dir / DIFFERENCES_FILE).write_bytes(
            _estimates_csv("difference", by_difference, confidence)
        )
    band = f"mean, {confidence:.0%} t-interval over seeds"
    for metric in metrics:
        series = []
        for group in groups:
            points = [(g, e) for (g, m), e in by_group[group.label].items() if m == metric]
            if points:
                generations = [g for g, _ in points]
                estimates = [e for _, e in points]
                series.append(
                    (
                        f"{group.label} ({len(group.runs)} seeds)",
                        generations,
                        [e.mean for e in estimates],
                        [e.low for e in estimates],
                        [e.high for e in estimates],
                    )
                )
        (out_dir / "plots" / f"{metric}.png").write_bytes(band_plot(metric, series, band))
    shown = [m for m in headline if m in metrics]
    return "\n\n".join(
        part
        for part in (
            _group_table(groups, by_group, shown, confidence),
            _difference_table(differences, by_difference, shown),
        )
        if part
    )


def _group_table(
    groups: Sequence[SeedGroup],
    estimates: dict[str, dict[tuple[int, str], Estimate]],
    metrics: Sequence[str],
    confidence: float,
) -> str:
    """Each group's first and last generation that all its seeds have, per headline metric."""
    cells = {}
    spans = {}
    for group in groups:
        common = group.common_generations() or group.generations()
        first, last = common[0], common[-1]
        spans[group.label] = f"{first}-{last}"
        for metric in metrics:
            ends = [estimates[group.label].get((g, metric)) for g in (first, last)]
            cells[group.label, metric] = " -> ".join(e.text() if e else "-" for e in ends)
    title = (
        f"seed groups: mean ± half-width of the {confidence:.0%} t-interval over seeds "
        "(one seed: its value, no interval), first -> last generation all seeds have"
    )
    rows = [[group.label, str(len(group.runs)), spans[group.label]] for group in groups]
    rows = [row + [cells[row[0], m] for m in metrics] for row in rows]
    return title + "\n" + _aligned(["group", "seeds", "gens", *metrics], rows)


def _difference_table(
    differences: Sequence[Difference],
    estimates: dict[str, dict[tuple[int, str], Estimate]],
    metrics: Sequence[str],
) -> str:
    """Each paired difference at the last generation every shared seed has."""
    if not differences:
        return ""
    rows = []
    for difference in differences:
        common = difference.common_generations()
        if not common:
            continue
        last = common[-1]
        row = [difference.label, str(last), str(len(difference.seeds))]
        for metric in metrics:
            found = estimates[difference.label].get((last, metric))
            row.append(found.text() if found else "-")
        rows.append(row)
    title = "paired differences on the same seeds, at the last generation they all have"
    return title + "\n" + _aligned(["difference", "gen", "seeds", *metrics], rows)


def _aligned(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        first = row[0].ljust(widths[0])
        rest = "".join(
            "  " + cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        )
        lines.append(first + rest)
    return "\n".join(lines)


def _estimates_csv(
    kind: str, tables: dict[str, dict[tuple[int, str], Estimate]], confidence: float
) -> bytes:
    """One row per (group or difference, generation, metric); std, low and high are empty
    for a single seed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([kind, *_CSV_HEADER])
    for label, table in tables.items():
        for (generation, metric), found in sorted(table.items()):
            values = [found.mean, found.std, found.low, found.high]
            writer.writerow(
                [label, generation, metric, found.n, *map(format_value, values), confidence]
            )
    return buffer.getvalue().encode()
