"""Everything measured on one generation's samples, against the real held-out set."""

from __future__ import annotations

import torch

from lab.config import MetricsConfig
from lab.data import RealData
from lab.device import DevicePlan
from lab.judging import predict_labels
from lab.metrics.classes import class_metrics, class_shares, reference_shares
from lab.metrics.fid import FIDAgainstReal
from models.judges import ClassJudge, JudgeFeatures


class GenerationMetrics:
    """Set up once per run (real features and label shares), then called per generation.

    The real class shares are the judge's labels of the held-out set rather than its true
    labels, so the judge's own errors affect real and generated shares alike.
    """

    def __init__(
        self, judge: ClassJudge, real: RealData, config: MetricsConfig, plan: DevicePlan
    ) -> None:
        self.judge = judge
        self.config = config
        self.plan = plan
        real_labels = predict_labels(judge, real.heldout.images, plan, config.batch_size)
        self.real_shares = class_shares(real_labels, real.num_classes)
        # The real held-out set's value of each metrics.csv column that has one (the report
        # draws samples against it).
        self.reference: dict[str, float] = reference_shares(self.real_shares)
        self.fid = FIDAgainstReal(
            JudgeFeatures(judge), real.heldout.images, config.batch_size, plan.device
        )

    def __call__(self, samples: torch.Tensor) -> tuple[dict[str, float | int], torch.Tensor]:
        """(metric name -> value, the judge's label of each sample)."""
        labels = predict_labels(self.judge, samples, self.plan, self.config.batch_size)
        metrics: dict[str, float | int] = {"fid": self.fid(samples)}
        metrics.update(class_metrics(labels, self.real_shares, self.config.covered_share_fraction))
        return metrics, labels
