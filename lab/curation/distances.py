"""Euclidean distances between feature sets, in float64 on the CPU and in blocks, so a
curator's choice is the same on every machine and never holds an M x N matrix at once."""

from __future__ import annotations

import torch
from torch import Tensor

# A distance block: 1,024 x 8,192 float64 distances are 64 MiB.
BLOCK_ROWS, BLOCK_COLUMNS = 1024, 8192


def kth_nearest(points: Tensor, reference: Tensor, k: int, exclude_self: bool = False) -> Tensor:
    """float64 [M]: each point's distance to its k-th nearest reference point (k >= 1);
    with `exclude_self`, points and reference are one set and a point is not its own
    neighbour. A reference longer than a block is searched a block of columns at a time,
    keeping each block's k nearest."""
    points, reference = points.double().cpu(), reference.double().cpu()
    found = []
    for start in range(0, len(points), BLOCK_ROWS):
        rows = points[start : start + BLOCK_ROWS]
        nearest = []
        for first in range(0, len(reference), BLOCK_COLUMNS):
            block = torch.cdist(rows, reference[first : first + BLOCK_COLUMNS])
            if exclude_self:
                own = torch.arange(len(rows)) + start - first
                inside = (own >= 0) & (own < block.shape[1])
                block[torch.arange(len(rows))[inside], own[inside]] = float("inf")
            nearest.append(block.topk(min(k, block.shape[1]), dim=1, largest=False).values)
        found.append(torch.cat(nearest, dim=1).kthvalue(k, dim=1).values)
    return torch.cat(found) if found else torch.zeros(0, dtype=torch.float64)
