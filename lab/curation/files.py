"""What curation leaves in a run (torch-free): where a generation's curated files go (the
kept items, which the next generation trains on, and why each was kept) and its columns."""

from __future__ import annotations

from lab.rundir.layout import generation_path

# The columns curation adds to metrics.csv: kept / drawn, and the kept set's class entropy
# (beside class_entropy, that of the generation's first draws).
CURATED_FRACTION, CLASS_ENTROPY_KEPT = "curated_fraction", "class_entropy_kept"
COLUMNS = (CURATED_FRACTION, CLASS_ENTROPY_KEPT)
# Roles of a generation's curation files.
CURATED, CURATION = "curated", "curation"


def curation_files(generation: int) -> dict[str, str]:
    """Role -> path: the kept items (`curated/gen_NNN.npz`, the domain's samples file format)
    and their provenance (`curated/gen_NNN.csv`: kept position, draw index, curator, score)."""
    return {
        CURATED: generation_path("curated", generation, "npz"),
        CURATION: generation_path("curated", generation, "csv"),
    }
