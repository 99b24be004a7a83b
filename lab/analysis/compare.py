"""Runs side by side: one table, one plot per metric with a line per run, last grids in a strip.

This is how the regimes are judged against each other (`make demo-regimes`): the same seed
and budget, differing only in what each generation trains on. Runs that repeat settings over
several seeds are compared as groups of seeds instead (lab/analysis/seeds.py).
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from lab.analysis.seed_compare import write_seed_comparison
from lab.analysis.seeds import DEFAULT_CONFIDENCE, group_by_seed, has_seed_groups
from lab.curation.files import COLUMNS as CURATION_COLUMNS
from lab.domains.registry import headline_of, pictures_of
from lab.errors import RunDirError
from lab.report.figures import comparison_plot
from lab.rundir.atomic import write_atomic
from lab.rundir.directory import CONFIG_FILE
from lab.rundir.results import RunResults, read_run
from lab.sweeps.record import cell_dirs

log = logging.getLogger("collapse_lab")

# Shown for every run after its domain's headline columns: what the regime made its data,
# and what a curator kept of its draws (lab/curation/), where some run has them.
LOOP_COLUMNS = ("synthetic_fraction", *CURATION_COLUMNS)
_LABEL_HEIGHT = 16
_STRIP_GAP = 8
_CELL_WIDTH = 22


@dataclass(frozen=True)
class LabelledRun:
    label: str
    results: RunResults


def compare(paths: list[Path], out_dir: Path, confidence: float = DEFAULT_CONFIDENCE) -> str:
    """Write compare.csv, plots/<metric>.png and last_grids.png (when the runs have grids) to
    `out_dir`; return the table. A folder of runs (a sweep, a night's seeds) stands for the
    runs in it. When some runs differ only in their seed, they are compared as groups of
    seeds (lab/analysis/seed_compare.py: seeds.csv, differences.csv, plots with bands)."""
    results = read_runs(paths)
    runs = _labelled(results)
    columns = _metric_columns(runs)
    write_atomic(out_dir / "compare.csv", _long_csv(runs, columns))
    groups = group_by_seed(results)
    if has_seed_groups(groups):
        table = write_seed_comparison(groups, columns, _headline(runs), out_dir, confidence)
    else:
        for metric in columns:
            series = [(r.label, r.results.generations, r.results.series(metric)) for r in runs]
            write_atomic(out_dir / "plots" / f"{metric}.png", comparison_plot(metric, series))
        table = final_table(runs)
    with_grids = [run for run in runs if pictures_of(run.results)]
    if with_grids:
        strip = io.BytesIO()
        _grid_strip(with_grids).save(strip, format="PNG")
        write_atomic(out_dir / "last_grids.png", strip.getvalue())
    return table


def read_runs(paths: list[Path]) -> list[RunResults]:
    """Each path's run; a folder that is not a run but holds runs (a sweep's folder, in its
    cells' order, or any folder of run directories) stands for its runs that have finished
    a generation."""
    results = []
    for path in paths:
        inside = _runs_inside(path)
        if inside is None:
            results.append(read_run(path))
            continue
        for run_dir in inside:
            run = read_run(run_dir)
            if run.rows:
                results.append(run)
            else:
                log.warning("leaving out %s: no generation finished yet", run_dir)
    return results


def _runs_inside(path: Path) -> list[Path] | None:
    if not path.is_dir() or (path / CONFIG_FILE).is_file():
        return None
    listed = cell_dirs(path)
    found = listed if listed is not None else sorted(p for p in path.iterdir() if p.is_dir())
    found = [p for p in found if (p / CONFIG_FILE).is_file()]
    return found or None


def final_table(runs: list[LabelledRun]) -> str:
    """Each run's first and last generation for the headline metrics it has."""
    metrics = _headline(runs)
    cells = {
        (run.label, m): f"{_value(run.results.rows[0], m)} -> {_value(run.results.rows[-1], m)}"
        for run in runs
        for m in metrics
    }
    width = max(len(r.label) for r in runs) + 2
    cell = max([_CELL_WIDTH - 2, *map(len, cells.values())]) + 2
    lines = [
        f"{'run':<{width}}{'gens':>6}" + "".join(f"{m:>{cell}}" for m in metrics),
        f"{'':<{width}}{'':>6}" + "".join(f"{'first -> last':>{cell}}" for _ in metrics),
    ]
    for run in runs:
        row = "".join(cells[run.label, m].rjust(cell) for m in metrics)
        lines.append(f"{run.label:<{width}}{len(run.results.rows):>6}{row}")
    return "\n".join(lines)


def _headline(runs: list[LabelledRun]) -> list[str]:
    """The domains' headline columns, then the loop's, that some run has."""
    headline: list[str] = []
    for run in runs:
        headline += [m for m in headline_of(run.results.config) if m not in headline]
    headline += LOOP_COLUMNS
    return [m for m in headline if any(m in r.results.metric_columns for r in runs)]


def _value(row: dict[str, str], metric: str) -> str:
    return row.get(metric) or "-"


def _labelled(results: list[RunResults]) -> list[LabelledRun]:
    """Label runs by config name and regime; add the folder name where labels collide."""
    for run in results:
        if not run.rows:
            raise RunDirError(
                f"run '{run.path}' has no finished generation yet; nothing to compare."
            )
    labels = [f"{r.name} ({r.config.get('regime', '?')})" for r in results]
    return [
        LabelledRun(f"{label} {r.path.name}" if labels.count(label) > 1 else label, r)
        for label, r in zip(labels, results, strict=True)
    ]


def _metric_columns(runs: list[LabelledRun]) -> list[str]:
    columns: list[str] = []
    for run in runs:
        columns += [c for c in run.results.metric_columns if c not in columns]
    return columns


def _long_csv(runs: list[LabelledRun], columns: list[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["run", "path", "generation", *columns])
    for run in runs:
        for generation, row in zip(run.results.generations, run.results.rows, strict=True):
            values = [row.get(name, "") for name in columns]
            writer.writerow([run.label, str(run.results.path), generation, *values])
    return buffer.getvalue().encode()


def _grid_strip(runs: list[LabelledRun]) -> Image.Image:
    """The last finished generation's grid of every run, side by side, each labelled."""
    last = [(run, pictures_of(run.results)[-1]) for run in runs]
    grids = [
        Image.open(io.BytesIO(run.results.read_file(relative))).convert("RGB")
        for run, (_, relative) in last
    ]
    width = sum(g.width for g in grids) + _STRIP_GAP * (len(grids) - 1)
    strip = Image.new("RGB", (width, max(g.height for g in grids) + _LABEL_HEIGHT), "white")
    draw = ImageDraw.Draw(strip)
    x = 0
    for (run, (generation, _)), grid in zip(last, grids, strict=True):
        draw.text((x + 2, 2), f"{run.label}, gen {generation}", fill="black")
        strip.paste(grid, (x, _LABEL_HEIGHT))
        x += grid.width + _STRIP_GAP
    return strip
