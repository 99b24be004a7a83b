"""The image domain's part of report.html: the grids of every generation, the same grid
cells followed across generations, what a curator kept (curation_report.py), and heatmaps
of the per-class and per-attribute columns.

Grids are files the run already holds (the page links them); the cell strips and heatmaps
are drawn here from the grids and metrics.csv.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from lab.domains.images.curation_report import curation_section
from lab.domains.images.files import grid_paths
from lab.domains.images.grids import GRID_PADDING
from lab.domains.images.settings import ImageSamplingConfig
from lab.domains.protocol import ReportFigure, ReportSection
from lab.report import figures
from lab.report.figures import PLOTS_DIR
from lab.rundir.results import RunResults

# Column families drawn as one heatmap each: prefix -> what a value is.
HEATMAP_FAMILIES = {"share_": "class share", "attr_": "attribute prevalence"}
MAX_TRACKED_CELLS = 8
CELLS_TITLE = "The same latent across generations"


def report_sections(results: RunResults) -> list[ReportSection]:
    if not results.rows:
        return []
    sections = []
    rows = _grid_rows(results)
    grids = grid_paths(results)
    if grids:
        sections += [_grids(grids), _cells(results, grids, rows)]
    curated = curation_section(results, rows)
    if curated is not None:
        sections.append(curated)
    heatmaps = _heatmaps(results)
    if heatmaps:
        title = "Class shares and attributes against the real data"
        sections.append(ReportSection(title, "", heatmaps))
    return sections


def _grids(grids: list[tuple[int, str]]) -> ReportSection:
    note = (
        "Every grid is drawn from the same latent noise, so a cell shows what one latent "
        "becomes in each generation."
    )
    shown = [ReportFigure(relative, None, f"generation {g}") for g, relative in grids]
    return ReportSection("Samples of every generation", note, shown, strip=True)


def _grid_rows(results: RunResults) -> int:
    """sampling.grid_rows as the run was made with it: the rows (and columns) of its grids."""
    sampling = results.config.get("sampling") or {}
    return int(sampling.get("grid_rows", ImageSamplingConfig().grid_rows))


def _cells(results: RunResults, grids: list[tuple[int, str]], rows: int) -> ReportSection:
    images = []
    for generation, relative in grids:
        with Image.open(io.BytesIO(results.read_file(relative))) as image:
            images.append((generation, image.copy()))
    try:
        figures.cell_size(images[0][1].width, rows, GRID_PADDING)
    except ValueError as err:
        return ReportSection(CELLS_TITLE, f"Cannot cut cells out of the grids: {err}.")
    cells = tracked_cells(rows)
    note = (
        f"Cells {', '.join(map(str, cells))} of the {rows}x{rows} grid (the diagonal, counted "
        "row by row from 0), one column per generation."
    )
    strips = figures.cell_strips(images, cells, rows, GRID_PADDING)
    return ReportSection(
        CELLS_TITLE,
        note,
        [ReportFigure(f"{PLOTS_DIR}/cells.png", strips, "fixed cells per generation")],
    )


def tracked_cells(rows: int) -> list[int]:
    """The grid's diagonal (distinct rows and columns), at most MAX_TRACKED_CELLS of it."""
    diagonal = [i * (rows + 1) for i in range(rows)]
    if len(diagonal) <= MAX_TRACKED_CELLS:
        return diagonal
    picks = np.linspace(0, rows - 1, MAX_TRACKED_CELLS).round().astype(int)
    return [diagonal[i] for i in picks]


def _heatmaps(results: RunResults) -> list[ReportFigure]:
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
        data = figures.heatmap(title, labels, results.generations, values, real)
        found.append(ReportFigure(relative, data, "heatmap"))
    return found


def _label(results: RunResults, suffix: str) -> str:
    """A class index becomes the judge's class name when the manifest has one."""
    classes = (results.manifest.get("judge") or {}).get("classes") or []
    if suffix.isdigit() and int(suffix) < len(classes) and str(classes[int(suffix)]) != suffix:
        return f"{suffix} ({classes[int(suffix)]})"
    return suffix
