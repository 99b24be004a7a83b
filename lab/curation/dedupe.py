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
    of a draw already kept; the score is the distance to the nearest other draw."""

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

        from lab.curation.distances import kth_nearest, pairwise

        nearest = kth_nearest(real_features, real_features, 1, True)
        radius = nearest.quantile(self.quantile)
        distances = pairwise(features)
        close = distances < radius
        dropped = torch.zeros(len(features), dtype=torch.bool)
        later = torch.arange(len(features))
        for draw in range(len(features)):
            if not dropped[draw]:
                dropped |= close[draw] & (later > draw)
        chosen = torch.nonzero(~dropped).flatten()[:keep]
        distances.fill_diagonal_(float("inf"))
        return chosen, distances[chosen].amin(1)
