"""The vector domain as the engine sees it (lab/domains/protocol.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab.domains.protocol import DomainSpec
from lab.domains.vectors.settings import DATA_CONFIGS, MODEL_CONFIGS
from lab.schema import SchemaError

if TYPE_CHECKING:
    from lab.config import ExperimentConfig
    from lab.domains.protocol import Domain, ReportSection
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


def _check(config: ExperimentConfig) -> None:
    """Each fit belongs to one real distribution; a fit has no training loop, and `fresh`
    needs a real set to draw blocks from, which these experiments do not keep."""
    model, data = config.model, config.data
    if model.data_name != data.name:
        raise SchemaError(
            "model.kind",
            f"is {model.kind!r}, which is fitted to data.name {model.data_name!r}, not "
            f"{data.name!r}; use model.kind {data.model_kind!r}",
        )
    if config.train is not None:
        raise SchemaError(
            "train", f"does not apply to model kind {model.kind!r} (no training loop)"
        )
    if config.regime == "fresh":
        raise SchemaError(
            "regime", f"'fresh' is not supported for {data.name!r}; use 'replace' or 'accumulate'"
        )


def _open(config: ExperimentConfig) -> Domain:
    from lab.domains.vectors.domain import VectorDomain

    return VectorDomain(config)


def _report_sections(results: RunResults) -> list[ReportSection]:
    from lab.domains.vectors.figures import report_sections

    return report_sections(results)


SPEC = DomainSpec(
    name="vectors",
    data_configs=DATA_CONFIGS,
    model_configs=lambda: MODEL_CONFIGS,
    headline=HEADLINE,
    check_experiment=_check,
    open=_open,
    report_sections=_report_sections,
)
