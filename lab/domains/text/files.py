"""Where a text generation's files go in the run directory (torch-free, so the report finds
them without loading the domain)."""

from __future__ import annotations

from lab.rundir.layout import generation_path, trained_files

# The shown prompts and continuations as text, in the samples file of a run whose tokens are
# not bytes (the report shows them; a byte run's samples file holds only the bytes).
SHOWN_PROMPTS_TEXT, SHOWN_TEXT = "shown_prompts_text", "shown_text"


def text_files(generation: int) -> dict[str, str]:
    """Role -> path (relative to the run directory) of one text generation's outputs: its
    continuations (npz), the shown prompts and continuations as text, checkpoint and
    provenance."""
    return {
        "samples": generation_path("samples", generation, "npz"),
        "shown": generation_path("samples", generation, "txt"),
        **trained_files(generation),
    }
