"""Where a text generation's files go in the run directory (kept free of torch, so the
report finds them without loading the domain)."""

from __future__ import annotations

from pathlib import PurePosixPath

from lab.rundir.directory import generation_files


def text_files(generation: int) -> dict[str, str]:
    """Role -> path (relative to the run directory) of one text generation's outputs."""
    files = generation_files(generation)
    readable = PurePosixPath(files["samples"]).with_suffix(".txt").as_posix()
    return {
        "samples": files["samples"],
        "shown": readable,
        "checkpoint": files["checkpoint"],
        "provenance": files["provenance"],
    }
