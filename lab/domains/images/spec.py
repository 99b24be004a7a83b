"""The image domain as the engine sees it (lab/domains/protocol.py)."""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING

from lab.domains.images.settings import ImageDataConfig
from lab.domains.protocol import CollapseSignals, DomainSpec
from lab.schema import SchemaError
from models.registry import model_configs

if TYPE_CHECKING:
    from lab.config import ExperimentConfig
    from lab.domains.protocol import Domain, ReportSection
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
)
# Early collapse: the feature-space tail's recall, or the rarest class's, falls while FID
# holds; late collapse: the samples' Vendi score, or their class entropy, falls.
SIGNALS = CollapseSignals(
    tails=("tail_recall", "rare_class_recall"),
    quality="fid",
    diversity=("vendi", "class_entropy"),
)


def _check(config: ExperimentConfig) -> None:
    if config.train is None:
        raise SchemaError(
            "train", f"is required in the config for model kind {config.model.kind!r}"
        )
    key, side = config.data.side()
    side_problem = getattr(config.model, "image_side_problem", None)
    problem = side_problem(side) if side_problem else None
    if problem:
        given = "is unset, so" if getattr(config.data, key) is None else "makes"
        raise SchemaError(
            f"data.{key}",
            f"{given} the images {side}x{side}, but {problem}; set it to such a side",
        )


def _open(config: ExperimentConfig) -> Domain:
    from lab.domains.images.domain import ImageDomain

    return ImageDomain(config)


def _report_sections(results: RunResults) -> list[ReportSection]:
    from lab.domains.images.report import report_sections

    return report_sections(results)


_NAMES = typing.get_args(typing.get_type_hints(ImageDataConfig)["name"])

SPEC = DomainSpec(
    name="images",
    data_configs={name: ImageDataConfig for name in _NAMES},
    model_configs=lambda: model_configs("images"),
    headline=HEADLINE,
    check_experiment=_check,
    open=_open,
    report_sections=_report_sections,
    signals=SIGNALS,
)
