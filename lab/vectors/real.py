"""The real distributions of the vector experiments, and their `data:` sections.

`data.name` picks the section's dataclass (as `model.kind` picks the model's): `gaussian`
is N(0, I) in `dim` dimensions, `gmm` a mixture of Gaussians given by its weights, means and
covariances. Real data is drawn from them with seeds derived from the experiment's seed, so
every run with the same seed starts from the same points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np

from lab.schema import SchemaError, bounds

WEIGHT_SUM_TOLERANCE = 1e-6


@dataclass(frozen=True)
class GaussianData:
    """N(0, I) in `dim` dimensions; every chain starts from its own sample of it."""

    name: Literal["gaussian"] = "gaussian"
    dim: int = field(default=1, metadata=bounds(ge=1))
    # A chain counts as collapsed (column fraction_collapsed) once its variance falls below
    # this fraction of the real variance, 1. A chain's variance is the geometric mean of its
    # covariance's eigenvalues, det(cov)^(1/dim): the variance itself in one dimension.
    collapsed_fraction: float = field(default=0.1, metadata=bounds(gt=0, lt=1))

    # The model kind that is fitted to this data (model.kind); see ExperimentConfig.
    model_kind: ClassVar[str] = "gaussian"


@dataclass(frozen=True)
class MixtureData:
    """A mixture of Gaussians; the defaults are two tilted 2-D Gaussians, well apart."""

    name: Literal["gmm"] = "gmm"
    weights: tuple[float, ...] = field(default=(0.5, 0.5), metadata=bounds(gt=0))
    means: tuple[tuple[float, ...], ...] = ((-2.0, 0.0), (2.0, 0.0))
    covariances: tuple[tuple[tuple[float, ...], ...], ...] = (
        ((1.0, 0.5), (0.5, 1.0)),
        ((1.0, -0.5), (-0.5, 1.0)),
    )
    # Real points held out (never trained on) to score each generation's fit:
    # heldout_log_likelihood is their mean log-density under the fitted mixture.
    heldout: int = field(default=10000, metadata=bounds(ge=1))

    model_kind: ClassVar[str] = "gmm"

    def check(self, prefix: str) -> None:
        count = len(self.weights)
        for key, value in (("means", self.means), ("covariances", self.covariances)):
            if len(value) != count:
                raise SchemaError(
                    f"{prefix}.{key}",
                    f"has {len(value)} entries but weights has {count}; give one per component",
                )
        if abs(sum(self.weights) - 1) > WEIGHT_SUM_TOLERANCE:
            raise SchemaError(f"{prefix}.weights", f"sum to {sum(self.weights):g}, not 1")
        dim = len(self.means[0]) if self.means else 0
        if dim == 0 or any(len(mean) != dim for mean in self.means):
            raise SchemaError(f"{prefix}.means", "must all have the same, non-zero length")
        for index, covariance in enumerate(self.covariances):
            matrix = np.array(covariance, dtype=float)
            key = f"{prefix}.covariances[{index}]"
            if matrix.shape != (dim, dim):
                raise SchemaError(key, f"must be a {dim}x{dim} matrix (a list of {dim} rows)")
            if not np.allclose(matrix, matrix.T) or np.linalg.eigvalsh(matrix).min() <= 0:
                raise SchemaError(key, "must be symmetric and positive definite")

    @property
    def dim(self) -> int:
        return len(self.means[0])

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(weights [K], means [K, dim], covariances [K, dim, dim]) as float64 arrays."""
        return (
            np.array(self.weights, dtype=np.float64),
            np.array(self.means, dtype=np.float64),
            np.array(self.covariances, dtype=np.float64),
        )


def data_configs() -> dict[str, type]:
    """data.name -> the dataclass of the vector data sections."""
    return {"gaussian": GaussianData, "gmm": MixtureData}
