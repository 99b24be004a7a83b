"""The only place that decides what generation g trains on.

Generation 0 always trains on the real training set. After that:
  replace  only generation g-1's samples: the fully synthetic loop of Shumailov et al.
           (Nature 2024) and Alemohammad et al. (MAD, ICLR 2024).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lab.data import ImageSet


def training_images(
    regime: str,
    generation: int,
    real_train: ImageSet,
    samples_of: Callable[[int], torch.Tensor],
) -> torch.Tensor:
    """uint8 images [N, C, H, W] that generation `generation` trains on.

    `samples_of(k)` returns generation k's stored samples; it is only called for k < generation.
    """
    if generation == 0:
        return real_train.images
    if regime == "replace":
        return samples_of(generation - 1)
    raise ValueError(f"unknown regime {regime!r}")
