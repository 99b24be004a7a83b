"""KID through torchmetrics' `KernelInceptionDistance`, on features extracted beforehand.

FID is biased upwards at small sample sizes (a CPU demo measures 1,000 real images), by an
amount that depends on the sample size; KID is unbiased, so generations measured with
different sample counts stay comparable. Its random subsets are drawn from a fixed seed, so a
redone generation gets the same number.

The kernel sums run in float64, as FID's do: KID is a small difference of large sums (cubes
of dot products), and in float32 it is off by up to 3e-3 of its value near 0, where a model
that matches the data lands.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor
from torchmetrics.image.kid import KernelInceptionDistance

from lab.metrics.fid import GivenFeatures


class KIDAgainstReal:
    """KID (mean and standard deviation over random subsets) against one real feature set."""

    def __init__(self, real_features: Tensor, subsets: int, subset_size: int, seed: int = 0):
        self.seed = seed
        with warnings.catch_warnings():
            # Keeping every feature is the point here (they are already in memory).
            warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
            self.metric = KernelInceptionDistance(
                feature=GivenFeatures(real_features.shape[1]),
                subsets=subsets,
                subset_size=subset_size,
                reset_real_features=False,
            ).to(real_features.device)
        self.metric.update(real_features.to(torch.float64), real=True)

    def __call__(self, fake_features: Tensor) -> dict[str, float]:
        self.metric.reset()
        self.metric.update(fake_features.to(self.metric.device, torch.float64), real=False)
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            mean, std = self.metric.compute()
        return {"kid": float(mean), "kid_std": float(std)}
