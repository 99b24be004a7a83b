"""The self-correcting expert of Gillman et al. (ICML 2024, "Self-Correcting Self-Consuming
Loops for Generative Model Training") for the Gaussian mixture, where an exact one exists.

Their expert moves samples towards the data manifold before the next model trains on them;
their idealised correction moves a sample part of the way to where the true distribution
would put it. Here that is exact: each point is taken to come from the fitted component
most likely to have drawn it, and moved a fraction `strength` of the way to its image under
the optimal transport map from that fitted Gaussian to the real component of the same index
(EM keeps component identities from generation to generation, lab/domains/vectors/mixture.py):

    T(x) = mu_real + A (x - mu_fit),   A = S^-1/2 (S^1/2 R S^1/2)^1/2 S^-1/2

with S the fitted and R the real covariance (the map between two Gaussians of least mean
squared displacement). At strength 1 every point is distributed as its real component; the
fitted weights are left as they are, so a mode the fit has lost stays lost.
"""

from __future__ import annotations

import numpy as np

from lab.domains.vectors.mixture import MixtureFit
from lab.domains.vectors.statistics import component_posteriors


def corrected(points: np.ndarray, fit: MixtureFit, real: MixtureFit, strength: float) -> np.ndarray:
    """`points` [n, dim] moved `strength` of the way to their optimal transport images."""
    source = component_posteriors(fit, points).argmax(axis=1)
    moved = points.copy()
    for component in np.flatnonzero(fit.alive):
        chosen = source == component
        if not chosen.any():
            continue
        transport = transport_matrix(fit.covariances[component], real.covariances[component])
        offsets = points[chosen] - fit.means[component]
        target = real.means[component] + offsets @ transport.T
        moved[chosen] = points[chosen] + strength * (target - points[chosen])
    return moved


def transport_matrix(fitted: np.ndarray, real: np.ndarray) -> np.ndarray:
    """A with A S A = R, symmetric positive definite: the linear part of the optimal
    transport map from N(., S) to N(., R)."""
    root = _power(fitted, 0.5)
    inverse_root = _power(fitted, -0.5)
    return inverse_root @ _power(root @ real @ root, 0.5) @ inverse_root


def _power(matrix: np.ndarray, exponent: float) -> np.ndarray:
    """A symmetric positive definite matrix to a real power, through its eigenvalues."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * values**exponent) @ vectors.T
