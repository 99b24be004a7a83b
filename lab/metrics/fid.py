"""FID through torchmetrics' `FrechetInceptionDistance`, on features extracted beforehand.

The features of a generation are extracted once and shared by every metric, so FID gets them
through a pass-through "extractor". With `reset_real_features=False` the real set's mean and
covariance are accumulated once and kept across generations, while `reset()` clears only the
generated side.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance


class GivenFeatures(nn.Module):
    """A torchmetrics "feature extractor" for inputs that already are features."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: Tensor) -> Tensor:
        return features


class FIDAgainstReal:
    """FID of any number of generated feature sets against one real feature set."""

    def __init__(self, real_features: Tensor) -> None:
        self.metric = FrechetInceptionDistance(
            feature=GivenFeatures(real_features.shape[1]),
            reset_real_features=False,
            normalize=False,
        ).to(real_features.device)
        self.metric.update(real_features, real=True)

    def __call__(self, fake_features: Tensor) -> float:
        self.metric.reset()
        self.metric.update(fake_features.to(self.metric.device, torch.float32), real=False)
        return float(self.metric.compute())
