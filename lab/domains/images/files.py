"""What an image run leaves in its folder, read without loading the domain (torch-free): where
a generation's files go, and the judge's record in the manifest."""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real
from typing import TYPE_CHECKING, Any

from lab.domains.protocol import RunFact
from lab.rundir.layout import generation_path, trained_files

if TYPE_CHECKING:
    from lab.rundir.results import RunResults


def image_files(generation: int) -> dict[str, str]:
    """Role -> path (relative to the run directory) of one image generation's outputs: its
    uint8 samples and the judge's labels, its fixed-noise grid, checkpoint and provenance."""
    return {
        "samples": generation_path("samples", generation, "npz"),
        "grid": generation_path("grids", generation, "png"),
        **trained_files(generation),
    }


def grid_paths(results: RunResults) -> list[tuple[int, str]]:
    """(generation, grid path) of each finished generation of a run that has a grid."""
    return results.generation_paths(lambda generation: image_files(generation)["grid"])


def judge_facts(manifest: Mapping[str, Any]) -> list[RunFact]:
    """The judge's held-out accuracy and its classes, as the run recorded them (nothing
    where the record is missing or not of that shape)."""
    judge = manifest.get("judge")
    if not isinstance(judge, Mapping) or not isinstance(judge.get("heldout_accuracy"), Real):
        return []
    accuracy = float(judge["heldout_accuracy"])
    facts = [RunFact("judge accuracy (held-out)", f"{accuracy:.4f}")]
    if judge.get("classes"):
        classes = ", ".join(str(c) for c in judge["classes"])
        facts.append(RunFact("classes", classes, brief=False))
    return facts
