"""The real distributions of the vector experiments, and their `data:` sections.

`data.name` picks the section's dataclass (as `model.kind` picks the model's): `gaussian`
is N(0, I) in `dim` dimensions, `gmm` a mixture of Gaussians given by its weights, means and
covariances. Real data is drawn from them with seeds derived from the experiment's seed, so
every run with the same seed starts from the same points.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from lab.experiment import ExperimentConfig
from lab.schema import SchemaError, bounds, by_kind, omitted_at_default

WEIGHT_SUM_TOLERANCE = 1e-6


@dataclass(frozen=True)
class GaussianData:
    """N(0, I) in `dim` dimensions; every chain starts from its own sample of it."""

    # The standard normal N(0, I) as the real distribution.
    name: Literal["gaussian"] = "gaussian"
    # Dimensions of the Gaussian.
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

    # A Gaussian mixture as the real distribution (the Nature paper's first figure).
    name: Literal["gmm"] = "gmm"
    # The real components' weights; they must sum to 1.
    weights: tuple[float, ...] = field(default=(0.5, 0.5), metadata=bounds(gt=0))
    # The real components' means, one list per component.
    means: tuple[tuple[float, ...], ...] = ((-2.0, 0.0), (2.0, 0.0))
    # The real components' covariance matrices, one per component.
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


@dataclass(frozen=True)
class GaussianConfig:
    # Gaussian chains, each refitted (mean and covariance) to its own N samples.
    kind: Literal["gaussian"] = "gaussian"
    # Independent chains, each its own loop of fit -> sample -> refit, run as one batch.
    chains: int = field(default=1000, metadata=bounds(ge=1))
    # The covariance estimator: the scatter divided by N - 1 (unbiased) or by N (maximum
    # likelihood). Both shrink the variance's geometric mean; mle faster.
    estimator: Literal["unbiased", "mle"] = "unbiased"
    # Generations computed in memory between two commits to the run directory. A killed
    # run resumes at the start of its unfinished block; larger blocks write less often.
    commit_every: int = field(default=100, metadata=bounds(ge=1))

    # The real distribution this model is fitted to (data.name); see ExperimentConfig.
    data_name: ClassVar[str] = "gaussian"


@dataclass(frozen=True)
class MixtureConfig:
    # A Gaussian mixture refitted by EM (sklearn's GaussianMixture, full covariances).
    kind: Literal["gmm"] = "gmm"
    # Mixture components fitted each generation.
    components: int = field(default=2, metadata=bounds(ge=1))
    # EM stops after max_iter iterations or when the mean log-likelihood gains less than
    # tol; reg_covar is added to every covariance's diagonal (sklearn's defaults).
    max_iter: int = field(default=100, metadata=bounds(ge=1))
    # EM's convergence threshold on the mean log-likelihood's gain.
    tol: float = field(default=1e-3, metadata=bounds(gt=0))
    # Added to every fitted covariance's diagonal.
    reg_covar: float = field(default=1e-6, metadata=bounds(ge=0))
    # Generations computed in memory between two commits to the run directory.
    commit_every: int = field(default=100, metadata=bounds(ge=1))
    # The report draws the fitted density at these generations (those the run reaches).
    plot_generations: tuple[int, ...] = field(
        default=(0, 50, 100, 150, 200, 350, 2000), metadata=bounds(ge=0)
    )

    data_name: ClassVar[str] = "gmm"


DATA_CONFIGS: dict[str, type] = {"gaussian": GaussianData, "gmm": MixtureData}
MODEL_CONFIGS: dict[str, type] = {"gaussian": GaussianConfig, "gmm": MixtureConfig}


@dataclass(frozen=True)
class VectorSamplingConfig:
    """How each generation's points are drawn from its fit."""

    # Sampling bias, as for the image models: temperature scales the noise around the
    # fitted mean (1.0 unbiased); truncation draws each noise coordinate from a normal
    # truncated to [-truncation, truncation] (null: unbiased).
    temperature: float = field(default=1.0, metadata=bounds(gt=0))
    # Noise truncated to [-truncation, truncation] (null: unbiased).
    truncation: float | None = field(default=None, metadata=bounds(gt=0))

    BIASES: ClassVar[tuple[str, ...]] = ("temperature", "truncation")


@dataclass(frozen=True)
class CorrectionConfig:
    """Self-correction (Gillman et al., ICML 2024): an expert that knows the real distribution
    moves each point the next generation is fitted to towards it (docs/curation.md)."""

    # How far each point moves towards its image under the optimal transport map from the
    # fitted component it most likely came from to the real component of that index: 0 not
    # at all, 1 all the way (the points are then distributed as the real components).
    strength: float = field(default=0.5, metadata=bounds(gt=0, le=1))


# The sections that act on a generation's points, which the Gaussian chains never hold, and
# what that leaves them to do.
POINTS_ONLY = {
    "curate": "a curator has nothing to choose among",
    "correct": "there is nothing to correct",
}


@dataclass(frozen=True, kw_only=True)
class VectorExperiment(ExperimentConfig):
    """A Gaussian or a mixture refitted to its own samples; no training loop."""

    model: Any = field(metadata=by_kind(lambda: MODEL_CONFIGS))
    data: Any = field(metadata=by_kind(lambda: DATA_CONFIGS, key="name"))
    sampling: VectorSamplingConfig = field(default_factory=VectorSamplingConfig)
    # The mixture's self-correcting expert, applied to what each generation passes on (after
    # a curator, if any); unset, no correction.
    correct: CorrectionConfig | None = field(default=None, metadata=omitted_at_default())

    # Before the image domain owned them, every config held the image sections.
    RETIRED: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "": ("judge", "metrics"),
        "sampling": ("batch_size", "grid_rows"),
    }

    def check_experiment(self) -> None:
        """Each fit belongs to one real distribution; a fit has no training loop, and `fresh`
        needs a real set to draw blocks from, which these experiments do not keep."""
        model, data = self.model, self.data
        if model.data_name != data.name:
            raise SchemaError(
                "model.kind",
                f"is {model.kind!r}, which is fitted to data.name {model.data_name!r}, not "
                f"{data.name!r}; use model.kind {data.model_kind!r}",
            )
        if self.train is not None:
            raise SchemaError(
                "train", f"does not apply to model kind {model.kind!r} (no training loop)"
            )
        if self.regime not in ("replace", "accumulate"):
            raise SchemaError(
                "regime",
                f"{self.regime!r} is not supported for {data.name!r}; use 'replace' or "
                "'accumulate'",
            )
        for section, nothing in POINTS_ONLY.items():
            if getattr(self, section) is not None and isinstance(data, GaussianData):
                raise SchemaError(
                    section,
                    "is given, but the Gaussian chains keep only each generation's mean and "
                    f"scatter, not its points, so {nothing}; {section} data.name 'gmm', or "
                    "remove the section",
                )
        if self.correct is not None and model.components != len(data.weights):
            raise SchemaError(
                "correct",
                f"is given, but model.components is {model.components} while the real "
                f"mixture has {len(data.weights)}: the expert maps fitted component k to real "
                f"component k; set model.components to {len(data.weights)}",
            )
