"""The image domain as the engine sees it (lab/domains/protocol.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, get_args

from lab.domains.images.files import grid_paths, judge_facts
from lab.domains.images.settings import ImageExperiment, SpaceName
from lab.domains.protocol import CollapseSignals, DomainSpec

if TYPE_CHECKING:
    from lab.domains.protocol import Domain, ReportSection
    from lab.experiment import ExperimentConfig
    from lab.rundir.results import RunResults

# metrics.csv columns shown per generation on the console and first in `compare`.
HEADLINE = (
    "fid",
    "class_entropy",
    "classes_covered",
    "rare_attributes_kept",
    "precision",
    "recall",
    "rare_class_recall",
    "tail_recall",
    "vendi",
    "copy_fraction",
    "cmmd",
    # The same from every other space a run measures in (metrics.feature_spaces).
    *(f"{metric}_{space}" for space in get_args(SpaceName) for metric in ("fid", "cmmd")),
)
# Early collapse: the feature-space tail's recall, or the rarest class's, falls while FID
# holds; late collapse: the samples' Vendi score, or their class entropy, falls.
SIGNALS = CollapseSignals(
    tails=("tail_recall", "rare_class_recall"),
    quality="fid",
    diversity=("vendi", "class_entropy"),
)


def _open(config: ExperimentConfig) -> Domain:
    from lab.domains.images.domain import ImageDomain

    return ImageDomain(config)


def _evaluate(*args: Any, **kwargs: Any) -> dict[str, Any]:
    from lab.domains.images.evaluation import evaluate_images

    return evaluate_images(*args, **kwargs)


def _report_sections(results: RunResults) -> list[ReportSection]:
    from lab.domains.images.report import report_sections

    return report_sections(results)


SPEC = DomainSpec(
    name="images",
    experiment=ImageExperiment,
    headline=HEADLINE,
    open=_open,
    report_sections=_report_sections,
    signals=SIGNALS,
    pictures=grid_paths,
    facts=judge_facts,
    evaluate=_evaluate,
)
