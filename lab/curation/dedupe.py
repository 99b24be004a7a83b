"""Deduplication: drop draws that nearly copy an earlier draw in the feature space the run
measures in, before any other curator chooses. "Nearly" is measured against the real data,
as the memorisation metric does: closer than all but the `quantile` closest real training
items are to their nearest other real item (0.01: closer than 99% of real neighbours)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab.curation.section import CuratorArgumentError

if TYPE_CHECKING:
    from torch import Generator, Tensor


class Dedupe:
    """Keeps draws in draw order, dropping each one that lies within the near-copy distance
    of a draw already kept; the score is the distance to the nearest other draw. Memory is
    bounded by blocks of draws, so a GPU run's tens of thousands of draws fit."""

    def __init__(self, quantile: float = 0.01) -> None:
        if not 0 <= quantile <= 1:
            raise CuratorArgumentError("quantile", f"is {quantile!r}; give a fraction in [0, 1]")
        self.quantile = quantile

    def select(
        self,
        items: Tensor,
        labels: Tensor | None,
        features: Tensor,
        generator: Generator,
        *,
        keep: int,
        real_features: Tensor,
    ) -> tuple[Tensor, Tensor]:
        import torch

        from lab.curation.distances import BLOCK_ROWS, kth_nearest

        radius = kth_nearest(real_features, real_features, 1, True).quantile(self.quantile)
        points = features.double().cpu()
        kept: list[Tensor] = []
        # Draw by draw, a draw is dropped when it is close to one kept before it; done a block
        # of draws at a time so no M x M matrix is held: first against the draws kept in
        # earlier blocks, then in draw order within the block.
        for start in range(0, len(points), BLOCK_ROWS):
            block = points[start : start + BLOCK_ROWS]
            alive = torch.ones(len(block), dtype=torch.bool)
            for earlier in kept:
                alive &= (torch.cdist(block, points[earlier]) >= radius).all(1)
            close = torch.cdist(block, block) < radius
            later = torch.arange(len(block))
            for draw in range(len(block)):
                if alive[draw]:
                    alive &= ~(close[draw] & (later > draw))
            kept.append(start + torch.nonzero(alive).flatten())
        chosen = torch.cat(kept)[:keep] if kept else torch.zeros(0, dtype=torch.int64)
        return chosen, kth_nearest(points, points, 1, True)[chosen]
