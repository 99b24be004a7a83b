"""A judge's answers for many images, in batches on the device, returned on the CPU."""

from __future__ import annotations

from collections.abc import Callable

import torch

from lab.device import DevicePlan
from models.judges import AttributeJudge, ClassJudge, Judge


def predict_labels(
    judge: Judge, images: torch.Tensor, plan: DevicePlan, batch_size: int
) -> torch.Tensor:
    """The judge's labels of uint8 images on the CPU: a class index each (int64 [N]), or a
    0/1 row of attributes each (uint8 [N, K])."""
    judge.eval()
    return _batched(judge.predict_labels, images, plan, batch_size)


def predict_probabilities(
    judge: AttributeJudge, images: torch.Tensor, plan: DevicePlan, batch_size: int
) -> torch.Tensor:
    """The attribute judge's probability of each attribute per image, float32 [N, K] on the CPU."""
    judge.eval()
    return _batched(judge.predict_probabilities, images, plan, batch_size)


def _batched(
    predict: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    plan: DevicePlan,
    batch_size: int,
) -> torch.Tensor:
    with plan.inference():
        parts = [predict(plan.place(chunk)).cpu() for chunk in images.split(batch_size)]
    return torch.cat(parts)


def predict_confidence(
    judge: ClassJudge, images: torch.Tensor, plan: DevicePlan, batch_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(the class judge's probability of its label, float32 [N]; that label, int64 [N]) per
    uint8 image, on the CPU: how sure the judge is, for curation by verification."""
    judge.eval()
    probabilities = _batched(
        lambda chunk: judge(chunk).float().softmax(dim=1), images, plan, batch_size
    )
    confidence, labels = probabilities.max(dim=1)
    return confidence, labels
