"""What a domain is to the engine: the small face every kind of data shows the loop, the
report, `compare` and `check`, and the types that cross it. Free of torch and of every
domain, so the engine, the registry and the domains can all import it without a cycle.

The loop (lab/loop.py) owns what every run shares: the run directory and its lock, resume at
the first unfinished generation, the order of generations, commits, stopping and failure
records. A domain owns the rest: real data, models, metrics, the files a generation writes,
the columns worth a headline and the report's pictures of its kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from lab.experiment import ExperimentConfig
    from lab.rundir.directory import FinishedGeneration, RunDirectory
    from lab.rundir.results import RunResults


@dataclass(frozen=True)
class Block:
    """Consecutive finished generations and every file they wrote, committed together."""

    generations: list[FinishedGeneration]
    files: dict[str, bytes]


@dataclass(frozen=True)
class ReportFigure:
    """A picture a domain adds to the report: where it goes under RUN/, its bytes (None for
    a file the run already holds, such as a grid), a caption."""

    relative: str
    data: bytes | None
    caption: str


@dataclass(frozen=True)
class ReportTable:
    """Text laid out in rows and columns (a language model's continuations side by side);
    each cell keeps its line breaks."""

    header: tuple[str, ...]
    rows: list[tuple[str, ...]]


@dataclass(frozen=True)
class ReportSection:
    """A titled part of report.html. `strip` lays the figures side by side in a scrolling
    row, each linked to its file (the grids); otherwise each is shown full width. A `table`
    comes before the figures; `charts` come after them, full width (a plot below a strip)."""

    title: str
    note: str
    figures: list[ReportFigure] = field(default_factory=list)
    strip: bool = False
    table: ReportTable | None = None
    charts: list[ReportFigure] = field(default_factory=list)


@dataclass(frozen=True)
class RunFact:
    """A run-level fact a domain recorded in the manifest (the judge's accuracy), shown in
    the report's summary and, when `brief`, by `status`."""

    label: str
    value: str
    brief: bool = True


@dataclass(frozen=True)
class CollapseSignals:
    """The metrics.csv columns in which a domain's runs show the two stages of collapse
    (lab/analysis/timeline.py): early, the tails lost while overall quality holds; late, the
    variety lost. A run may have only some of them (a face folder has no classes)."""

    # Each compared with its generation-0 value (higher is better).
    tails: tuple[str, ...]
    # Compared with its generation-0 value (lower is better).
    quality: str
    # Each compared with the real data's value in the manifest's reference (higher is better).
    diversity: tuple[str, ...]


class Domain(Protocol):
    """One run's kind of data at work; built by `DomainSpec.open`, nothing loaded before
    `prepare`."""

    # What `prepare` does, for the failure record when it fails ("setup (data and judge)").
    setup: str

    def prepare(self, run: RunDirectory, echo: Callable[[str], None]) -> None:
        """Load or draw real data, check sizes against it, record run-level facts."""

    def block_end(self, generation: int) -> int:
        """The first generation after the block that starts at `generation`."""

    def run_block(self, run: RunDirectory, first: int, end: int) -> Block:
        """Generations first..end-1, resuming from what the run directory holds."""


@dataclass(frozen=True)
class DomainSpec:
    """Everything the engine asks of a kind of data, by name; lab/domains/registry.py lists
    one per domain. Loading a spec loads no torch: `open`, `report_sections` and `evaluator`
    import their domain's code when called."""

    name: str
    # The domain's ExperimentConfig subclass: its data and model choices, its own sections
    # and its rules across them.
    experiment: type[ExperimentConfig]
    # metrics.csv columns worth a line on the console and in `compare`, in this order.
    headline: tuple[str, ...]
    open: Callable[[ExperimentConfig], Domain]
    # The report's sections of this kind (grids, heatmaps, theory curves), from the files.
    report_sections: Callable[[RunResults], list[ReportSection]]
    # Where the collapse timeline reads its stages; None: this kind has no timeline.
    signals: CollapseSignals | None = None
    # One picture per finished generation, (generation, path in the run), for `compare`'s
    # strip of the runs' last generations (the image grids); None: this kind has none.
    pictures: Callable[[RunResults], list[tuple[int, str]]] | None = None
    # The run-level facts this kind records in the manifest, read back (none: no such facts).
    facts: Callable[[Mapping[str, Any]], list[RunFact]] | None = None
    # Scores a set of samples as a run scores a generation (lab.evaluate); None: this kind
    # has no `eval`.
    evaluate: Callable[..., dict[str, Any]] | None = None

    def data_configs(self) -> Mapping[str, type]:
        """data.name -> the dataclass of that data section."""
        return self._choices("data")

    def model_configs(self) -> Mapping[str, type]:
        """model.kind -> the dataclass of that model's section (may import it when used)."""
        return self._choices("model")

    def _choices(self, section: str) -> Mapping[str, type]:
        chooser = next(f for f in fields(self.experiment) if f.name == section).metadata
        return chooser["kinds"]()
