"""The text domain as the engine sees it (lab/domains/protocol.py)."""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING

from lab.domains.protocol import DomainSpec
from lab.domains.text.settings import TextDataConfig
from lab.schema import SchemaError
from models.registry import model_configs

if TYPE_CHECKING:
    from lab.config import ExperimentConfig
    from lab.domains.protocol import Domain, ReportSection
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


def _check(config: ExperimentConfig) -> None:
    if config.train is None:
        raise SchemaError(
            "train", f"is required in the config for model kind {config.model.kind!r}"
        )
    if config.sampling.truncation is not None:
        raise SchemaError(
            "sampling.truncation",
            "truncates latent noise, which a language model has none of; remove it and bias "
            "the sampling with sampling.temperature",
        )
    if config.train.batch_size > config.samples_per_generation:
        raise SchemaError(
            "train.batch_size",
            f"is {config.train.batch_size}, more than the {config.samples_per_generation} "
            "sequences a generation trains on (samples_per_generation); lower it",
        )


def _open(config: ExperimentConfig) -> Domain:
    from lab.domains.text.domain import TextDomain

    return TextDomain(config)


def _report_sections(results: RunResults) -> list[ReportSection]:
    from lab.domains.text.report import report_sections

    return report_sections(results)


_NAMES = typing.get_args(typing.get_type_hints(TextDataConfig)["name"])

SPEC = DomainSpec(
    name="text",
    data_configs={name: TextDataConfig for name in _NAMES},
    model_configs=lambda: model_configs("text"),
    headline=HEADLINE,
    check_experiment=_check,
    open=_open,
    report_sections=_report_sections,
)
