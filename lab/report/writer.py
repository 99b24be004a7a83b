"""Write RUN/report.html and RUN/plots/*.png from what the run directory holds.

Generic over metrics.csv: one plot per metric column, the training losses when the run
logged any, the table and the run's own check thresholds. What only the run's kind of data
can draw (an image run's grids and heatmaps, a vector run's theory curves and densities)
comes from its domain (lab/domains/registry.py).
A file is only rewritten when its bytes change, so reporting a finished run twice leaves it
untouched, and every write is atomic like the rest of the run directory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lab.analysis.monitor import check_section, config_thresholds, evaluate
from lab.analysis.timeline import collapse_timeline
from lab.domains.registry import report_sections, signals_of
from lab.errors import LabError
from lab.report import figures
from lab.report.figures import PLOTS_DIR
from lab.report.page import CheckRow, Contents, render
from lab.rundir.atomic import remove, write_atomic
from lab.rundir.directory import CONFIG_FILE
from lab.rundir.results import RunResults, read_run
from lab.training.logs import LOGS_DIR, read_curves

REPORT_FILE = "report.html"


def write_report(run_dir: Path) -> Path:
    """Write the report of the run in `run_dir` and return the path of report.html."""
    results = read_run(run_dir)
    plots: dict[str, bytes] = {}
    sections = report_sections(results)
    for section in sections:
        drawn = [*section.figures, *section.charts]
        plots.update({f.relative: f.data for f in drawn if f.data is not None})
    contents = Contents(
        results=results,
        sections=sections,
        metric_plots=_metric_plots(results, plots),
        loss_plot=_loss_plot(results, plots),
        **_checks(results),
    )
    for relative, data in plots.items():
        _write_if_changed(run_dir / relative, data)
    plots_dir = run_dir / PLOTS_DIR
    if plots_dir.is_dir():
        for stale in plots_dir.glob("*.png"):
            if f"{PLOTS_DIR}/{stale.name}" not in plots:
                remove(stale)
    report = run_dir / REPORT_FILE
    _write_if_changed(report, render(contents).encode())
    return report


def _metric_plots(results: RunResults, plots: dict[str, bytes]) -> list[tuple[str, str]]:
    reference = results.reference
    found = []
    for column in results.metric_columns:
        relative = f"{PLOTS_DIR}/metric_{_file_safe(column)}.png"
        plots[relative] = figures.metric_plot(
            column, results.generations, results.series(column), reference.get(column)
        )
        found.append((column, relative))
    return found


def _loss_plot(results: RunResults, plots: dict[str, bytes]) -> str | None:
    if not (results.path / LOGS_DIR).is_dir():  # nothing trained with Lightning
        return None
    curves = [(g, read_curves(results.path, g)) for g in results.generations]
    curves = [(g, c) for g, c in curves if c]
    if not curves:
        return None
    relative = f"{PLOTS_DIR}/training_loss.png"
    plots[relative] = figures.loss_curves(curves)
    return relative


def _checks(results: RunResults) -> dict[str, Any]:
    """The run's own `check:` thresholds and whether they hold, and its collapse timeline,
    for the report's top."""
    source = str(results.path / CONFIG_FILE)
    try:
        section = check_section(results.config, source)
        thresholds = config_thresholds(section, CONFIG_FILE)
        signals = signals_of(results.config)
        stages = collapse_timeline(results, signals, section) if signals else []
        timeline = {"timeline": [stage.line() for stage in stages]} if stages else {}
        if not thresholds or not results.rows:
            return timeline
        violations = {v.threshold: v for v in evaluate(results, thresholds)}
    except LabError as err:
        return {"check_error": str(err)}
    rows = []
    for threshold in thresholds:
        text = f"{threshold.kind} {threshold.metric} {threshold.limit:g}"
        violation = violations.get(threshold)
        detail = violation.line() if violation else f"holds in all {len(results.rows)} generations"
        rows.append(CheckRow(text, violation is None, detail))
    return {"checks": rows, **timeline}


def _file_safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _write_if_changed(path: Path, data: bytes) -> None:
    if path.is_file() and path.read_bytes() == data:
        return
    write_atomic(path, data)
