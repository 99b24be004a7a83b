"""The text domain as the engine sees it (lab/domains/protocol.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab.domains.protocol import DomainSpec
from lab.domains.text.settings import TextExperiment

if TYPE_CHECKING:
    from lab.domains.protocol import Domain, ReportSection
    from lab.experiment import ExperimentConfig
    from lab.rundir.results import RunResults

# metrics.csv columns shown per generation on the console and first in `compare`.
HEADLINE = (
    "heldout_perplexity",
    "sample_perplexity_median",
    "sample_perplexity_p95",
    "distinct_2",
    "type_coverage",
    "rare_type_coverage",
    "repetition",
)


def _open(config: ExperimentConfig) -> Domain:
    from lab.domains.text.domain import TextDomain

    return TextDomain(config)


def _report_sections(results: RunResults) -> list[ReportSection]:
    from lab.domains.text.report import report_sections

    return report_sections(results)


SPEC = DomainSpec(
    name="text",
    experiment=TextExperiment,
    headline=HEADLINE,
    open=_open,
    report_sections=_report_sections,
)
