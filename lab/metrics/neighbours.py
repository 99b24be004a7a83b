"""k-nearest-neighbour balls of a real and a generated feature set, in tiles, ties decided exactly.

Precision, recall, density, coverage and per-class recall all reduce to one question asked of
many pairs: is this point strictly inside that point's k-NN ball? A ball's radius is the
distance to the k-th nearest *other* point of the same set (an exact duplicate counts, at
distance 0), and "inside" means a distance strictly less than the radius.

Distances are defined as the reference implementation (the `prdc` package, through
scikit-learn's `euclidean_distances` on float32 features) defines them: the squared distance
computed in float64, rounded to float32, square root in float32. Two equal distances are equal
here and there, so ties fall the same way.

Computing every distance in float64 would cost twice the time of float32 and all of the memory
of an N x N matrix. Instead each tile of squared distances comes from one float32 matrix product
of centred features (the expansion torch.cdist uses, without its square root), whose rounding
error has a known bound. A comparison with a radius is then certain when the float32 value is
farther from the radius than that bound; the few points with an uncertain comparison, and the
k-NN candidates that decide each radius, are recomputed in float64. Memory grows linearly with
the number of points: one tile plus a few numbers per point.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

# Unit roundoffs of float32 and float64.
_U32 = 2.0**-24
_U64 = 2.0**-53
# Tile of the distance matrix held at once: small enough to stay in a CPU's cache, large enough
# that a GPU is busy. It changes the speed, never the numbers.
DEFAULT_TILE = (512, 2048)
# Float64 numbers held at once while distances are recomputed exactly.
_EXACT_BLOCK = 1 << 22
# Columns per group whose float32 minimum is kept while the k-NN radii are searched, and the
# groups measured in float64 beyond the k+1 needed (so that near-ties rarely need a whole row).
_GROUP = 8
_SPARE_GROUPS = 3


@dataclass(frozen=True)
class BallMembership:
    """Per-point outcomes from which precision, recall, density and coverage follow.

    `real_in_fake_ball` is kept per real point so that recall can be read per class.
    """

    fake_in_real_ball: Tensor  # bool [M]: inside some real k-NN ball (precision)
    real_balls_per_fake: Tensor  # int64 [M]: real k_density-NN balls containing it (density)
    real_in_fake_ball: Tensor  # bool [N]: inside some generated k-NN ball (recall)
    real_nearest_fake_inside: Tensor  # bool [N]: its nearest fake is inside its ball (coverage)
    k_density: int

    def summary(self) -> dict[str, float]:
        density = self.real_balls_per_fake.double().mean() / self.k_density
        return {
            "precision": float(self.fake_in_real_ball.double().mean()),
            "recall": float(self.real_in_fake_ball.double().mean()),
            "density": float(density),
            "coverage": float(self.real_nearest_fake_inside.double().mean()),
        }


class Points:
    """One feature set, centred on a shared origin, in float32 for tiles and float64 for checks.

    Centring on the real set's mean keeps the squared norms, and so the float32 rounding error
    of every distance, as small as the spread of the data allows.
    """

    def __init__(self, features: Tensor, origin: Tensor) -> None:
        if features.dim() != 2:
            raise ValueError(f"features must be [N, D], got {tuple(features.shape)}")
        self.origin = origin
        self.high = features.to(torch.float32).double() - origin
        self.low = self.high.float()
        self.norms = self.high.square().sum(1)
        norms32 = self.norms.float().unsqueeze(1)
        ones = torch.ones_like(norms32)
        # lhs_i . rhs_j = |x_i|^2 + |y_j|^2 - 2 x_i . y_j, one product per tile.
        self.lhs = torch.cat([self.low, norms32, ones], dim=1)
        self.rhs = torch.cat([-2 * self.low, ones, norms32], dim=1)
        self.max_norm = float(self.norms.max()) if len(features) else 0.0

    def __len__(self) -> int:
        return len(self.high)

    @property
    def dim(self) -> int:
        return self.high.shape[1]


def origin_of(real: Tensor) -> Tensor:
    """The centre both sets are shifted to (the real mean, in float64)."""
    return real.to(torch.float32).double().mean(0)


def float32_error(dim: int) -> float:
    """Bound on |float32 tile value - exact squared distance| per unit of |x|^2 + |y|^2.

    A dot product of length d+2 errs by at most (d+2)u times the sum of |terms|, which is at
    most 2(|x|^2 + |y|^2); rounding the norms and the centred features adds a few u more.
    Doubled for safety: a looser bound only sends more points to the float64 check.
    """
    return 2 * (2 * (dim + 2) + 9) * _U32


def _float64_error(dim: int) -> float:
    return 2 * (2 * (dim + 2) + 9) * _U64


@contextlib.contextmanager
def tile_arithmetic(device: torch.device) -> Iterator[None]:
    """How the tile loops compute: matrix products in true float32, since reduced-precision
    modes (TF32) would break the error bound that decides which comparisons are certain; and,
    on a CPU, one intra-op thread. The loops issue thousands of small operations, and with
    several threads each ends in a barrier that waits for the slowest thread: on a 2-core
    machine shared with other work (load average 6) that made 10k x 10k take 25.6 s instead of
    2.0 s on one thread."""
    precision, threads = torch.get_float32_matmul_precision(), torch.get_num_threads()
    torch.set_float32_matmul_precision("highest")
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(precision)
        torch.set_num_threads(threads)


def exact_squared(a: Points, rows: Tensor | None, b: Points, cols: Tensor | None) -> Tensor:
    """Float32 squared distances of a[rows] x b[cols] (None: all) as the reference computes them
    (float64, then rounded); pairs closer than float64 rounding can tell from 0 are duplicates."""
    left = a.high if rows is None else a.high[rows]
    right = b.high if cols is None else b.high[cols]
    left_norms = a.norms if rows is None else a.norms[rows]
    right_norms = b.norms if cols is None else b.norms[cols]
    scale = left_norms.unsqueeze(1) + right_norms.unsqueeze(0)
    squared = scale - 2 * (left @ right.T)
    squared = torch.where(squared <= _float64_error(a.dim) * scale, 0.0, squared)
    return squared.float()


def _exact_pairs(points: Points, rows: Tensor, candidates: Tensor) -> Tensor:
    """Like exact_squared, for each row i and its own candidate columns candidates[i]."""
    step = max(1, _EXACT_BLOCK // (candidates.shape[1] * points.dim))
    parts = []
    for part_rows, part_candidates in zip(rows.split(step), candidates.split(step), strict=True):
        products = torch.einsum("nd,nkd->nk", points.high[part_rows], points.high[part_candidates])
        scale = points.norms[part_rows].unsqueeze(1) + points.norms[part_candidates]
        squared = scale - 2 * products
        squared = torch.where(squared <= _float64_error(points.dim) * scale, 0.0, squared)
        parts.append(squared.float())
    return torch.cat(parts)


def knn_squared_radii(
    points: Points, ks: Sequence[int], tile: tuple[int, int] = DEFAULT_TILE
) -> dict[int, Tensor]:
    """For each k, the squared distance from every point to its k-th nearest other point.

    A row's columns are taken in groups of _GROUP; float32 tiles keep only each group's
    minimum. The k+1 smallest distances of a row (itself included) lie in the k+1 groups with
    the smallest minima, so those and a few spare groups are measured in float64 and sorted. A
    row whose k-th value could still lie in an unmeasured group (only near-ties within float32
    rounding) is measured whole in float64.
    """
    largest = max(ks)
    count = len(points)
    if count <= largest:
        raise ValueError(f"a k-NN radius with k={largest} needs more than {largest} points")
    groups = -(-count // _GROUP)
    keep = min(groups, largest + 1 + _SPARE_GROUPS)
    tolerance = float32_error(points.dim) * 2 * points.max_norm
    rows, cols = tile[0], -(-tile[1] // _GROUP) * _GROUP
    rhs = _padded(points.rhs, groups * _GROUP)
    offsets = torch.arange(_GROUP, device=rhs.device)
    radii = {k: torch.empty(count, dtype=torch.float32, device=rhs.device) for k in ks}
    with tile_arithmetic(rhs.device):
        for start in range(0, count, rows):
            block = points.lhs[start : start + rows]
            minima = torch.cat(
                [
                    (block @ rhs[c : c + cols].T).view(len(block), -1, _GROUP).amin(2)
                    for c in range(0, len(rhs), cols)
                ],
                dim=1,
            )
            chosen_minima, chosen = minima.topk(keep, dim=1, largest=False, sorted=False)
            candidates = (chosen.unsqueeze(2) * _GROUP + offsets).flatten(1)
            index = torch.arange(start, start + len(block), device=rhs.device)
            exact = _exact_pairs(points, index, candidates.clamp(max=count - 1))
            exact = exact.masked_fill(candidates >= count, float("inf")).sort(dim=1).values
            # Points in groups not chosen are at least this far (float32 value minus error).
            floor = (chosen_minima.amax(dim=1) - 2 * tolerance) * (1 - 8 * _U32)
            needed = exact[:, largest]
            settled = (needed <= floor) | (needed == 0) | (keep == groups)
            unsettled = torch.nonzero(~settled).flatten()
            for part in unsettled.split(max(1, _EXACT_BLOCK // count)):
                whole = exact_squared(points, index[part], points, None)
                exact[part, : largest + 1] = whole.sort(dim=1).values[:, : largest + 1]
            for k in ks:
                radii[k][start : start + len(block)] = exact[:, k]
    return radii


def _padded(rhs: Tensor, length: int) -> Tensor:
    """rhs with extra rows at infinite distance from every point, up to `length` rows."""
    padding = torch.zeros(length - len(rhs), rhs.shape[1], dtype=rhs.dtype, device=rhs.device)
    padding[:, -1] = float("inf")  # times the 1 in every lhs row: an infinite squared distance
    return torch.cat([rhs, padding])


def ball_membership(
    real: Points,
    fake: Points,
    real_radii: dict[int, Tensor],
    fake_radius: Tensor,
    k: int,
    k_density: int,
    tile: tuple[int, int] = DEFAULT_TILE,
) -> BallMembership:
    """One pass over the real x fake distances decides every point's membership.

    `real_radii` holds the squared real k-NN radii for `k` and `k_density`; `fake_radius` the
    squared generated k-NN radius for `k`. Per tile, and only where the float32 value cannot
    decide, per point in float64 afterwards:
      precision: a fake inside some real k-ball;   density: how many real k_density-balls;
      recall:    a real inside some fake k-ball;   coverage: nearest fake inside its k_density-ball.
    """
    pr_radius, dc_radius = real_radii[k], real_radii[k_density]
    tolerance = float32_error(real.dim) * (real.max_norm + fake.max_norm)

    def band(radius: Tensor) -> float:
        largest = float(radius.max()) if len(radius) else 0.0
        return 2 * (tolerance + 8 * _U32 * largest)

    pr_band, dc_band, fake_band = band(pr_radius), band(dc_radius), band(fake_radius)
    dc_low, dc_high = dc_radius - dc_band, dc_radius + dc_band
    # Beyond this a fake is certainly outside both balls of a real point.
    reach = torch.maximum(dc_high, pr_radius + pr_band)
    state = _CrossState.empty(len(real), len(fake), real.low.device)
    rows, cols = tile
    with tile_arithmetic(real.low.device):
        for r0 in range(0, len(real), rows):
            r1 = min(r0 + rows, len(real))
            for c0 in range(0, len(fake), cols):
                c1 = min(c0 + cols, len(fake))
                squared = real.lhs[r0:r1] @ fake.rhs[c0:c1].T
                state.nearest[r0:r1] = torch.minimum(state.nearest[r0:r1], squared.amin(1))
                margin = (squared - fake_radius[c0:c1]).amin(1)
                state.recall_margin[r0:r1] = torch.minimum(state.recall_margin[r0:r1], margin)
                # Density and precision only for columns that may be inside a ball of this block.
                possible = (squared - reach[r0:r1, None]).amin(0) < 0
                columns = torch.nonzero(possible).flatten()
                if not len(columns):
                    continue
                near = squared[:, columns]
                target = columns + c0
                state.density_low[target] += (near < dc_low[r0:r1, None]).sum(0)
                state.density_high[target] += (near < dc_high[r0:r1, None]).sum(0)
                margin = (near - pr_radius[r0:r1, None]).amin(0)
                state.precision_margin[target] = torch.minimum(
                    state.precision_margin[target], margin
                )
    precision = state.precision_margin < -pr_band
    density = state.density_low.clone()
    recall = state.recall_margin < -fake_band
    coverage = state.nearest < dc_low
    fake_unsure = torch.nonzero(
        (state.precision_margin.abs() <= pr_band) | (state.density_low != state.density_high)
    ).flatten()
    real_unsure = torch.nonzero(
        (state.recall_margin.abs() <= fake_band)
        | ((state.nearest >= dc_low) & (state.nearest < dc_high))
    ).flatten()
    _settle_fakes(real, fake, fake_unsure, pr_radius, dc_radius, precision, density)
    _settle_reals(real, fake, real_unsure, fake_radius, dc_radius, recall, coverage)
    return BallMembership(
        fake_in_real_ball=precision,
        real_balls_per_fake=density,
        real_in_fake_ball=recall,
        real_nearest_fake_inside=coverage,
        k_density=k_density,
    )


@dataclass
class _CrossState:
    """Running float32 summaries of the real x fake tiles, a few numbers per point."""

    nearest: Tensor  # [N] smallest squared distance to any fake
    recall_margin: Tensor  # [N] min over fakes of (squared distance - fake radius)
    precision_margin: Tensor  # [M] min over reals of (squared distance - real radius)
    density_low: Tensor  # [M] real balls that certainly contain the fake
    density_high: Tensor  # [M] real balls that may contain it

    @classmethod
    def empty(cls, reals: int, fakes: int, device: torch.device) -> _CrossState:
        def inf(n: int) -> Tensor:
            return torch.full((n,), float("inf"), device=device)

        def zeros(n: int) -> Tensor:
            return torch.zeros(n, dtype=torch.int64, device=device)

        return cls(inf(reals), inf(reals), inf(fakes), zeros(fakes), zeros(fakes))


def _settle_fakes(
    real: Points,
    fake: Points,
    unsure: Tensor,
    pr_radius: Tensor,
    dc_radius: Tensor,
    precision: Tensor,
    density: Tensor,
) -> None:
    """Decide precision and density of the unsure fakes from float64 distances to every real."""
    pr_distance, dc_distance = pr_radius.sqrt().unsqueeze(1), dc_radius.sqrt().unsqueeze(1)
    for chunk in unsure.split(max(1, _EXACT_BLOCK // len(real))):
        distance = exact_squared(real, None, fake, chunk).sqrt()
        precision[chunk] = (distance < pr_distance).any(0)
        density[chunk] = (distance < dc_distance).sum(0)


def _settle_reals(
    real: Points,
    fake: Points,
    unsure: Tensor,
    fake_radius: Tensor,
    dc_radius: Tensor,
    recall: Tensor,
    coverage: Tensor,
) -> None:
    """Decide recall and coverage of the unsure reals from float64 distances to every fake."""
    fake_distance = fake_radius.sqrt().unsqueeze(0)
    for chunk in unsure.split(max(1, _EXACT_BLOCK // len(fake))):
        distance = exact_squared(real, chunk, fake, None).sqrt()
        recall[chunk] = (distance < fake_distance).any(1)
        coverage[chunk] = distance.amin(1) < dc_radius[chunk].sqrt()


def exact_pair_squared(a: Points, rows: Tensor, b: Points, cols: Tensor) -> Tensor:
    """Like exact_squared, for the pairs (a[rows[i]], b[cols[i]]) only: float32 [len(rows)]."""
    step = max(1, _EXACT_BLOCK // a.dim)
    parts = []
    for part_rows, part_cols in zip(rows.split(step), cols.split(step), strict=True):
        products = (a.high[part_rows] * b.high[part_cols]).sum(1)
        scale = a.norms[part_rows] + b.norms[part_cols]
        squared = scale - 2 * products
        squared = torch.where(squared <= _float64_error(a.dim) * scale, 0.0, squared)
        parts.append(squared.float())
    if not parts:
        return torch.empty(0, dtype=torch.float32, device=a.high.device)
    return torch.cat(parts)
