"""The one place that decides what a dataset's labels mean: which judge it gets, and which
label metrics a generation's samples are given.

  classes     a class per image (MNIST digits): ClassJudge; class shares, classes covered,
              label entropy
  attributes  a 0/1 row of attributes per image (CelebA): AttributeJudge; the prevalence of
              each attribute, rare attributes kept
  none        no labels (a folder of faces): RotationJudge, whose features are a label-free
              FID space; no label metrics, and no labels stored with the samples

A coverage is set up once on a reference set (the real held-out images) and then called per
generation with the samples; it returns its metrics and the per-sample labels that are stored
with the samples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from lab.data.images import ImageSet, RealData
from lab.device import DevicePlan
from lab.domains.images.predictions import predict_labels, predict_probabilities
from lab.domains.images.settings import JudgeConfig, MetricsConfig
from lab.metrics.attributes import attribute_metrics, attribute_prevalence
from lab.metrics.classes import class_metrics, class_shares
from models.judges import AttributeJudge, ClassJudge, Judge, RotationJudge

PRESENT = 0.5  # probability above which a sample's stored attribute label says "present"


class Coverage(Protocol):
    # The reference set's value of each metrics.csv column that has one.
    reference: dict[str, float]
    # Facts about the real labels worth keeping in the manifest ({} when none).
    report: dict[str, Any]

    def __call__(
        self, samples: torch.Tensor
    ) -> tuple[dict[str, float | int], torch.Tensor | None]: ...


class ClassCoverage:
    """Class shares of the judge's labels. The real shares are the judge's labels of the
    reference set rather than its true labels, so the judge's own errors affect real and
    generated shares alike."""

    def __init__(
        self,
        judge: Judge,
        reference: ImageSet,
        names: Sequence[str],
        config: MetricsConfig,
        plan: DevicePlan,
    ) -> None:
        self.judge = judge
        self.config = config
        self.plan = plan
        real_labels = predict_labels(judge, reference.images, plan, config.batch_size)
        self.real_shares = class_shares(real_labels, len(names))
        self.reference = {f"share_{c}": float(share) for c, share in enumerate(self.real_shares)}
        # The real entropy is what late collapse is measured against (lab/analysis/timeline.py).
        real = class_metrics(real_labels, self.real_shares, config.covered_share_fraction)
        self.reference["class_entropy"] = float(real["class_entropy"])
        self.report: dict[str, Any] = {}

    def __call__(self, samples: torch.Tensor) -> tuple[dict[str, float | int], torch.Tensor]:
        labels = predict_labels(self.judge, samples, self.plan, self.config.batch_size)
        metrics = class_metrics(labels, self.real_shares, self.config.covered_share_fraction)
        return metrics, labels


class AttributeCoverage:
    """Attribute prevalence: the judge's mean probability of each attribute (see
    lab/metrics/attributes.py for why not the share it calls present)."""

    def __init__(
        self,
        judge: AttributeJudge,
        reference: ImageSet,
        names: Sequence[str],
        config: MetricsConfig,
        plan: DevicePlan,
    ) -> None:
        self.judge = judge
        self.names = tuple(names)
        self.config = config
        self.plan = plan
        probabilities = predict_probabilities(judge, reference.images, plan, config.batch_size)
        self.real_prevalence = attribute_prevalence(probabilities)
        self.reference: dict[str, float] = {
            f"attr_{name}": float(value)
            for name, value in zip(self.names, self.real_prevalence, strict=True)
        }
        self.report: dict[str, Any] = {}
        if reference.labels is not None:
            # For the manifest: the annotated prevalence next to the judge's, and how well
            # the judge sees each attribute, so a rare attribute it cannot see shows as such.
            annotated = reference.labels.double().mean(dim=0)
            correct = (probabilities > PRESENT) == reference.labels.bool()
            self.report = {
                "rare_attributes": list(config.rare_attributes),
                "kept_fraction": config.covered_share_fraction,
                "annotated_prevalence": _named(self.names, annotated),
                "judged_prevalence": _named(self.names, self.real_prevalence),
                "judge_accuracy": _named(self.names, correct.double().mean(dim=0)),
            }

    def __call__(self, samples: torch.Tensor) -> tuple[dict[str, float | int], torch.Tensor]:
        """(metric name -> value, uint8 [N, K] attributes the judge calls present)."""
        probabilities = predict_probabilities(
            self.judge, samples, self.plan, self.config.batch_size
        )
        metrics = attribute_metrics(
            attribute_prevalence(probabilities),
            self.real_prevalence,
            self.names,
            self.config.rare_attributes,
            self.config.covered_share_fraction,
        )
        return metrics, (probabilities > PRESENT).to(torch.uint8)


class NoCoverage:
    """Data without labels: no label metrics, and no labels stored with the samples."""

    def __init__(self, *_: object) -> None:
        self.reference: dict[str, float] = {}
        self.report: dict[str, Any] = {}

    def __call__(self, samples: torch.Tensor) -> tuple[dict[str, float | int], None]:
        return {}, None


@dataclass(frozen=True)
class LabelKind:
    """A kind of labels: how to build its judge and its coverage metrics."""

    name: str
    # (image shape, number of classes or attributes, judge settings) -> an untrained judge.
    build_judge: Callable[[tuple[int, int, int], int, JudgeConfig], Judge]
    # (judge, reference set, class names, metrics settings, device plan) -> its coverage.
    coverage: Callable[..., Coverage]
    # Whether the labels group real images for per-label recall.
    labelled: bool


def _class_judge(shape: tuple[int, int, int], count: int, settings: JudgeConfig) -> Judge:
    return ClassJudge(shape, count, settings.feature_dim, settings.lr, settings.width)


def _attribute_judge(shape: tuple[int, int, int], count: int, settings: JudgeConfig) -> Judge:
    return AttributeJudge(shape, count, settings.feature_dim, settings.lr, settings.width)


def _rotation_judge(shape: tuple[int, int, int], _: int, settings: JudgeConfig) -> Judge:
    return RotationJudge(shape, settings.feature_dim, settings.lr, settings.width)


LABEL_KINDS = {
    "classes": LabelKind("classes", _class_judge, ClassCoverage, labelled=True),
    "attributes": LabelKind("attributes", _attribute_judge, AttributeCoverage, labelled=True),
    "none": LabelKind("none", _rotation_judge, NoCoverage, labelled=False),
}


def label_kind(real: RealData) -> LabelKind:
    """The kind of the dataset's labels (RealData.label_kind names it)."""
    return LABEL_KINDS[real.label_kind]


def _named(names: Sequence[str], values: torch.Tensor) -> dict[str, float]:
    return {name: round(float(value), 6) for name, value in zip(names, values, strict=True)}
