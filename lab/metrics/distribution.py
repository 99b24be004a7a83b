"""Every metric that compares a generated feature set with one real feature set.

The real side of each metric (FID's mean and covariance, the real k-NN radii and tail, the
real variance and pairwise distance, KID's features, the real Vendi score) is computed once,
in the constructor; each call then measures one generated set. The loop and `collapse-lab
eval` share this class, so a number means the same in a run's metrics.csv and in eval's
output. Sets no metric can measure (non-finite features, a real set without spread) raise
FeatureSetError before any metric runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from torch import Tensor

from lab.metrics.degenerate import check_finite
from lab.metrics.fid import FIDAgainstReal
from lab.metrics.homogeneity import HomogeneityAgainstReal
from lab.metrics.kid import KIDAgainstReal
from lab.metrics.prdc import PrecisionRecallDensityCoverage
from lab.metrics.tails import COLUMNS as TAIL_COLUMNS
from lab.metrics.vendi import vendi_score

if TYPE_CHECKING:  # only its k, tail, KID and pairwise settings are read
    from lab.domains.images.settings import MetricsConfig


class FeatureMetrics:
    """fid; precision, recall, density, coverage; recall_<label> and rare_class_recall (when
    the real images have labels); feature_variance_ratio, pairwise_distance_ratio; kid and
    kid_std (when metrics.kid is on); tail_recall, bulk_recall, tail_coverage, bulk_coverage;
    vendi. In that order, which is the order of metrics.csv. `reference` holds the real set's
    own value of the columns that have one (vendi)."""

    def __init__(
        self,
        real_features: Tensor,
        config: MetricsConfig,
        real_labels: Tensor | None = None,
        label_names: Sequence[str] = (),
    ) -> None:
        check_finite(real_features, "real")
        self.fid = FIDAgainstReal(real_features)
        self.prdc = PrecisionRecallDensityCoverage(
            k=config.precision_recall_k,
            k_density=config.density_coverage_k,
            label_names=label_names if real_labels is not None else (),
            reset_real_features=False,
            tail_fraction=config.tail_fraction,
        )
        self.prdc.update(real_features, real=True, labels=real_labels)
        self.homogeneity = HomogeneityAgainstReal(real_features, config.pairwise_max_samples)
        self.kid = (
            KIDAgainstReal(real_features, config.kid_subsets, config.kid_subset_size)
            if config.kid
            else None
        )
        self.reference = {"vendi": vendi_score(real_features)}

    def __call__(self, fake_features: Tensor) -> dict[str, float]:
        check_finite(fake_features, "generated")
        result = {"fid": self.fid(fake_features)}
        self.prdc.reset()
        self.prdc.update(fake_features, real=False)
        neighbours = {name: float(value) for name, value in self.prdc.compute().items()}
        tails = {name: neighbours.pop(name) for name in TAIL_COLUMNS}
        result.update(neighbours)
        result.update(self.homogeneity(fake_features))
        if self.kid is not None:
            result.update(self.kid(fake_features))
        result.update(tails)
        result["vendi"] = vendi_score(fake_features)
        return result
