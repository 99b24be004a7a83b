"""Runs side by side: one table, one plot per metric with a line per run, last grids in a strip.

This is how the regimes are judged against each other (`make demo-regimes`): the same seed
and budget, differing only in what each generation trains on.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image, ImageDraw

from lab.errors import RunDirError
from lab.runs import CONFIG_FILE, MANIFEST_FILE, format_value, generation_files, read_manifest

HEADLINE = ("fid", "class_entropy", "classes_covered", "rare_class_recall", "synthetic_fraction")
_LABEL_HEIGHT = 16
_STRIP_GAP = 8


@dataclass(frozen=True)
class RunSummary:
    path: Path
    label: str
    rows: list[dict[str, Any]]

    @property
    def last_grid(self) -> Path:
        return self.path / generation_files(self.rows[-1]["generation"])["grid"]


def load_run(path: Path) -> RunSummary:
    """A finished or partial run's metrics, labelled by its config's name and regime."""
    manifest = read_manifest(path)
    config_path = path / CONFIG_FILE
    if manifest is None or not config_path.is_file():
        raise RunDirError(
            f"'{path}' has no readable {MANIFEST_FILE} and {CONFIG_FILE}, so it is not a "
            "collapse-lab run directory; pass folders written by `collapse-lab run`."
        )
    if not manifest["generations"]:
        raise RunDirError(f"run '{path}' has no finished generation yet; nothing to compare.")
    config = yaml.safe_load(config_path.read_text())
    label = f"{config['name']} ({config['regime']})"
    return RunSummary(path, label, [record["metrics"] for record in manifest["generations"]])


def compare(paths: list[Path], out_dir: Path) -> str:
    """Write compare.csv, plots/<metric>.png and last_grids.png to `out_dir`; return the table."""
    runs = _unique_labels([load_run(path) for path in paths])
    out_dir.mkdir(parents=True, exist_ok=True)
    columns = _columns(runs)
    (out_dir / "compare.csv").write_bytes(_long_csv(runs, columns))
    plots = out_dir / "plots"
    plots.mkdir(exist_ok=True)
    for metric in columns:
        _plot(runs, metric, plots / f"{metric}.png")
    _grid_strip(runs).save(out_dir / "last_grids.png")
    return final_table(runs)


def final_table(runs: list[RunSummary]) -> str:
    """Each run's first and last generation for the headline metrics it has."""
    metrics = [m for m in HEADLINE if any(m in run.rows[-1] for run in runs)]
    width = max(len(run.label) for run in runs) + 2
    header = f"{'run':<{width}}{'gens':>6}" + "".join(f"{m:>22}" for m in metrics)
    lines = [header, f"{'':<{width}}{'':>6}" + "".join(f"{'first -> last':>22}" for _ in metrics)]
    for run in runs:
        cells = []
        for metric in metrics:
            first, last = run.rows[0].get(metric), run.rows[-1].get(metric)
            cells.append(f"{_short(first)} -> {_short(last)}".rjust(22))
        lines.append(f"{run.label:<{width}}{len(run.rows):>6}" + "".join(cells))
    return "\n".join(lines)


def _short(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _unique_labels(runs: list[RunSummary]) -> list[RunSummary]:
    labels = [run.label for run in runs]
    return [
        RunSummary(run.path, f"{run.label} {run.path.name}", run.rows)
        if labels.count(run.label) > 1
        else run
        for run in runs
    ]


def _columns(runs: list[RunSummary]) -> list[str]:
    columns: list[str] = []
    for run in runs:
        for row in run.rows:
            columns += [name for name in row if name not in columns and name != "generation"]
    return columns


def _long_csv(runs: list[RunSummary], columns: list[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["run", "path", "generation", *columns])
    for run in runs:
        for row in run.rows:
            values = [format_value(row.get(name)) for name in columns]
            writer.writerow([run.label, str(run.path), row["generation"], *values])
    return buffer.getvalue().encode()


def _plot(runs: list[RunSummary], metric: str, path: Path) -> None:
    figure = Figure(figsize=(6, 3.6), dpi=100)  # no pyplot: no GUI backend, no global state
    axes = figure.subplots()
    for run in runs:
        points = [
            (row["generation"], row[metric]) for row in run.rows if row.get(metric) is not None
        ]
        if points:
            generations, values = zip(*points, strict=True)
            axes.plot(generations, values, marker="o", label=run.label)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("generation")
    axes.set_ylabel(metric)
    axes.set_title(metric)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)


def _grid_strip(runs: list[RunSummary]) -> Image.Image:
    grids = [Image.open(run.last_grid).convert("RGB") for run in runs]
    width = sum(g.width for g in grids) + _STRIP_GAP * (len(grids) - 1)
    height = max(g.height for g in grids) + _LABEL_HEIGHT
    strip = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(strip)
    x = 0
    for run, grid in zip(runs, grids, strict=True):
        draw.text((x + 2, 2), f"{run.label}, gen {run.rows[-1]['generation']}", fill="black")
        strip.paste(grid, (x, _LABEL_HEIGHT))
        x += grid.width + _STRIP_GAP
    return strip
