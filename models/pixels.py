"""Pixels cross between uint8 (how images are stored and published) and floats in [0, 1]."""

import torch

PIXEL_MAX = 255.0


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [0, 1], on whatever device the images are."""
    return images.float().div_(PIXEL_MAX)


def to_uint8(unit: torch.Tensor) -> torch.Tensor:
    """float [0, 1] -> uint8 by rounding: the quantisation every published image goes through."""
    return unit.float().clamp(0, 1).mul(PIXEL_MAX).round_().to(torch.uint8)
