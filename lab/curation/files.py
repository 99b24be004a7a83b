"""What curation leaves in a run (torch-free): where a generation's curated files go (the
kept items, which the next generation trains on, and why each was kept) and its columns."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from lab.rundir.layout import generation_path

# The columns curation adds to metrics.csv: kept / drawn, and the kept set's class entropy
# (beside class_entropy, that of the generation's first draws).
CURATED_FRACTION, CLASS_ENTROPY_KEPT = "curated_fraction", "class_entropy_kept"
COLUMNS = (CURATED_FRACTION, CLASS_ENTROPY_KEPT)
# curated/gen_NNN.csv's columns: the kept item's position, its draw index, the curator(s)
# that kept it and the score it was kept by.
PROVENANCE_COLUMNS = ("kept", "draw", "curator", "score")
# Roles of a generation's curation files.
CURATED, CURATION = "curated", "curation"


def curation_files(generation: int) -> dict[str, str]:
    """Role -> path: the kept items (`curated/gen_NNN.npz`, the domain's samples file format)
    and their provenance (`curated/gen_NNN.csv`: kept position, draw index, curator, score)."""
    return {
        CURATED: generation_path("curated", generation, "npz"),
        CURATION: generation_path("curated", generation, "csv"),
    }


@dataclass(frozen=True)
class KeptProvenance:
    """What a generation's curated/gen_NNN.csv says: the draw index of each kept item, in the
    curated file's order, and the curators named, in order of first appearance."""

    draws: list[int]
    curators: list[str]


def read_provenance(data: bytes) -> KeptProvenance:
    """A curated/gen_NNN.csv (as `Kept.provenance_csv` writes it), read back."""
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    curators = list(dict.fromkeys(row["curator"] for row in rows))
    return KeptProvenance([int(row["draw"]) for row in rows], curators)
