"""The vector models' statistics and shortcuts against direct computations on the same inputs:
scipy's densities, numerical integration, matrix square roots, and samples actually formed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.linalg import sqrtm
from scipy.stats import multivariate_normal

from lab.domains.vectors import gaussian
from lab.domains.vectors.correction import corrected, transport_matrix
from lab.domains.vectors.mixture import MixtureFit
from lab.domains.vectors.statistics import (
    chain_statistics,
    component_posteriors,
    l2_distance,
    log_density,
)


def _random_covariances(rng: np.random.Generator, count: int, dim: int) -> np.ndarray:
    factors = rng.normal(size=(count, dim, dim))
    return factors @ factors.transpose(0, 2, 1) + 0.1 * np.eye(dim)


@pytest.fixture
def mixtures() -> tuple[MixtureFit, MixtureFit]:
    rng = np.random.default_rng(0)
    first = MixtureFit(
        np.array([0.3, 0.7]), rng.normal(size=(2, 2)), _random_covariances(rng, 2, 2), 0
    )
    # A second mixture with an extinct component, which must count for nothing.
    second = MixtureFit(
        np.array([1.0, 0.0]),
        np.array([[0.5, -0.5], [np.nan, np.nan]]),
        np.stack([_random_covariances(rng, 1, 2)[0], np.full((2, 2), np.nan)]),
        0,
    )
    return first, second


def test_log_density_matches_scipy(mixtures) -> None:
    first, second = mixtures
    points = np.random.default_rng(1).normal(size=(50, 2)) * 2
    expected = np.log(
        sum(
            w * multivariate_normal(m, c).pdf(points)
            for w, m, c in zip(first.weights, first.means, first.covariances, strict=True)
        )
    )
    np.testing.assert_allclose(log_density(first, points), expected, rtol=1e-10)
    alone = multivariate_normal(second.means[0], second.covariances[0]).logpdf(points)
    np.testing.assert_allclose(log_density(second, points), alone, rtol=1e-10)


def test_component_posteriors_match_scipy(mixtures) -> None:
    """The mixture curators' judge: p(component | x), 0 for an extinct component."""
    first, second = mixtures
    points = np.random.default_rng(2).normal(size=(50, 2)) * 2
    joint = np.stack(
        [
            w * multivariate_normal(m, c).pdf(points)
            for w, m, c in zip(first.weights, first.means, first.covariances, strict=True)
        ],
        axis=1,
    )
    expected = joint / joint.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(component_posteriors(first, points), expected, rtol=1e-9)
    alone = component_posteriors(second, points)
    np.testing.assert_array_equal(alone, np.stack([np.ones(50), np.zeros(50)], axis=1))


def test_l2_distance_matches_numerical_integration(mixtures) -> None:
    first, second = mixtures
    axis = np.linspace(-12, 12, 801)
    grid = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    difference = np.exp(log_density(first, grid)) - np.exp(log_density(second, grid))
    integral = (difference**2).sum() * (axis[1] - axis[0]) ** 2
    assert l2_distance(first, second) == pytest.approx(np.sqrt(integral), rel=1e-4)
    assert l2_distance(first, first) == pytest.approx(0.0, abs=1e-7)


def test_chain_statistics_match_direct_formulas() -> None:
    rng = np.random.default_rng(2)
    chains, dim = 6, 3
    covariances = _random_covariances(rng, chains, dim)
    means = rng.normal(size=(chains, dim))
    fit = gaussian.GaussianFit(torch.from_numpy(means), torch.from_numpy(covariances))
    values = chain_statistics(fit, collapsed_fraction=0.5)
    # W2 between N(m, S) and N(0, I): |m|^2 + tr(S + I - 2 S^(1/2)).
    w2 = [
        np.sqrt(m @ m + np.trace(c + np.eye(dim) - 2 * sqrtm(c).real))
        for m, c in zip(means, covariances, strict=True)
    ]
    variances = np.linalg.det(covariances) ** (1 / dim)
    assert values["mean_w2"] == pytest.approx(np.mean(w2), rel=1e-9)
    assert values["mean_log_variance"] == pytest.approx(np.log(variances).mean(), rel=1e-9)
    assert values["median_variance"] == pytest.approx(np.median(variances), rel=1e-9)
    assert values["fraction_collapsed"] == pytest.approx(np.mean(variances < 0.5))
    assert values["mean_abs_mean"] == pytest.approx(np.linalg.norm(means, axis=1).mean())


def test_sufficient_statistics_equal_those_of_the_points() -> None:
    """Samples are summarised without being formed, and unions merged from their parts: both
    must give the statistics of the actual points."""
    rng = np.random.default_rng(3)
    chains, count, dim = 4, 7, 2
    fit = gaussian.GaussianFit(
        torch.from_numpy(rng.normal(size=(chains, dim))),
        torch.from_numpy(_random_covariances(rng, chains, dim)),
    )
    summary = gaussian.sample_statistics(fit, count, torch.Generator().manual_seed(5), 0.8)
    noise = 0.8 * torch.randn((chains, count, dim), generator=torch.Generator().manual_seed(5))
    factor = torch.linalg.cholesky(fit.covariance)
    points = fit.mean[:, None, :] + (factor[:, None] @ noise.double()[..., None])[..., 0]
    direct = gaussian.statistics_of(points, real=False)
    torch.testing.assert_close(summary.mean, direct.mean)
    torch.testing.assert_close(summary.scatter, direct.scatter)

    real = torch.from_numpy(rng.normal(size=(chains, 5, dim)))
    merged = gaussian.statistics_of(real, real=True).merge(direct)
    union = gaussian.statistics_of(torch.cat([real, points], dim=1), real=False)
    assert (merged.count, merged.real) == (12, 5)
    torch.testing.assert_close(merged.mean, union.mean)
    torch.testing.assert_close(merged.scatter, union.scatter)


def test_the_experts_transport_takes_a_fitted_gaussian_to_the_real_one() -> None:
    """A S A = R; at strength 1, points whose own mean and covariance are the fit's come out
    with exactly the real component's; at 0.3 each moves 0.3 of the way."""
    rng = np.random.default_rng(3)
    points = rng.normal(size=(400, 2)) @ np.array([[1.5, 0.0], [0.7, 0.4]]) + [1.0, -2.0]
    fitted = np.cov(points, rowvar=False, bias=True)
    fit = MixtureFit(np.array([1.0]), points.mean(0)[None], fitted[None], 0)
    real = MixtureFit(np.array([1.0]), np.array([[-2.0, 0.5]]), _random_covariances(rng, 1, 2), 0)
    transport = transport_matrix(fitted, real.covariances[0])
    np.testing.assert_allclose(transport @ fitted @ transport, real.covariances[0], atol=1e-10)
    np.testing.assert_allclose(transport, transport.T, atol=1e-12)
    moved = corrected(points, fit, real, 1.0)
    np.testing.assert_allclose(moved.mean(0), real.means[0], atol=1e-10)
    np.testing.assert_allclose(
        np.cov(moved, rowvar=False, bias=True), real.covariances[0], atol=1e-10
    )
    partly = corrected(points, fit, real, 0.3)
    np.testing.assert_allclose(partly, points + 0.3 * (moved - points), atol=1e-12)
