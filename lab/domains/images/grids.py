"""Image grids: the picture of each generation."""

from __future__ import annotations

import torch
from torchvision.utils import make_grid

from lab.rundir.storage import encode_png

GRID_PADDING = 2


def grid_png(images: torch.Tensor, rows: int) -> bytes:
    """uint8 [N, C, H, W] -> PNG bytes of a grid `rows` images wide (grey stays grey)."""
    grid = make_grid(images, nrow=rows, padding=GRID_PADDING, pad_value=0)
    pixels = grid.permute(1, 2, 0).numpy()
    if images.shape[1] == 1:
        pixels = pixels[..., 0]
    return encode_png(pixels)
