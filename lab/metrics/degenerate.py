"""Feature sets that no metric can measure, told apart from sets that measure as collapsed.

A generated set whose images are all alike is a finding (its variance ratio is 0, its recall
near 0), but a *real* set without spread leaves nothing to compare with: every ratio divides
by its variance and every real k-NN ball has radius 0. Non-finite features make every number
NaN. Both are refused with a FeatureSetError, which the caller turns into a sentence naming
the set; the metrics themselves do not know which file a set came from.
"""

from __future__ import annotations

from torch import Tensor

# A real set's total variance at or below this fraction of its mean squared feature norm is
# no spread at all: identical images give features that differ, if at all, by float32
# rounding (a few units in the last place, e.g. from a GPU's batch-dependent kernels).
SPREAD_FLOOR = (64 * 2.0**-24) ** 2


class FeatureSetError(ValueError):
    """A feature set that cannot be measured; the message says what is wrong with it."""


def check_finite(features: Tensor, role: str) -> None:
    """Refuse NaN or infinite features before any metric turns them into NaN."""
    bad_rows = (~features.isfinite()).any(dim=1)
    if bad_rows.any():
        raise FeatureSetError(
            f"the features of {int(bad_rows.sum())} of its {len(features)} {role} images are NaN "
            "or infinite, which no metric can compare; the feature extractor (or its cached "
            "weights or features under cache_dir) is broken, so delete that cache and run again"
        )


def check_spread(total_variance: float, mean_squared_norm: float, count: int) -> None:
    """Refuse a reference set whose features do not vary: nothing can be compared with it."""
    if total_variance <= SPREAD_FLOOR * mean_squared_norm:
        raise FeatureSetError(
            f"its {count} images have identical features (zero variance), so no distance, ratio "
            "or k-NN ball can be measured against it; pass real images that differ from one another"
        )
