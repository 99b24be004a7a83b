"""Pixels cross between uint8 (how images are stored and published) and floats in [0, 1]."""

import torch

PIXEL_MAX = 255.0


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [0, 1], on whatever device the images are."""
    return images.float().div_(PIXEL_MAX)


def to_uint8(unit: torch.Tensor) -> torch.Tensor:
    """float [0, 1] -> uint8 by rounding: the quantisation every published image goes through.

    A value that is no number has no pixel value: NaN and -inf become 0 and +inf 255, the same
    on every device (a bare cast of NaN is undefined); the sampler reports them (sampling.py).
    """
    finite = torch.nan_to_num(unit.float(), nan=0.0)
    return finite.clamp_(0, 1).mul_(PIXEL_MAX).round_().to(torch.uint8)
