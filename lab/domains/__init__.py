"""What depends on the kind of data a run learns, behind one small face for the loop.

The loop (lab/loop.py) owns what every run shares: the run directory and its lock, resume
at the first unfinished generation, the order of generations, commits, stopping and failure
records. A domain owns the rest, chosen by `data.name`:

  images   (lab/domains/images.py)   real image datasets, the judge and its metrics suite,
           Lightning training, uint8 samples, grids and checkpoints; one generation a block.
  vectors  (lab/domains/vectors.py)  a real distribution, closed-form or EM fits of many
           generations a block, per-chain or per-component statistics, density plots.

So a new kind of data is a new domain, not a branch in the loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from lab.config import ExperimentConfig
    from lab.results import RunResults
    from lab.runs import FinishedGeneration, RunDirectory


@dataclass(frozen=True)
class Block:
    """Consecutive finished generations and every file they wrote, committed together."""

    generations: list[FinishedGeneration]
    files: dict[str, bytes]


@dataclass(frozen=True)
class ReportFigure:
    """A picture a domain adds to the report: where it goes under RUN/, its bytes, a caption."""

    relative: str
    data: bytes
    caption: str


@dataclass(frozen=True)
class ReportSection:
    title: str
    note: str
    figures: list[ReportFigure] = field(default_factory=list)


class Domain(Protocol):
    # What `prepare` does, for the failure record when it fails ("setup (data and judge)").
    setup: str
    # metrics.csv columns worth a line on the console, in this order, where a run has them.
    headline: tuple[str, ...]

    def prepare(self, run: RunDirectory, echo: Callable[[str], None]) -> None:
        """Load or draw real data, check sizes against it, record run-level facts."""

    def block_end(self, generation: int) -> int:
        """The first generation after the block that starts at `generation`."""

    def run_block(self, run: RunDirectory, first: int, end: int) -> Block:
        """Generations first..end-1, resuming from what the run directory holds."""


def open_domain(config: ExperimentConfig) -> Domain:
    """The domain of `config.data` (nothing is loaded until `prepare`)."""
    if getattr(config.data, "model_kind", None):
        from lab.domains.vectors import VectorDomain

        return VectorDomain(config)
    from lab.domains.images import ImageDomain

    return ImageDomain(config)


def headline_columns(config: ExperimentConfig) -> tuple[str, ...]:
    return open_domain(config).headline


def report_sections(results: RunResults) -> list[ReportSection]:
    """Pictures that only the run's kind of data knows how to draw (from config.yaml's data
    section; none for image runs, whose grids and heatmaps the report draws itself)."""
    data: Mapping[str, Any] = results.config.get("data") or {}
    from lab.vectors.real import data_configs

    if data.get("name") in data_configs():
        from lab.vectors.figures import report_sections as vector_sections

        return vector_sections(results)
    return []
