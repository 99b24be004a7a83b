"""The curated image run's part of report.html: what the curator kept beside what the model
drew, so a reader sees whether curation picked better digits or narrowed them to a few.

Per generation, the first R x R of the draws every metric measures (samples/gen_NNN.npz, in
draw order) beside the first R x R the next generation trains on (curated/gen_NNN.npz, in
draw order too), and the class entropy of both against generation. Everything is read
through the run's manifest (hash-checked), never trusted as it lies on disk.
"""

from __future__ import annotations

import torch

from lab.curation.files import (
    CLASS_ENTROPY_KEPT,
    CURATED,
    CURATION,
    curation_files,
    read_provenance,
)
from lab.domains.images.files import image_files
from lab.domains.images.grids import grid_png
from lab.domains.protocol import ReportFigure, ReportSection
from lab.report import figures
from lab.report.figures import PLOTS_DIR
from lab.rundir.results import RunResults
from lab.rundir.storage import decode_npz

TITLE = "What the curator kept"
IMAGES_KEY = "images"
# The draws' class entropy, the column class_entropy_kept sits beside.
CLASS_ENTROPY = "class_entropy"


def curation_section(results: RunResults, rows: int) -> ReportSection | None:
    """The section of a run whose config has a `curate:` section (None otherwise, or before
    any generation kept anything): `rows` x `rows` grids of the draws and of the kept."""
    if not results.config.get("curate"):
        return None
    done = results.generation_paths(lambda generation: curation_files(generation)[CURATION])
    if not done:
        return None
    grids: list[ReportFigure] = []
    curators: list[str] = []
    empty: list[int] = []
    for generation, reasons in done:
        named = read_provenance(results.read_file(reasons)).curators
        curators += [c for c in named if c not in curators]
        drawn = _images(results, image_files(generation)["samples"])
        kept = _images(results, curation_files(generation)[CURATED])
        grids.append(_grid(drawn, rows, generation, "drawn"))
        if len(kept):
            grids.append(_grid(kept, rows, generation, "kept"))
        else:
            empty.append(generation)
    return ReportSection(
        TITLE, _note(rows, curators, empty), grids, strip=True, charts=_entropy_chart(results)
    )


def _images(results: RunResults, relative: str) -> torch.Tensor:
    return torch.from_numpy(decode_npz(results.read_file(relative))[IMAGES_KEY])


def _grid(images: torch.Tensor, rows: int, generation: int, which: str) -> ReportFigure:
    """The first rows x rows of `images` as plots/curated_<which>_gen_NNN.png."""
    shown = images[: rows * rows]
    relative = f"{PLOTS_DIR}/curated_{which}_gen_{generation:03d}.png"
    return ReportFigure(
        relative, grid_png(shown, rows), f"generation {generation}: first {len(shown)} {which}"
    )


def _note(rows: int, curators: list[str], empty: list[int]) -> str:
    who = ", ".join(curators) if curators else "the curator"
    note = (
        f"Each generation's first {rows}x{rows} draws (samples/gen_NNN.npz: what every metric "
        f"measures), then the first {rows}x{rows} that {who} kept (curated/gen_NNN.npz: what "
        "the next generation trains on). Both are in draw order, so a draw missing from the "
        "kept grid is one the curator dropped."
    )
    if empty:
        note += f" Kept nothing in generation {', '.join(map(str, empty))}."
    return note


def _entropy_chart(results: RunResults) -> list[ReportFigure]:
    """class_entropy (draws) against class_entropy_kept per generation, with the real data's
    class entropy where the manifest has it; none for a run without class_entropy_kept."""
    columns = results.metric_columns
    if CLASS_ENTROPY_KEPT not in columns or CLASS_ENTROPY not in columns:
        return []
    generations = results.generations
    series = [
        ("draws", generations, results.series(CLASS_ENTROPY)),
        ("kept", generations, results.series(CLASS_ENTROPY_KEPT)),
    ]
    real = results.reference.get(CLASS_ENTROPY)
    data = figures.comparison_plot("class entropy (bits)", series, real=real)
    caption = "class entropy of the draws and of the kept set" + (
        ", and of the real held-out data (dashed)" if real is not None else ""
    )
    return [ReportFigure(f"{PLOTS_DIR}/curated_class_entropy.png", data, caption)]
