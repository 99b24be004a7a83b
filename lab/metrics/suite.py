"""Everything measured on one generation's samples, against the real held-out set."""

from __future__ import annotations

import torch

from lab.config import MetricsConfig
from lab.data import RealData
from lab.device import DevicePlan
from lab.metrics.coverage import label_coverage
from lab.metrics.fid import FIDAgainstReal
from models.judges import Judge, JudgeFeatures


class GenerationMetrics:
    """Set up once per run (real features and the real labels' coverage), then called per
    generation. Which label metrics apply follows from the data (lab/metrics/coverage.py)."""

    def __init__(
        self, judge: Judge, real: RealData, config: MetricsConfig, plan: DevicePlan
    ) -> None:
        self.judge = judge
        self.config = config
        self.plan = plan
        self.coverage = label_coverage(judge, real, config, plan)
        self.reference = self.coverage.reference
        self.fid = FIDAgainstReal(
            JudgeFeatures(judge), real.heldout.images, config.batch_size, plan.device
        )

    def __call__(self, samples: torch.Tensor) -> tuple[dict[str, float | int], torch.Tensor | None]:
        """(metric name -> value, the judge's labels of the samples, None for unlabelled data)."""
        metrics: dict[str, float | int] = {"fid": self.fid(samples)}
        coverage, labels = self.coverage(samples)
        metrics.update(coverage)
        return metrics, labels
