"""What the judge's labels say about a generation, chosen by the kind of labels the data has.

  classes     class shares, classes covered, label entropy (MNIST digits)
  attributes  prevalence of each attribute, rare attributes kept (CelebA)
  none        nothing: a folder of faces has no labels, so only feature metrics apply

Each coverage is set up once on the real held-out set and then called per generation with
the samples; it returns its metrics and the per-sample labels stored with the samples.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch

from lab.config import MetricsConfig
from lab.data import RealData
from lab.device import DevicePlan
from lab.judging import predict_labels
from lab.metrics.attributes import AttributeCoverage
from lab.metrics.classes import class_metrics, class_shares
from models.judges import Judge


class Coverage(Protocol):
    # The real held-out set's value of each metrics.csv column that has one.
    reference: dict[str, float]
    # Facts about the real labels worth keeping in the manifest ({} when none).
    report: dict[str, Any]

    def __call__(
        self, samples: torch.Tensor
    ) -> tuple[dict[str, float | int], torch.Tensor | None]: ...


class ClassCoverage:
    """Class shares of the judge's labels. The real shares are the judge's labels of the
    held-out set rather than its true labels, so the judge's own errors affect real and
    generated shares alike."""

    def __init__(self, judge: Judge, real: RealData, config: MetricsConfig, plan: DevicePlan):
        self.judge = judge
        self.config = config
        self.plan = plan
        real_labels = predict_labels(judge, real.heldout.images, plan, config.batch_size)
        self.real_shares = class_shares(real_labels, real.num_classes)
        self.reference = {f"share_{c}": float(share) for c, share in enumerate(self.real_shares)}
        self.report: dict[str, Any] = {}

    def __call__(self, samples: torch.Tensor) -> tuple[dict[str, float | int], torch.Tensor]:
        labels = predict_labels(self.judge, samples, self.plan, self.config.batch_size)
        metrics = class_metrics(labels, self.real_shares, self.config.covered_share_fraction)
        return metrics, labels


class NoCoverage:
    """Data without labels: no label metrics, and no labels stored with the samples."""

    def __init__(self) -> None:
        self.reference: dict[str, float] = {}
        self.report: dict[str, Any] = {}

    def __call__(self, samples: torch.Tensor) -> tuple[dict[str, float | int], None]:
        return {}, None


def label_coverage(
    judge: Judge, real: RealData, config: MetricsConfig, plan: DevicePlan
) -> Coverage:
    """The coverage metrics that the data's labels allow."""
    if real.label_kind == "classes":
        return ClassCoverage(judge, real, config, plan)
    if real.label_kind == "attributes":
        return AttributeCoverage(judge, real, config, plan)
    return NoCoverage()
