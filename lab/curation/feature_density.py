"""Feature density (after Shi et al., NeurIPS 2025, who select synthetic images by their
DINOv2 features): keep the draws that lie where the real data is dense, in whichever
feature space the run measures in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab.curation.section import CuratorArgumentError

if TYPE_CHECKING:
    from torch import Generator, Tensor


class FeatureDensity:
    """Keeps the `keep` draws nearest to the real training set: smallest distance to their
    k-th nearest real item (ties by draw order); the score is that distance."""

    def __init__(self, k: int = 5) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise CuratorArgumentError(
                "k", f"is {k!r}; give a whole number of neighbours, at least 1"
            )
        self.k = k

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

        from lab.curation.distances import kth_nearest

        k = min(self.k, len(real_features))
        distance = kth_nearest(features, real_features, k)
        chosen = torch.argsort(distance, stable=True)[:keep]
        return chosen, distance[chosen]
