"""Memorisation: the share of samples that copy the set their generator trained on.

The authenticity test of Alaa et al. (ICML 2022), as dgm-eval computes it: a sample is a copy
when it is no farther from its nearest training image than that image is from its own nearest
other training image. A model that reproduces its training images scores near 1; a model that
generalises scores about what held-out real images score against the same training set (about
half of them pass the test by chance), the "real rate" the manifest keeps as the reference. In
a collapse loop the training set of generation g is mostly generation g-1's samples, so a
generator that copies its synthetic parent shows here even when it copies no real image.

Exact nearest neighbours, tiled like the PRDC code (lab/metrics/neighbours.py, whose
conventions it shares: distances as the float64 value rounded to float32, exact duplicates at
distance 0): a float32 pass over samples x training images keeps each sample's nearest and
second-nearest value; where the two are farther apart than the float32 error bound, the
nearest image is certain and one float64 distance decides; otherwise (near-ties, duplicated
training images) the sample's whole row is measured in float64 and every training image at
the smallest distance may vouch for the copy.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lab.metrics.neighbours import (
    DEFAULT_TILE,
    Points,
    exact_pair_squared,
    exact_squared,
    float32_error,
    knn_squared_radii,
    origin_of,
    tile_arithmetic,
)

COLUMN = "copy_fraction"


class CopyFraction:
    """copy_fraction of any number of generated feature sets against one training set, whose
    nearest-neighbour radii are computed once."""

    def __init__(self, training_features: Tensor, tile: tuple[int, int] = DEFAULT_TILE) -> None:
        if training_features.dim() != 2 or len(training_features) < 2:
            raise ValueError(
                "a copy test needs a training set of at least 2 feature vectors [N, D], got "
                f"{tuple(training_features.shape)}"
            )
        self.tile = tile
        self.training = Points(training_features, origin_of(training_features))
        self.radius = knn_squared_radii(self.training, [1], tile)[1]

    def __call__(self, sample_features: Tensor) -> float:
        samples = Points(sample_features.to(self.training.low.device), self.training.origin)
        return float(copies(samples, self.training, self.radius, self.tile).double().mean())


def copies(samples: Points, training: Points, radius: Tensor, tile: tuple[int, int]) -> Tensor:
    """bool [M]: sample i is no farther from its nearest training image t than t's squared
    nearest-other radius `radius[t]` allows."""
    best, nearest, second = _nearest_two(samples, training, tile)
    tolerance = float32_error(samples.dim) * (samples.max_norm + training.max_norm)
    # Apart by more than twice the error of each value (and their rounding): a certain nearest.
    certain = second - best > 4 * tolerance
    result = torch.zeros(len(samples), dtype=torch.bool, device=best.device)
    rows = torch.nonzero(certain).flatten()
    squared = exact_pair_squared(samples, rows, training, nearest[rows])
    result[rows] = squared <= radius[nearest[rows]]
    unsure = torch.nonzero(~certain).flatten()
    step = max(1, tile[0] * tile[1] // len(training))
    for chunk in unsure.split(step):
        row = exact_squared(samples, chunk, training, None)
        closest = row.amin(1, keepdim=True)
        vouching = (row == closest) & (radius.unsqueeze(0) >= closest)
        result[chunk] = vouching.any(1)
    return result


def _nearest_two(
    samples: Points, training: Points, tile: tuple[int, int]
) -> tuple[Tensor, Tensor, Tensor]:
    """Per sample, in float32 tile values: the smallest squared distance to a training image,
    that image's index (the first, on a tie) and the second-smallest value."""
    device = samples.low.device
    count = len(samples)
    best = torch.full((count,), float("inf"), device=device)
    second = torch.full((count,), float("inf"), device=device)
    nearest = torch.zeros(count, dtype=torch.int64, device=device)
    rows, cols = tile
    with tile_arithmetic(device):
        for r0 in range(0, count, rows):
            r1 = min(r0 + rows, count)
            block = samples.lhs[r0:r1]
            for c0 in range(0, len(training), cols):
                squared = block @ training.rhs[c0 : c0 + cols].T
                if squared.shape[1] == 1:  # a last tile of one column
                    squared = torch.cat([squared, torch.full_like(squared, float("inf"))], 1)
                values, where = squared.topk(2, dim=1, largest=False)
                first, runner_up = values[:, 0], values[:, 1]
                taken = first < best[r0:r1]
                second[r0:r1] = torch.where(
                    taken,
                    torch.minimum(best[r0:r1], runner_up),
                    torch.minimum(second[r0:r1], first),
                )
                nearest[r0:r1] = torch.where(taken, where[:, 0] + c0, nearest[r0:r1])
                best[r0:r1] = torch.minimum(best[r0:r1], first)
    return best, nearest, second
