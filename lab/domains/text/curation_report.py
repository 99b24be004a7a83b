"""A curated text run's part of report.html: per generation, continuations the curator kept
beside continuations of the same generation's first draws that it dropped, so a reader sees
what it rewards (fluent text, or the same phrase again) and not only its columns."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lab.curation.files import CURATED, CURATION, curation_files, read_provenance
from lab.domains.protocol import ReportSection, ReportTable
from lab.domains.text.files import text_files
from lab.rundir.results import RunResults
from lab.rundir.storage import decode_npz

TITLE = "What the curator kept"
# Continuations shown per generation, kept and dropped each.
SHOWN_EACH = 2
UNREADABLE = (
    "The continuations are the model's tokenizer's ids, which the report does not read; "
    "curated/gen_NNN.npz holds the kept ones and curated/gen_NNN.csv why each was kept."
)


def curation_section(
    results: RunResults, decode: Callable[[np.ndarray], str | None]
) -> ReportSection | None:
    """The section of a run whose config has a `curate:` section (None otherwise, or before
    a generation has been curated); `decode` turns a row of tokens into readable text, or
    None when it cannot (a tokenizer's ids: then the section says where the files are)."""
    if not results.config.get("curate"):
        return None
    done = results.generation_paths(lambda generation: curation_files(generation)[CURATION])
    if not done:
        return None
    header = ("", *(f"kept {i + 1}" for i in range(SHOWN_EACH)))
    header += tuple(f"dropped {i + 1}" for i in range(SHOWN_EACH))
    rows = []
    curators: list[str] = []
    for generation, reasons in done:
        provenance = read_provenance(results.read_file(reasons))
        curators += [name for name in provenance.curators if name not in curators]
        kept = decode_npz(results.read_file(curation_files(generation)[CURATED]))["sequences"]
        drawn = decode_npz(results.read_file(text_files(generation)["samples"]))["sequences"]
        dropped = np.setdiff1d(np.arange(len(drawn)), provenance.draws)[:SHOWN_EACH]
        cells = [decode(row) for row in kept[:SHOWN_EACH]] + [decode(drawn[i]) for i in dropped]
        if any(cell is None for cell in cells):
            return ReportSection(TITLE, UNREADABLE)
        cells += [""] * (2 * SHOWN_EACH - len(cells))
        rows.append((f"generation {generation}", *cells))
    note = (
        f"Per generation, the first {SHOWN_EACH} continuations that {', '.join(curators)} kept "
        "(curated/gen_NNN.npz: what the next generation trains on) and the first "
        f"{SHOWN_EACH} of the generation's first draws (samples/gen_NNN.npz: what every "
        "metric measures) that it dropped, all in draw order."
    )
    return ReportSection(TITLE, note, table=ReportTable(header, rows))
