"""A Gaussian mixture refitted by EM to its own samples: the Nature paper's first figure.

Each generation fits `sklearn.mixture.GaussianMixture` (full covariances) to its training
set. EM starts from the previous generation's fit, which is what "refitting" a model means,
converges in a few iterations, and keeps each component's identity from one generation to
the next, so `std_0` follows one component through the whole run. Generation 0 starts from
k-means (seeded), and its components are then put in the order of the real components they
are closest to.

A component whose weight falls below one training point's worth (weight x points < 1) has
gone extinct: it is dropped from the fit for good and the others are refitted without it.
Its weight is reported as 0 and its other columns are left empty from then on. This is the
collapse the figure shows (a mode that the samples no longer contain cannot come back), and
it keeps EM from fitting a covariance to no points at all.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from lab.domains.vectors.settings import MixtureConfig
from models.latents import draw_latents


@dataclass(frozen=True)
class MixtureFit:
    """weights [K], means [K, dim], covariances [K, dim, dim] (float64); an extinct
    component has weight 0 and NaN mean and covariance. `iterations`: EM's iterations."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    iterations: int

    @property
    def alive(self) -> np.ndarray:
        return self.weights > 0


def fit_mixture(
    points: np.ndarray,
    config: MixtureConfig,
    previous: MixtureFit | None,
    seed: int,
    real_means: np.ndarray | None = None,
) -> MixtureFit:
    """EM on points [n, dim], from `previous` (or, for generation 0, from k-means seeded by
    `seed`, its components then ordered like `real_means`). Extinct components stay extinct."""
    count, dim = points.shape
    alive = previous.alive.copy() if previous is not None else np.ones(config.components, bool)
    while True:
        mixture = _em(points, config, previous, alive, seed)
        starved = mixture.weights_ * count < 1
        if not starved.any():
            break
        if previous is None:  # k-means again with fewer components, in the first slots
            alive[int(alive.sum()) - int(starved.sum()) :] = False
        else:
            alive[np.flatnonzero(alive)[starved]] = False
    order = np.arange(int(alive.sum()))
    if previous is None and real_means is not None:
        order = _closest_order(mixture.means_, real_means)
    weights = np.zeros(config.components)
    means = np.full((config.components, dim), np.nan)
    covariances = np.full((config.components, dim, dim), np.nan)
    weights[alive] = mixture.weights_[order]
    means[alive] = mixture.means_[order]
    covariances[alive] = mixture.covariances_[order]
    return MixtureFit(weights, means, covariances, int(mixture.n_iter_))


def _em(
    points: np.ndarray,
    config: MixtureConfig,
    previous: MixtureFit | None,
    alive: np.ndarray,
    seed: int,
):  # noqa: ANN202 (a fitted sklearn GaussianMixture; sklearn is imported lazily)
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    settings: dict[str, object] = {}
    if previous is not None:
        weights = previous.weights[alive]
        settings = {
            "weights_init": weights / weights.sum(),
            "means_init": previous.means[alive],
            "precisions_init": np.linalg.inv(previous.covariances[alive]),
        }
    mixture = GaussianMixture(
        n_components=int(alive.sum()),
        covariance_type="full",
        max_iter=config.max_iter,
        tol=config.tol,
        reg_covar=config.reg_covar,
        random_state=seed % 2**32,
        **settings,
    )
    with warnings.catch_warnings():
        # Not converging within max_iter is recorded (em_iterations), not an error.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return mixture.fit(points)


def sample_mixture(
    model: MixtureFit,
    count: int,
    generator: torch.Generator,
    temperature: float = 1.0,
    truncation: float | None = None,
) -> np.ndarray:
    """`count` points [count, dim] from the fitted mixture (float64): a component per point
    by its weight, then mean + L z with z biased as for image models (models/latents.py)."""
    weights = torch.from_numpy(model.weights)
    components = torch.multinomial(weights, count, replacement=True, generator=generator)
    dim = model.means.shape[1]
    noise = draw_latents((count, dim), generator, temperature, truncation).double()
    alive = model.alive
    factors = np.zeros_like(model.covariances)
    factors[alive] = np.linalg.cholesky(model.covariances[alive])
    chosen = components.numpy()
    means = np.nan_to_num(model.means)[chosen]
    return means + np.einsum("nij,nj->ni", factors[chosen], noise.numpy())


def _closest_order(means: np.ndarray, real_means: np.ndarray) -> np.ndarray:
    """The order of fitted components that puts each next to the real component nearest it
    (an optimal assignment; extra components go last)."""
    distance = np.linalg.norm(means[:, None, :] - real_means[None, :, :], axis=-1)
    rows, columns = linear_sum_assignment(distance)
    assigned = rows[np.argsort(columns)]
    rest = [i for i in range(len(means)) if i not in set(assigned.tolist())]
    return np.concatenate([assigned, np.array(rest, dtype=int)]).astype(int)
