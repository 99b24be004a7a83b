"""`model: {kind: vae, ...}`: the convolutional VAE of models/vae.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lab.schema import SchemaError, bounds


@dataclass(frozen=True)
class VAEConfig:
    """The Nature paper's MNIST VAE by default (github.com/Zakahler/curse_recurse): 4x4
    stride-2 convolutions with 1 -> 64 -> 128 channels and 20 latent dimensions."""

    # The convolutional VAE of models/vae.py.
    kind: Literal["vae"] = "vae"
    # Dimensions of the latent space.
    latent_dim: int = field(default=20, metadata=bounds(ge=1))
    # Channels of the encoder's stride-2 convolutions; the decoder mirrors them.
    channels: tuple[int, ...] = field(default=(64, 128), metadata=bounds(ge=1))
    # Weight of the KL term (1.0 is the plain ELBO).
    kl_weight: float = field(default=1.0, metadata=bounds(ge=0))

    def check(self, prefix: str) -> None:
        if not self.channels:
            raise SchemaError(f"{prefix}.channels", "must list at least one channel count")
