"""A curator from outside the lab (docs/curation.md): it knows nothing of collapse-lab and
keeps the draws whose amount of ink is most typical, dropping blank and blotted images.

The lab builds it as TypicalInk(**init_args) and calls
select(items, labels, features, generator, keep=...) once per generation; it declares `keep`,
so the lab passes it, and none of the other offered keywords (confidence, real_features,
real_shares), so those are not passed.
"""

from __future__ import annotations

import torch


class TypicalInk:
    """Keeps the `keep` draws whose mean pixel value is nearest the median draw's."""

    def __init__(self, scale: float = 255.0) -> None:
        self.scale = scale  # pixel values are uint8; scores are reported on [0, 1]

    def select(
        self,
        items: torch.Tensor,
        labels: torch.Tensor | None,
        features: torch.Tensor,
        generator: torch.Generator,
        *,
        keep: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        ink = items.flatten(1).double().mean(1) / self.scale
        distance = (ink - ink.median()).abs()
        chosen = torch.argsort(distance, stable=True)[:keep]
        return chosen, distance[chosen]
