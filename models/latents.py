"""Latent noise for sampling, with the two classic sampling biases as knobs.

MAD (Alemohammad et al., ICLR 2024) shows that biased sampling, which keeps quality but
gives up diversity, makes a self-consuming loop lose diversity faster. Both knobs act on
the latent draw, so every latent-variable model gets them the same way:
  temperature  scales z (VAE "temperature"; 1.0 is unbiased, < 1 pulls samples to the mode);
  truncation   draws each coordinate from N(0, 1) truncated to [-truncation, truncation]
               (BigGAN's truncation trick; None is unbiased, smaller is more biased).
Noise is drawn on the CPU from the caller's generator, so the same seed gives the same
latents on any device.
"""

from __future__ import annotations

import torch


def draw_latents(
    shape: tuple[int, ...],
    generator: torch.Generator,
    temperature: float = 1.0,
    truncation: float | None = None,
) -> torch.Tensor:
    """z ~ N(0, I), optionally truncated to |z| <= truncation, times temperature (CPU float32)."""
    if truncation is None:
        z = torch.randn(shape, generator=generator)
    else:
        # Inverse-CDF sampling of the truncated normal: one uniform draw per coordinate.
        low = torch.special.ndtr(torch.tensor(-truncation, dtype=torch.float64))
        uniform = torch.rand(shape, generator=generator, dtype=torch.float64)
        z = torch.special.ndtri(low + uniform * (1 - 2 * low)).float()
    return z * temperature
