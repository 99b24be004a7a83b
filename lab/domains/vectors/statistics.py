"""What is measured on each generation's fit of a vector model, against the real distribution.

Gaussian chains (one number per column, over all chains; the real distribution is N(0, I)):
  mean_variance, median_variance, mean_log_variance
                      a chain's variance is det(cov)^(1/dim), the geometric mean of its
                      covariance's eigenvalues (the variance itself in one dimension); its log
                      is what theory predicts exactly (lab/domains/vectors/theory.py)
  fraction_collapsed  the share of chains whose variance is below data.collapsed_fraction
  mean_w2             the 2-Wasserstein distance of a chain's fit to N(0, I), in closed form
                      sqrt(|mean|^2 + sum_i (sqrt(eigenvalue_i) - 1)^2), averaged
  mean_abs_mean       |mean| (the Euclidean norm for dim > 1), averaged

Gaussian mixture (one fit):
  std_<k>, weight_<k> a component's spread, det(cov)^(1/(2 dim)) (its standard deviation in one
                      dimension, the geometric mean of its axes' in more), and its weight;
                      an extinct component has weight 0 and an empty std
  l2_distance         sqrt(integral (p_fit - p_real)^2), exact: the integral of a product of
                      two Gaussian densities is a Gaussian density (of the difference of
                      their means, with the sum of their covariances)
  heldout_log_likelihood
                      the mean log-density of held-out real points under the fit
"""

from __future__ import annotations

import math

import numpy as np
import torch

from lab.domains.vectors.gaussian import GaussianFit
from lab.domains.vectors.mixture import MixtureFit

GAUSSIAN_COLUMNS = (
    "mean_variance",
    "mean_log_variance",
    "median_variance",
    "fraction_collapsed",
    "mean_w2",
    "mean_abs_mean",
)


def chain_log_variances(model: GaussianFit) -> torch.Tensor:
    """log det(cov)^(1/dim) of every chain [chains]."""
    return torch.linalg.eigvalsh(model.covariance).log().mean(dim=-1)


def chain_statistics(model: GaussianFit, collapsed_fraction: float) -> dict[str, float]:
    """The Gaussian columns of one generation (see the module docstring)."""
    eigenvalues = torch.linalg.eigvalsh(model.covariance)
    log_variance = eigenvalues.log().mean(dim=-1)
    variance = log_variance.exp()
    w2 = (model.mean.square().sum(-1) + (eigenvalues.sqrt() - 1).square().sum(-1)).sqrt()
    values = {
        "mean_variance": variance.mean(),
        "mean_log_variance": log_variance.mean(),
        "median_variance": torch.quantile(variance, 0.5),
        "fraction_collapsed": (variance < collapsed_fraction).double().mean(),
        "mean_w2": w2.mean(),
        "mean_abs_mean": model.mean.norm(dim=-1).mean(),
    }
    return {name: float(value) for name, value in values.items()}


def real_chain_statistics() -> dict[str, float]:
    """The Gaussian columns' values for the real distribution itself, N(0, I)."""
    return dict.fromkeys(GAUSSIAN_COLUMNS, 0.0) | {"mean_variance": 1.0, "median_variance": 1.0}


def component_spreads(covariances: np.ndarray) -> np.ndarray:
    """det(cov)^(1/(2 dim)) of each covariance [K, dim, dim]; NaN where the covariance is."""
    dim = covariances.shape[-1]
    _, logdet = np.linalg.slogdet(np.nan_to_num(covariances, nan=1.0))
    spreads = np.exp(logdet / (2 * dim))
    return np.where(np.isnan(covariances).any(axis=(1, 2)), np.nan, spreads)


def mixture_statistics(
    model: MixtureFit, real: MixtureFit, heldout: np.ndarray
) -> dict[str, float | None]:
    """The mixture columns of one generation's fit (see the module docstring)."""
    spreads = component_spreads(model.covariances)
    values: dict[str, float | None] = {
        f"std_{k}": None if np.isnan(spread) else float(spread) for k, spread in enumerate(spreads)
    }
    values |= {f"weight_{k}": float(weight) for k, weight in enumerate(model.weights)}
    values["l2_distance"] = l2_distance(model, real)
    values["heldout_log_likelihood"] = float(log_density(model, heldout).mean())
    return values


def real_mixture_statistics(real: MixtureFit, heldout: np.ndarray) -> dict[str, float]:
    """The mixture columns' values for the real mixture (the report's dashed lines)."""
    return {k: v for k, v in mixture_statistics(real, real, heldout).items() if v is not None}


def log_density(model: MixtureFit, points: np.ndarray) -> np.ndarray:
    """log p(x) of points [n, dim] under the mixture's living components."""
    return _log_sum(_log_joint(model, points))[:, 0]


def component_posteriors(model: MixtureFit, points: np.ndarray) -> np.ndarray:
    """p(component | x) [n, K] of points [n, dim] under the mixture (0 for an extinct
    component): for the real mixture, the exact judge of which mode a point belongs to."""
    parts = _log_joint(model, points)
    posteriors = np.zeros((len(points), len(model.weights)))
    posteriors[:, model.alive] = np.exp(parts - _log_sum(parts))
    return posteriors


def _log_sum(parts: np.ndarray) -> np.ndarray:
    """log sum_k exp(parts[:, k]) [n, 1], without overflow."""
    top = parts.max(axis=1, keepdims=True)
    return top + np.log(np.exp(parts - top).sum(axis=1, keepdims=True))


def _log_joint(model: MixtureFit, points: np.ndarray) -> np.ndarray:
    """log w_k + log N(x; mean_k, cov_k) [n, living K]."""
    alive = model.alive
    return np.log(model.weights[alive]) + _log_gaussian(
        points[:, None, :], model.means[alive], model.covariances[alive]
    )


def l2_distance(first: MixtureFit, second: MixtureFit) -> float:
    """sqrt(integral (p - q)^2) between two mixtures, in closed form."""
    total = _overlap(first, first) - 2 * _overlap(first, second) + _overlap(second, second)
    return math.sqrt(max(total, 0.0))


def _overlap(first: MixtureFit, second: MixtureFit) -> float:
    """integral p q = sum_ij a_i b_j N(mu_i; mu_j, S_i + S_j)."""
    a, b = first.alive, second.alive
    log_terms = _log_gaussian(
        first.means[a][:, None, :],
        second.means[b][None, :, :],
        first.covariances[a][:, None] + second.covariances[b][None, :],
    )
    weights = first.weights[a][:, None] * second.weights[b][None, :]
    return float((weights * np.exp(log_terms)).sum())


def _log_gaussian(x: np.ndarray, mean: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """log N(x; mean, covariance), broadcast over leading axes (x [..., dim])."""
    dim = x.shape[-1]
    factor = np.linalg.cholesky(covariance)
    solved = (np.linalg.inv(factor) @ (x - mean)[..., None])[..., 0]
    log_det = 2 * np.log(np.diagonal(factor, axis1=-2, axis2=-1)).sum(-1)
    return -0.5 * (dim * math.log(2 * math.pi) + log_det + (solved**2).sum(-1))
