"""Where a text generation's files go in the run directory (torch-free, so the report finds
them without loading the domain)."""

from __future__ import annotations

from lab.rundir.layout import generation_path, trained_files


def text_files(generation: int) -> dict[str, str]:
    """Role -> path (relative to the run directory) of one text generation's outputs: its
    continuations (npz), the shown prompts and continuations as text, checkpoint and
    provenance."""
    return {
        "samples": generation_path("samples", generation, "npz"),
        "shown": generation_path("samples", generation, "txt"),
        **trained_files(generation),
    }
