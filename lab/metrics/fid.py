"""FID through torchmetrics, in the feature space of any extractor module.

torchmetrics' `FrechetInceptionDistance` accepts a custom `nn.Module`; with
`reset_real_features=False` the real set's statistics are computed once and kept across
generations, while `reset()` clears only the generated side.
"""

from __future__ import annotations

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance


class FIDAgainstReal:
    """FID of any number of sample sets against one real set, real features computed once."""

    def __init__(
        self, extractor: nn.Module, real_images: torch.Tensor, batch_size: int, device: torch.device
    ) -> None:
        self.batch_size = batch_size
        self.metric = FrechetInceptionDistance(
            feature=extractor, reset_real_features=False, normalize=False
        ).to(device)
        self._update(real_images, real=True)

    def __call__(self, images: torch.Tensor) -> float:
        self.metric.reset()
        self._update(images, real=False)
        return float(self.metric.compute())

    def _update(self, images: torch.Tensor, real: bool) -> None:
        device = self.metric.device
        for chunk in images.split(self.batch_size):
            self.metric.update(chunk.to(device), real=real)
