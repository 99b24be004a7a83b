"""Attribute coverage from the judge: which face attributes the samples still show.

Faces becoming homogeneous shows first in the tails: the rare attributes (eyeglasses,
baldness, moustaches, grey hair, hats) thin out generations before FID moves much. So per
generation we measure the prevalence of each of CelebA's 40 attributes among the samples,
and count how many of the configured rare attributes keep at least a set fraction of their
real prevalence.

Prevalence is the judge's mean probability of the attribute over the images (its expected
share), not the share it would call present at 0.5. A classifier of a 2%-attribute seldom
crosses 0.5 even on images that have it, so thresholded counts would report rare attributes
as nearly absent from the real data itself, and "kept half of nothing" would be vacuous.
Real and generated prevalences come from the same judge, so its bias cancels in the ratio.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from lab.config import MetricsConfig
from lab.data import RealData
from lab.device import DevicePlan
from lab.judging import predict_probabilities
from models.judges import AttributeJudge

PRESENT = 0.5  # probability above which a sample's stored label says "present"


def attribute_prevalence(probabilities: torch.Tensor) -> torch.Tensor:
    """Mean probability per attribute over the images (float64 [K])."""
    return probabilities.double().mean(dim=0)


def attribute_metrics(
    sample_prevalence: torch.Tensor,
    real_prevalence: torch.Tensor,
    names: Sequence[str],
    rare: Sequence[str],
    kept_fraction: float,
) -> dict[str, float | int]:
    """`rare_attributes_kept` (rare attributes whose sample prevalence is at least
    `kept_fraction` of their real prevalence) and `attr_<Name>` per attribute."""
    index = [names.index(name) for name in rare]
    kept = sample_prevalence[index] >= kept_fraction * real_prevalence[index]
    result: dict[str, float | int] = {"rare_attributes_kept": int(kept.sum())}
    result.update(
        {f"attr_{name}": float(value) for name, value in zip(names, sample_prevalence, strict=True)}
    )
    return result


class AttributeCoverage:
    """Set up once per run on the real held-out set, then called on each generation."""

    def __init__(
        self, judge: AttributeJudge, real: RealData, config: MetricsConfig, plan: DevicePlan
    ) -> None:
        self.judge = judge
        self.names = real.class_names
        self.config = config
        self.plan = plan
        probabilities = predict_probabilities(judge, real.heldout.images, plan, config.batch_size)
        self.real_prevalence = attribute_prevalence(probabilities)
        # The real held-out set's value of each column (what a generation should keep).
        self.reference: dict[str, float] = {
            f"attr_{name}": float(value)
            for name, value in zip(self.names, self.real_prevalence, strict=True)
        }
        annotated = real.heldout.labels.double().mean(dim=0)
        correct = ((probabilities > PRESENT) == real.heldout.labels.bool()).double().mean(dim=0)
        # For the manifest: the annotated prevalence next to the judge's, and how well the
        # judge sees each attribute, so a rare attribute it cannot see is visible as such.
        self.report: dict[str, Any] = {
            "rare_attributes": list(config.rare_attributes),
            "kept_fraction": config.covered_share_fraction,
            "annotated_prevalence": _named(self.names, annotated),
            "judged_prevalence": _named(self.names, self.real_prevalence),
            "judge_accuracy": _named(self.names, correct),
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


def _named(names: Sequence[str], values: torch.Tensor) -> dict[str, float]:
    return {name: round(float(value), 6) for name, value in zip(names, values, strict=True)}
