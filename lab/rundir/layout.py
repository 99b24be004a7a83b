"""How a generation's files are named in a run directory: `<folder>/gen_NNN.<suffix>`.

Each domain owns its layout (which files a generation writes, under which roles); this is
only the naming they share, so every run directory reads the same way.
"""

from __future__ import annotations


def generation_path(folder: str, generation: int, suffix: str) -> str:
    """e.g. ("samples", 3, "npz") -> "samples/gen_003.npz" (relative to the run directory)."""
    return f"{folder}/gen_{generation:03d}.{suffix}"


def trained_files(generation: int) -> dict[str, str]:
    """The files every generation of a trained model writes, by role: the checkpoint that
    rebuilds its model and the provenance of its training set."""
    return {
        "checkpoint": generation_path("checkpoints", generation, "pt"),
        "provenance": generation_path("provenance", generation, "csv"),
    }
