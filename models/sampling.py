"""`sample` for every model that decodes latent noise into images: one implementation, so
every image model draws its latents, batches and quantises the same way.

A sample is a latent z drawn on the CPU from the caller's generator (N(0, I), or biased by
`temperature` and `truncation`, see models/latents.py), so the same seed gives the same
latents on any device; the model decodes it to intensities in [0, 1], which are quantised to
uint8 by rounding, as every published image is. A model whose decoded images hold NaN or
infinite values has failed, whatever its losses said: `sample` sets its `diverged` sentence,
which the loop records (metrics.csv `diverged` 1, the reason in the manifest), rather than
let the quantisation turn those values into ordinary black or white pixels.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from models.latents import draw_latents
from models.pixels import to_uint8


class LatentImageSampler:
    """Mixin for a LightningModule with `latent_shape` (of one latent) and `decode_to_unit`."""

    latent_shape: tuple[int, ...]
    device: torch.device
    # Why this model's training or sampling failed, in a sentence; None while it has not.
    diverged: str | None = None

    def decode_to_unit(self, z: torch.Tensor) -> torch.Tensor:
        """Latents on the model's device -> images [n, C, H, W] with values in [0, 1]."""
        raise NotImplementedError

    @torch.inference_mode()
    def sample(
        self,
        n: int,
        generator: torch.Generator,
        batch_size: int = 1000,
        temperature: float = 1.0,
        truncation: float | None = None,
    ) -> torch.Tensor:
        """`n` images as uint8 [n, C, H, W] on the CPU, decoded in eval mode in batches of
        `batch_size`."""
        self.eval()
        z = draw_latents((n, *self.latent_shape), generator, temperature, truncation)
        units = (self.decode_to_unit(chunk.to(self.device)) for chunk in z.split(batch_size))
        return quantise(units, self)


def quantise(units: Iterable[torch.Tensor], model: Any) -> torch.Tensor:
    """Decoded batches with values in [0, 1] (on the model's device) -> uint8 images on the
    CPU; NaN or infinite values set the model's `diverged` sentence. Counted on the device
    and read once at the end, so sampling on a GPU waits for no count per batch."""
    parts, nonfinite = [], torch.zeros((), dtype=torch.int64, device=model.device)
    for unit in units:
        nonfinite += (~unit.isfinite()).sum()
        parts.append(to_uint8(unit).cpu())
    images = torch.cat(parts)
    if int(nonfinite) and model.diverged is None:
        model.diverged = (
            f"the model gave NaN or infinite values for {int(nonfinite)} of {images.numel()} "
            "sampled pixels (stored as 0 for NaN and -inf, 255 for +inf)"
        )
    return images
