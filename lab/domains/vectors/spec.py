"""The vector domain as the engine sees it (lab/domains/protocol.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab.domains.protocol import DomainSpec
from lab.domains.vectors.settings import VectorExperiment

if TYPE_CHECKING:
    from lab.domains.protocol import Domain, ReportSection
    from lab.experiment import ExperimentConfig
    from lab.rundir.results import RunResults

# Each system's headline columns, in this order where a run has them.
HEADLINE = (
    "mean_log_variance",
    "median_variance",
    "fraction_collapsed",
    "mean_w2",
    "std_0",
    "std_1",
    "weight_0",
    "l2_distance",
    "heldout_log_likelihood",
)


def _open(config: ExperimentConfig) -> Domain:
    from lab.domains.vectors.domain import VectorDomain

    return VectorDomain(config)


def _report_sections(results: RunResults) -> list[ReportSection]:
    from lab.domains.vectors.figures import report_sections

    return report_sections(results)


SPEC = DomainSpec(
    name="vectors",
    experiment=VectorExperiment,
    headline=HEADLINE,
    open=_open,
    report_sections=_report_sections,
)
