"""The report's pictures as PNG bytes, drawn with matplotlib's Agg canvas (no display, no
pyplot state, so reports can be written from any process).

PNG metadata carries no date, so redrawing an unchanged run gives the same bytes and the
report of a finished run is not rewritten.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

if TYPE_CHECKING:
    from lab.training.logs import Curve

# Where a run's report pictures go, relative to the run directory.
PLOTS_DIR = "plots"
DPI = 100
METRIC_FIGSIZE = (4.0, 2.8)
COMPARISON_FIGSIZE = (6.0, 3.6)
CELL_INCHES = 0.75
CELL_GAP = 4  # white pixels between cells in the mosaic
HEATMAP_CELL_INCHES = (0.55, 0.32)
# log2(sample value / real value) is clipped here: 8x more or less reads the same as gone.
HEATMAP_LOG2_RANGE = 3.0
MAX_ANNOTATED_CELLS = 600
DARK_CELL_DISTANCE = 0.3  # cells this far from the colour map's middle get white numbers
MAX_LEGEND_GENERATIONS = 12
MAX_MARKED_POINTS = 50  # longer series are drawn as a plain line
LOSS_NAME = "loss"


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def metric_plot(
    column: str, generations: Sequence[int], values: Sequence[float | None], real: float | None
) -> bytes:
    """One metric against generation, with the real data's value as a dashed line if known."""
    figure = Figure(figsize=METRIC_FIGSIZE, layout="constrained")
    axes = figure.add_subplot()
    points = [(g, v) for g, v in zip(generations, values, strict=True) if v is not None]
    if points:
        xs, ys = zip(*points, strict=True)
        marker = "o" if len(points) <= MAX_MARKED_POINTS else None
        axes.plot(xs, ys, marker=marker, color="tab:blue", label="samples")
    if real is not None:
        axes.axhline(real, color="tab:gray", linestyle="--", label="real")
        axes.legend(loc="best", fontsize="small")
    axes.set_title(column)
    axes.set_xlabel("generation")
    _integer_ticks(axes, generations)
    axes.grid(alpha=0.3)
    return png(figure)


def comparison_plot(
    column: str,
    series: Sequence[tuple[str, Sequence[int], Sequence[float | None]]],
    real: float | None = None,
) -> bytes:
    """One metric against generation with a line per run: (label, generations, values), and
    the real data's value as a dashed line if given."""
    figure = Figure(figsize=COMPARISON_FIGSIZE, layout="constrained")
    axes = figure.add_subplot()
    longest: list[int] = []
    for label, generations, values in series:
        points = [(g, v) for g, v in zip(generations, values, strict=True) if v is not None]
        if points:
            xs, ys = zip(*points, strict=True)
            axes.plot(xs, ys, marker="o" if len(points) <= MAX_MARKED_POINTS else None, label=label)
        longest = max(longest, list(generations), key=len)
    if real is not None:
        axes.axhline(real, color="tab:gray", linestyle="--", label="real")
    axes.set_title(column)
    axes.set_xlabel("generation")
    _integer_ticks(axes, longest)
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    return png(figure)


def heatmap(
    title: str,
    labels: Sequence[str],
    generations: Sequence[int],
    values: np.ndarray,
    real: np.ndarray | None,
) -> bytes:
    """Rows are classes or attributes, columns generations (after a `real` column when the
    real values are known). Colour is log2(value / real), so a vanishing class turns red
    whatever its real share; the numbers in the cells are the values themselves."""
    columns = (["real"] if real is not None else []) + [str(g) for g in generations]
    table = values if real is None else np.column_stack([real, values])
    width = max(6.0, HEATMAP_CELL_INCHES[0] * len(columns) + 2.5)
    height = max(2.5, HEATMAP_CELL_INCHES[1] * len(labels) + 1.4)
    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.add_subplot()
    if real is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.log2(np.maximum(table, 1e-12) / real[:, None])
        colours = np.clip(np.nan_to_num(ratio), -HEATMAP_LOG2_RANGE, HEATMAP_LOG2_RANGE)
        image = axes.imshow(
            colours, cmap="RdBu", vmin=-HEATMAP_LOG2_RANGE, vmax=HEATMAP_LOG2_RANGE, aspect="auto"
        )
        figure.colorbar(image, ax=axes, label="log2(samples / real)")
    else:
        image = axes.imshow(table, cmap="viridis", aspect="auto")
        figure.colorbar(image, ax=axes)
    if table.size <= MAX_ANNOTATED_CELLS:
        shade = image.norm(image.get_array())
        for (row, column), value in np.ndenumerate(table):
            dark = abs(float(shade[row, column]) - 0.5) > DARK_CELL_DISTANCE
            axes.text(
                column,
                row,
                f"{value:.3f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if dark else "black",
            )
    axes.set_xticks(range(len(columns)), columns)
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("generation")
    axes.set_title(title)
    return png(figure)


def loss_curves(curves_by_generation: Sequence[tuple[int, Sequence[Curve]]]) -> bytes:
    """One panel per logged quantity, one line per generation (dark = early, light = late)."""
    names: list[str] = []
    for _, curves in curves_by_generation:
        names += [c.name for c in curves if c.name not in names]
    names.sort(key=lambda name: name != LOSS_NAME)  # the total loss first, the rest as logged
    figure = Figure(figsize=(4.2 * len(names), 3.2), layout="constrained")
    colours = _generation_colours(len(curves_by_generation))
    for index, name in enumerate(names):
        axes = figure.add_subplot(1, len(names), index + 1)
        for colour, (generation, curves) in zip(colours, curves_by_generation, strict=True):
            for curve in curves:
                if curve.name == name:
                    axes.plot(curve.x, curve.y, color=colour, label=f"gen {generation}")
                    axes.set_xlabel(curve.x_label)
        axes.set_title(name)
        axes.grid(alpha=0.3)
        if index == 0 and len(curves_by_generation) <= MAX_LEGEND_GENERATIONS:
            axes.legend(fontsize="x-small")
    return png(figure)


def cell_strips(
    grids: Sequence[tuple[int, Image.Image]], cells: Sequence[int], rows: int, padding: int
) -> bytes:
    """The same grid cells (the same latent noise) in every generation: a row per cell, a
    column per generation, cut out of the grid PNGs."""
    crops = [
        [np.asarray(cut_cell(grid, cell, rows, padding)) for _, grid in grids] for cell in cells
    ]
    size = crops[0][0].shape[0]
    step = size + CELL_GAP
    shape = (len(cells) * step - CELL_GAP, len(grids) * step - CELL_GAP, *crops[0][0].shape[2:])
    mosaic = np.full(shape, 255, dtype=np.uint8)
    for row, line in enumerate(crops):
        for column, crop in enumerate(line):
            mosaic[row * step : row * step + size, column * step : column * step + size] = crop
    figure = Figure(
        figsize=(CELL_INCHES * len(grids) + 1.0, CELL_INCHES * len(cells) + 0.6),
        layout="constrained",
    )
    axes = figure.add_subplot()
    axes.imshow(mosaic, cmap="gray" if mosaic.ndim == 2 else None, vmin=0, vmax=255)
    centres = [i * step + size / 2 for i in range(max(len(grids), len(cells)))]
    axes.set_xticks(centres[: len(grids)], [f"gen {g}" for g, _ in grids], fontsize="small")
    axes.set_yticks(centres[: len(cells)], [f"cell {c}" for c in cells], fontsize="small")
    axes.xaxis.tick_top()
    axes.tick_params(length=0)
    for spine in axes.spines.values():
        spine.set_visible(False)
    return png(figure)


def cut_cell(grid: Image.Image, cell: int, rows: int, padding: int) -> Image.Image:
    """Cell `cell` (row-major) of a torchvision make_grid picture `rows` cells wide."""
    size = cell_size(grid.width, rows, padding)
    top = padding + (cell // rows) * (size + padding)
    left = padding + (cell % rows) * (size + padding)
    return grid.crop((left, top, left + size, top + size))


def cell_size(width: int, rows: int, padding: int) -> int:
    size, remainder = divmod(width - padding, rows)
    if remainder:
        raise ValueError(f"a grid {width} px wide is not {rows} cells with {padding} px padding")
    return size - padding


def _integer_ticks(axes, generations: Sequence[int]) -> None:  # noqa: ANN001
    if generations:
        step = max(1, len(generations) // 10)
        axes.set_xticks(list(generations)[::step])


def _generation_colours(count: int) -> list[tuple[float, ...]]:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(i / max(1, count - 1) * 0.9) for i in range(count)]


def band_plot(
    column: str,
    series: Sequence[
        tuple[str, Sequence[int], Sequence[float], Sequence[float | None], Sequence[float | None]]
    ],
    band_label: str,
) -> bytes:
    """One metric against generation with a line per group of seeds, its mean, and a shaded
    band from low to high (the t-interval) where the group has one: (label, generations,
    means, lows, highs), a None low or high leaving a generation without band."""
    figure = Figure(figsize=COMPARISON_FIGSIZE, layout="constrained")
    axes = figure.add_subplot()
    longest: list[int] = []
    for label, generations, means, lows, highs in series:
        marker = "o" if len(generations) <= MAX_MARKED_POINTS else None
        (line,) = axes.plot(generations, means, marker=marker, label=label)
        banded = [
            low is not None and high is not None for low, high in zip(lows, highs, strict=True)
        ]
        if any(banded):
            low = [np.nan if value is None else value for value in lows]
            high = [np.nan if value is None else value for value in highs]
            axes.fill_between(
                generations, low, high, where=banded, color=line.get_color(), alpha=0.2, lw=0
            )
        longest = max(longest, list(generations), key=len)
    axes.set_title(f"{column} ({band_label})")
    axes.set_xlabel("generation")
    _integer_ticks(axes, longest)
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    return png(figure)
