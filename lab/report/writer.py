"""Write RUN/report.html and RUN/plots/*.png from what the run directory holds.

Generic over metrics.csv: one plot per metric column, and a heatmap for each family of
per-class or per-attribute columns (`share_<class>`, `attr_<name>`) that the run has. The
run's kind of data may add figures of its own (lab/domains: the vector runs' theory curves
and density plots).
A file is only rewritten when its bytes change, so reporting a finished run twice leaves it
untouched, and every write is atomic like the rest of the run directory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from lab.config import SamplingConfig
from lab.domains import report_sections
from lab.errors import LabError
from lab.monitor import check_section, config_thresholds, evaluate
from lab.report import figures
from lab.report.page import CheckRow, Contents, render
from lab.results import RunResults, read_run
from lab.runs import CONFIG_FILE, write_atomic

REPORT_FILE = "report.html"
PLOTS_DIR = "plots"
# Column families drawn as one heatmap each: prefix -> what a value is.
HEATMAP_FAMILIES = {"share_": "class share", "attr_": "attribute prevalence"}
MAX_TRACKED_CELLS = 8


def write_report(run_dir: Path) -> Path:
    """Write the report of the run in `run_dir` and return the path of report.html."""
    results = read_run(run_dir)
    plots: dict[str, bytes] = {}
    sections = report_sections(results)
    for section in sections:
        plots.update({figure.relative: figure.data for figure in section.figures})
    contents = Contents(
        results=results,
        sections=sections,
        grids=results.grid_paths(),
        heatmaps=_heatmaps(results, plots),
        metric_plots=_metric_plots(results, plots),
        loss_plot=_loss_plot(results, plots),
        **_cells(results, plots),
        **_checks(results),
    )
    for relative, data in plots.items():
        _write_if_changed(run_dir / relative, data)
    plots_dir = run_dir / PLOTS_DIR
    if plots_dir.is_dir():
        for stale in plots_dir.glob("*.png"):
            if f"{PLOTS_DIR}/{stale.name}" not in plots:
                stale.unlink()
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


def _heatmaps(results: RunResults, plots: dict[str, bytes]) -> list[str]:
    found = []
    for prefix, meaning in HEATMAP_FAMILIES.items():
        columns = [c for c in results.metric_columns if c.startswith(prefix)]
        if not columns:
            continue
        values = np.array(
            [[v if v is not None else np.nan for v in results.series(c)] for c in columns]
        )
        reference = results.reference
        real = (
            np.array([reference[c] for c in columns])
            if all(c in reference for c in columns)
            else None
        )
        labels = [_label(results, c.removeprefix(prefix)) for c in columns]
        relative = f"{PLOTS_DIR}/heatmap_{prefix.rstrip('_')}.png"
        title = f"{meaning}" + (" (real, then each generation)" if real is not None else "")
        plots[relative] = figures.heatmap(title, labels, results.generations, values, real)
        found.append(relative)
    return found


def _loss_plot(results: RunResults, plots: dict[str, bytes]) -> str | None:
    if not (results.path / "logs").is_dir():  # lab.training_logs.LOGS_DIR: nothing trained
        return None
    from lab.training_logs import read_curves  # imports Lightning

    curves = [(g, read_curves(results.path, g)) for g in results.generations]
    curves = [(g, c) for g, c in curves if c]
    if not curves:
        return None
    relative = f"{PLOTS_DIR}/training_loss.png"
    plots[relative] = figures.loss_curves(curves)
    return relative


def _cells(results: RunResults, plots: dict[str, bytes]) -> dict[str, str | None]:
    grids = results.grid_paths()
    if not grids:
        return {"cells_plot": None, "cells_note": "No grid pictures in this run."}
    from lab.grids import GRID_PADDING  # torchvision: only loaded for runs with grids

    sampling = results.config.get("sampling") or {}
    rows = int(sampling.get("grid_rows", SamplingConfig().grid_rows))
    images = []
    for generation, relative in grids:
        with Image.open(results.path / relative) as image:
            images.append((generation, image.copy()))
    try:
        figures.cell_size(images[0][1].width, rows, GRID_PADDING)
    except ValueError as err:
        return {"cells_plot": None, "cells_note": f"Cannot cut cells out of the grids: {err}."}
    cells = tracked_cells(rows)
    relative = f"{PLOTS_DIR}/cells.png"
    plots[relative] = figures.cell_strips(images, cells, rows, GRID_PADDING)
    note = (
        f"Cells {', '.join(map(str, cells))} of the {rows}x{rows} grid (the diagonal, counted "
        "row by row from 0), one column per generation."
    )
    return {"cells_plot": relative, "cells_note": note}


def tracked_cells(rows: int) -> list[int]:
    """The grid's diagonal (distinct rows and columns), at most MAX_TRACKED_CELLS of it."""
    diagonal = [i * (rows + 1) for i in range(rows)]
    if len(diagonal) <= MAX_TRACKED_CELLS:
        return diagonal
    picks = np.linspace(0, rows - 1, MAX_TRACKED_CELLS).round().astype(int)
    return [diagonal[i] for i in picks]


def _checks(results: RunResults) -> dict[str, Any]:
    """The run's own `check:` thresholds and whether they hold, for the report's top."""
    source = str(results.path / CONFIG_FILE)
    try:
        thresholds = config_thresholds(check_section(results.config, source), CONFIG_FILE)
        if not thresholds or not results.rows:
            return {}
        violations = {v.threshold: v for v in evaluate(results, thresholds)}
    except LabError as err:
        return {"check_error": str(err)}
    rows = []
    for threshold in thresholds:
        text = f"{threshold.kind} {threshold.metric} {threshold.limit:g}"
        violation = violations.get(threshold)
        detail = violation.line() if violation else f"holds in all {len(results.rows)} generations"
        rows.append(CheckRow(text, violation is None, detail))
    return {"checks": rows}


def _label(results: RunResults, suffix: str) -> str:
    """A class index becomes the judge's class name when the manifest has one."""
    classes = (results.manifest.get("judge") or {}).get("classes") or []
    if suffix.isdigit() and int(suffix) < len(classes) and str(classes[int(suffix)]) != suffix:
        return f"{suffix} ({classes[int(suffix)]})"
    return suffix


def _file_safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _write_if_changed(path: Path, data: bytes) -> None:
    if path.is_file() and path.read_bytes() == data:
        return
    write_atomic(path, data)
