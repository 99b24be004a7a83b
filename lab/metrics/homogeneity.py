"""Homogeneity: how far the samples' features have shrunk towards each other.

Shumailov et al. (Nature 2024) prove that a Gaussian refitted to its own samples loses
variance generation after generation; a collapsing generator's samples likewise crowd into
fewer, tighter modes. Two ratios of generated over real show it, 1 meaning no shrinkage:
`feature_variance_ratio`, the trace of the covariance (total variance), and
`pairwise_distance_ratio`, the mean distance between two different images, which also drops
when samples pile onto a few points that keep the overall variance.

Generated samples that are all alike measure 0 on both; a real set that is all alike has no
spread to compare with and is refused (lab/metrics/degenerate.py).
"""

from __future__ import annotations

import torch
from torch import Tensor

from lab.metrics.degenerate import check_spread

# Rows of the pairwise-distance matrix held at once.
_ROWS = 1024


def total_variance(features: Tensor) -> float:
    """Trace of the covariance matrix (unbiased), in float64."""
    values = features.double()
    return float(values.var(dim=0, unbiased=True).sum())


def mean_pairwise_distance(features: Tensor, max_samples: int, seed: int = 0) -> float:
    """Mean Euclidean distance over pairs of different images, on at most `max_samples` of
    them (a fixed random subset), in row blocks so memory stays linear."""
    if len(features) > max_samples:
        chosen = torch.randperm(len(features), generator=torch.Generator().manual_seed(seed))
        features = features[chosen[:max_samples].to(features.device)]
    count = len(features)
    if count < 2:
        raise ValueError("a mean pairwise distance needs at least 2 images")
    # Centred float32 distances, summed in float64: a mean of millions of distances needs no
    # more, and float32 is several times faster.
    values = (features.double() - features.double().mean(0)).float()
    total = torch.zeros((), dtype=torch.float64, device=values.device)
    for start in range(0, count, _ROWS):
        block = torch.cdist(values[start : start + _ROWS], values)
        # Distance of an image to itself is 0 by definition, not by rounding.
        block.diagonal(offset=start).zero_()
        total += block.sum(dtype=torch.float64)
    return float(total) / (count * (count - 1))


class HomogeneityAgainstReal:
    """Both ratios for any number of generated feature sets against one real set."""

    def __init__(self, real_features: Tensor, max_samples: int) -> None:
        self.max_samples = max_samples
        self.real_variance = total_variance(real_features)
        squared_norm = float(real_features.double().square().sum(dim=1).mean())
        check_spread(self.real_variance, squared_norm, len(real_features))
        self.real_distance = mean_pairwise_distance(real_features, max_samples)

    def __call__(self, fake_features: Tensor) -> dict[str, float]:
        distance = mean_pairwise_distance(fake_features, self.max_samples)
        return {
            "feature_variance_ratio": total_variance(fake_features) / self.real_variance,
            "pairwise_distance_ratio": distance / self.real_distance,
        }
