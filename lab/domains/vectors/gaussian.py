"""The simplest generative model: a Gaussian fitted to its training set, many chains at once.

This is the model of the Nature paper's theory (Shumailov et al. 2024, section "Discrete and
Gaussian examples"): fit a mean and a covariance, sample from the fit, refit on the samples.
Every chain is an independent replica of that loop; they run side by side as batched
tensors ([chains, dim], [chains, dim, dim]), so a thousand chains cost about as much as one.

A fit needs only its training set's sufficient statistics (count, mean, scatter matrix),
and those of a union are exact from those of its parts (Chan et al.'s pairwise update), so
a training set that keeps every earlier generation's samples (`regime: accumulate`) is
never held in memory: 1,000 chains x 2,000 generations x 100 samples would be 1.6 GB of
float64, and refitting on all of it every generation O(G^2) work. Samples are summarised
where they are drawn: x = mean + temperature * L z with L the Cholesky factor of the fit's
covariance, so their mean is mean + temperature * L z_bar and their scatter
temperature^2 * L S_z L^T, where z_bar and S_z are the noise's own mean and scatter. That is
the same set of numbers as summarising x itself, without x - x_bar losing digits once a chain's
variance has fallen to 1e-10 of its mean's square.

The expected drift of the fitted variance, which tests hold these chains to, is derived in
lab/domains/vectors/theory.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from models.latents import draw_latents


class OutOfRange(ArithmeticError):
    """A chain's covariance left what float64 can factor: its variance (the geometric mean
    of its eigenvalues) overflowed to inf or NaN, or underflowed to 0."""

    def __init__(self, chain: int, variance: float) -> None:
        super().__init__(f"chain {chain}'s variance is {variance:.3g}")
        self.chain = chain
        self.variance = variance


@dataclass(frozen=True)
class GaussianStats:
    """Sufficient statistics of each chain's training set: `count` points per chain (the
    same for every chain), `real` of them real; mean [chains, dim], scatter [chains, dim, dim]
    (the sum of outer products of deviations from the mean)."""

    count: int
    real: int
    mean: torch.Tensor
    scatter: torch.Tensor

    def merge(self, other: GaussianStats) -> GaussianStats:
        """The statistics of the union of both training sets (exact, Chan et al. 1979)."""
        count = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.count / count)
        between = delta[:, :, None] * delta[:, None, :] * (self.count * other.count / count)
        return GaussianStats(
            count, self.real + other.real, mean, self.scatter + other.scatter + between
        )

    @property
    def synthetic_fraction(self) -> float:
        return 1.0 - self.real / self.count


@dataclass(frozen=True)
class GaussianFit:
    """Each chain's fitted mean [chains, dim] and covariance [chains, dim, dim] (float64)."""

    mean: torch.Tensor
    covariance: torch.Tensor


def statistics_of(points: torch.Tensor, real: bool) -> GaussianStats:
    """Sufficient statistics of points [chains, n, dim]."""
    mean = points.mean(dim=1)
    deviations = points - mean[:, None, :]
    scatter = deviations.transpose(1, 2) @ deviations
    count = points.shape[1]
    return GaussianStats(count, count if real else 0, mean, scatter)


def fit(stats: GaussianStats, estimator: Literal["unbiased", "mle"]) -> GaussianFit:
    """Each chain's mean and covariance: the scatter over N - 1 (unbiased) or N (mle)."""
    divisor = stats.count - 1 if estimator == "unbiased" else stats.count
    return GaussianFit(stats.mean, stats.scatter / divisor)


def sample_statistics(
    model: GaussianFit,
    count: int,
    generator: torch.Generator,
    temperature: float = 1.0,
    truncation: float | None = None,
) -> GaussianStats:
    """The sufficient statistics of `count` samples per chain from `model` (see the module
    docstring for why the samples themselves are never formed). temperature and truncation
    bias the draw as they do for image models (models/latents.py)."""
    chains, dim = model.mean.shape
    noise = draw_latents((chains, count, dim), generator, temperature, truncation).double()
    noise_stats = statistics_of(noise, real=False)
    factor, failed = torch.linalg.cholesky_ex(model.covariance)
    broken = (failed != 0) | ~torch.isfinite(model.covariance).all(dim=(1, 2))
    if broken.any():
        chain = int(broken.nonzero()[0, 0])
        raise OutOfRange(chain, float(torch.linalg.det(model.covariance[chain]).abs() ** (1 / dim)))
    mean = model.mean + (factor @ noise_stats.mean[:, :, None])[:, :, 0]
    scatter = factor @ noise_stats.scatter @ factor.transpose(1, 2)
    return GaussianStats(count, 0, mean, scatter)
