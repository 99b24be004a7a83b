"""The metrics where a collapsed generation, or a user's odd files, land: sets without spread,
non-finite features, KID near 0, classes the real data lacks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lab.domains.images.settings import MetricsConfig
from lab.metrics.classes import class_metrics
from lab.metrics.degenerate import FeatureSetError
from lab.metrics.distribution import FeatureMetrics
from lab.metrics.kid import KIDAgainstReal


def gaussian(seed: int, n: int, d: int, shift: float = 0.0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed)) + shift


def test_a_real_set_without_spread_is_refused_in_words() -> None:
    """Identical real images: every ratio would divide by 0 (ZeroDivisionError before)."""
    identical = gaussian(0, 1, 16).repeat(50, 1)
    with pytest.raises(FeatureSetError, match="50 images have identical features"):
        FeatureMetrics(identical, MetricsConfig())
    # Float32 rounding between otherwise identical rows is still no spread.
    rounded = identical * (1 + 1e-7 * torch.randn(50, 1, generator=torch.Generator()))
    with pytest.raises(FeatureSetError, match="zero variance"):
        FeatureMetrics(rounded, MetricsConfig())


def test_a_generated_set_of_one_point_measures_as_total_collapse() -> None:
    """The same degenerate set on the generated side is a finding, not an error."""
    real = gaussian(1, 300, 8)
    measure = FeatureMetrics(real, MetricsConfig(kid=True, kid_subset_size=100, kid_subsets=5))
    measured = measure(real[:1].repeat(200, 1))
    assert measured["feature_variance_ratio"] == 0.0
    assert measured["pairwise_distance_ratio"] == 0.0
    assert measured["recall"] == 0.0  # every generated ball has radius 0
    # At most the reals whose ball holds that one point: 0.01 here (3 of 300; margin 0.04, seed 1).
    assert measured["coverage"] < 0.05
    assert measured["precision"] == 1.0  # the point is a real image
    mean_gap = float((real - real[0]).square().sum(1).mean())
    # |mean gap|^2 + tr(cov): 18.655 against 18.627, 0.15% off, inside the 5% allowed.
    assert measured["fid"] == pytest.approx(mean_gap, rel=0.05)
    assert np.isfinite(measured["kid"]) and measured["kid"] > 0  # 9.61 here


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_features_are_refused_before_any_metric(bad: float, capfd) -> None:
    """Not NaN FID and KID with oneMKL complaining on stderr, then a bare ValueError."""
    real = gaussian(2, 200, 8)
    fake = gaussian(3, 150, 8)
    fake[[4, 90], 2] = bad
    measure = FeatureMetrics(real, MetricsConfig(kid=True, kid_subset_size=50, kid_subsets=3))
    with pytest.raises(FeatureSetError, match="features of 2 of its 150 generated images"):
        measure(fake)
    broken_real = real.clone()
    broken_real[7, 0] = bad
    with pytest.raises(FeatureSetError, match="1 of its 200 real images are NaN or infinite"):
        FeatureMetrics(broken_real, MetricsConfig())
    assert capfd.readouterr().err == ""


def kid_in_float64(real: np.ndarray, fake: np.ndarray) -> float:
    """The unbiased MMD^2 with the cubic kernel (x.y / d + 1)^3, in NumPy float64."""
    d, m = real.shape[1], len(real)
    k_rr, k_ff = (real @ real.T / d + 1) ** 3, (fake @ fake.T / d + 1) ** 3
    k_rf = (real @ fake.T / d + 1) ** 3
    within = k_rr.sum() - np.trace(k_rr) + k_ff.sum() - np.trace(k_ff)
    return within / (m * (m - 1)) - 2 * k_rf.sum() / m**2


def test_kid_near_zero_equals_float64_arithmetic() -> None:
    """Two samples of one distribution far from the origin: KID is a small difference of
    large kernel sums, where float32 was off by about 1e-2 of the value."""
    real, fake = gaussian(4, 400, 128, shift=10.0), gaussian(5, 400, 128, shift=10.0)
    subsets, size, seed = 4, 300, 0
    measured = KIDAgainstReal(real, subsets, size, seed)(fake)
    torch.manual_seed(seed)  # the subsets torchmetrics draws, in its order
    values = []
    for _ in range(subsets):
        real_rows, fake_rows = torch.randperm(len(real))[:size], torch.randperm(len(fake))[:size]
        values.append(
            kid_in_float64(real[real_rows].double().numpy(), fake[fake_rows].double().numpy())
        )
    kernel = float(((real.double() @ fake.double().T) / 128 + 1).pow(3).mean())
    # Near 0 against the sums it is the gap of: |11.6| against 1e-4 x 1.03e6 = 102.9, nine times
    # under the line (seeds 4, 5 and subset seed 0).
    assert abs(np.mean(values)) < 1e-4 * kernel
    assert measured["kid"] == pytest.approx(np.mean(values), rel=1e-9)
    assert measured["kid_std"] == pytest.approx(np.std(values), rel=1e-9)


def test_a_class_the_real_data_lacks_is_not_covered() -> None:
    """classes_covered said 10 of 10 when one class was in neither set (0 >= 0.5 x 0)."""
    real_shares = torch.tensor([0.125] * 8 + [0.0, 0.0], dtype=torch.float64)
    samples = torch.tensor([c for c in range(8) for _ in range(10)])  # eight present classes
    assert class_metrics(samples, real_shares, 0.5)["classes_covered"] == 8
    samples[:10] = 9  # class 0 gone; samples of class 9, which no real image has
    measured = class_metrics(samples, real_shares, 0.5)
    assert measured["classes_covered"] == 7
    assert measured["share_9"] == 0.125
