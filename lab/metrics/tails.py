"""Recall and coverage of the real data's tails and of its bulk, read apart.

Early collapse loses the tails of the distribution first (Shumailov et al., Nature 2024): the
rare, unusual images go extinct while the bulk, and so recall, coverage and FID over the
whole set, barely move. In feature space the unusual images are the sparse ones, those with
the largest k-NN ball. The sparsest `fraction` of the real images (by their
density/coverage radius) are the tail, the rest the bulk, and recall and coverage are read
within each group from the per-image membership that the PRDC pass already computed
(lab/metrics/neighbours.py), so no distance is computed twice.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lab.metrics.neighbours import BallMembership

COLUMNS = ("tail_recall", "bulk_recall", "tail_coverage", "bulk_coverage")


def sparsest(squared_radii: Tensor, fraction: float) -> Tensor:
    """bool [N]: the round(fraction x N) points with the largest k-NN radius, at least one and
    at most N - 1, so both groups exist. Equal radii are ranked by index, so the split is the
    same on every run."""
    count = len(squared_radii)
    if count < 2:
        raise ValueError("a tail and a bulk need at least 2 real points")
    if not 0 < fraction < 1:
        raise ValueError(f"the tail fraction must be in (0, 1), got {fraction}")
    size = min(max(1, round(fraction * count)), count - 1)
    order = squared_radii.argsort(descending=True, stable=True)
    tail = torch.zeros(count, dtype=torch.bool, device=squared_radii.device)
    tail[order[:size]] = True
    return tail


def tail_and_bulk(membership: BallMembership, tail: Tensor) -> dict[str, float]:
    """tail_recall, bulk_recall, tail_coverage, bulk_coverage: the share of the real images of
    each group inside some generated k-NN ball (recall), and whose own ball holds a sample
    (coverage)."""
    tail = tail.to(membership.real_in_fake_ball.device)
    recall = membership.real_in_fake_ball.double()
    coverage = membership.real_nearest_fake_inside.double()
    return {
        "tail_recall": float(recall[tail].mean()),
        "bulk_recall": float(recall[~tail].mean()),
        "tail_coverage": float(coverage[tail].mean()),
        "bulk_coverage": float(coverage[~tail].mean()),
    }
