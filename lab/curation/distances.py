"""Euclidean distances between feature sets, in float64 on the CPU and in row blocks, so a
curator's choice is the same on every machine and never holds an M x N matrix at once."""

from __future__ import annotations

import torch
from torch import Tensor

# Rows of a distance block: 1,024 x 8,192 float64 distances are 64 MiB.
BLOCK_ROWS = 1024


def kth_nearest(points: Tensor, reference: Tensor, k: int, exclude_self: bool = False) -> Tensor:
    """float64 [M]: each point's distance to its k-th nearest reference point (k >= 1);
    with `exclude_self`, points and reference are one set and a point is not its own
    neighbour."""
    points, reference = points.double().cpu(), reference.double().cpu()
    found = []
    for start in range(0, len(points), BLOCK_ROWS):
        block = torch.cdist(points[start : start + BLOCK_ROWS], reference)
        if exclude_self:
            rows = torch.arange(len(block))
            block[rows, rows + start] = float("inf")
        found.append(block.kthvalue(k, dim=1).values)
    return torch.cat(found) if found else torch.zeros(0, dtype=torch.float64)


def pairwise(points: Tensor) -> Tensor:
    """float64 [M, M] distances between the points of one set."""
    points = points.double().cpu()
    return torch.cdist(points, points)
