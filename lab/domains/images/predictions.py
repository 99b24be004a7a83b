"""A judge's answers for many images, in batches on the device, returned on the CPU."""

from __future__ import annotations

from collections.abc import Callable

import torch

from lab.device import DevicePlan
from models.judges import AttributeJudge, Judge


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
