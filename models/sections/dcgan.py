"""`model: {kind: dcgan, ...}`: the DCGAN of models/dcgan.py, and the image sides it takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lab.schema import bounds

# The generator's first map and the discriminator's last are 4x4; each stride-2 layer
# doubles (or halves) the side.
BASE_SIDE = 4
SIDE_RULE = (
    "model.kind 'dcgan' needs square images whose side is 4 times a power of two "
    "(8, 16, 32, 64, 128, ...)"
)


@dataclass(frozen=True)
class DCGANConfig:
    """The paper's DCGAN (Radford et al. 2016) and pytorch/examples' defaults."""

    # The DCGAN of models/dcgan.py (needs images whose side is 4 times a power of two).
    kind: Literal["dcgan"] = "dcgan"
    # Dimensions of the generator's latent noise z.
    latent_dim: int = field(default=100, metadata=bounds(ge=1))
    # Channels of the generator's last hidden layer (ngf); they double towards z.
    generator_width: int = field(default=64, metadata=bounds(ge=1))
    # Channels of the discriminator's first layer (ndf); they double towards the logit.
    discriminator_width: int = field(default=64, metadata=bounds(ge=1))
    # Adam's beta1 for both players (the paper's 0.5).
    beta1: float = field(default=0.5, metadata=bounds(ge=0, lt=1))
    # Adam's beta2 for both players.
    beta2: float = field(default=0.999, metadata=bounds(ge=0, lt=1))
    # Standard deviation of the N(0, std) weight initialisation.
    init_std: float = field(default=0.02, metadata=bounds(gt=0))
    # The discriminator "wins outright" on a batch when its mean D(x) > 1 - margin and its
    # mean D(G(z)) < margin; that many batches in a row mark the generation as diverged.
    divergence_margin: float = field(default=0.01, metadata=bounds(gt=0, le=0.5))
    # Batches in a row the discriminator must win outright to mark divergence.
    divergence_patience: int = field(default=1000, metadata=bounds(ge=1))

    def image_side_problem(self, side: int) -> str | None:
        """Why this model cannot make square images `side` pixels wide (None if it can),
        asked when the config loads, before any data or judge."""
        return None if doublings_to(side) is not None else SIDE_RULE


def doublings_to(side: int) -> int | None:
    """How many times the 4x4 base map doubles to reach `side`; None if it never does."""
    reached, doublings = BASE_SIDE, 0
    while reached < side:
        reached *= 2
        doublings += 1
    return doublings if reached == side and doublings >= 1 else None
