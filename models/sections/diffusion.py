"""`model: {kind: diffusion, ...}`: the pixel-space DDPM of models/diffusion.py, and the image
sides and sampling biases it takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from lab.schema import SchemaError, bounds

# The sampling bias only a class-conditional model can apply (classifier-free guidance).
GUIDANCE = "guidance"


@dataclass(frozen=True)
class DiffusionConfig:
    """A diffusers UNet2DModel trained as a DDPM (Ho et al. 2020) and sampled with DDIM.

    The defaults are the CPU-sized shape of issue 28's measurement (32, 64, 64 channels, one
    layer per block, no attention); MAD's MNIST model is larger (experiments/mnist_ddpm.yaml).
    """

    # A pixel-space DDPM on diffusers (models/diffusion.py).
    kind: Literal["diffusion"] = "diffusion"
    # Channels of the U-Net's levels; each level after the first halves the image side.
    block_out_channels: tuple[int, ...] = field(default=(32, 64, 64), metadata=bounds(ge=1))
    # ResNet layers in each level of the U-Net.
    layers_per_block: int = field(default=1, metadata=bounds(ge=1))
    # Self-attention in the U-Net's lowest-resolution level (costly on a CPU).
    attention: bool = False
    # Groups of the U-Net's group norms; every channel count must be a multiple of it.
    norm_groups: int = field(default=8, metadata=bounds(ge=1))
    # T, the steps of the training noise schedule (MAD: 500; Ho et al.: 1000).
    train_timesteps: int = field(default=1000, metadata=bounds(ge=2))
    # linear (Ho et al.) or the cosine schedule of Nichol and Dhariwal (2021).
    beta_schedule: Literal["linear", "squaredcos_cap_v2"] = "linear"
    # What the U-Net predicts: the added noise (Ho et al.) or the velocity (Salimans and Ho
    # 2022), which trains faster and samples cleaner in few steps.
    prediction: Literal["epsilon", "v_prediction"] = "epsilon"
    # Class-conditional (the data's classes, e.g. digits): each sample is drawn for a class,
    # and the next generation trains on those classes. Needed for sampling.guidance.
    conditional: bool = False
    # Share of training items whose class is hidden, so one network learns the unconditional
    # model that classifier-free guidance (Ho and Salimans 2022) steers away from.
    label_dropout: float = field(default=0.1, metadata=bounds(ge=0, lt=1))

    def check(self, prefix: str) -> None:
        if not self.block_out_channels:
            raise SchemaError(
                f"{prefix}.block_out_channels", "must list at least one channel count"
            )
        uneven = [c for c in self.block_out_channels if c % self.norm_groups]
        if uneven:
            raise SchemaError(
                f"{prefix}.norm_groups",
                f"is {self.norm_groups}, which does not divide the channel count {uneven[0]} of "
                "model.block_out_channels; choose a divisor of every channel count",
            )

    def image_side_problem(self, side: int) -> str | None:
        """Why the U-Net cannot make square images `side` pixels wide (None if it can): each
        level after the first halves the side, exactly."""
        factor = 2 ** (len(self.block_out_channels) - 1)
        if side % factor == 0:
            return None
        return (
            f"model.kind 'diffusion' with {len(self.block_out_channels)} levels in "
            f"model.block_out_channels needs an image side that is a multiple of {factor}"
        )

    def bias_problem(self, name: str, value: Any) -> str | None:
        """Why this model cannot apply the sampling bias `name` (None if it can), asked when
        the config loads: guidance needs a class to guide towards."""
        if name == GUIDANCE and not self.conditional:
            return (
                "model.conditional is false, and classifier-free guidance steers an "
                "unconditional model towards no class; set model.conditional: true, or "
                "sampling.guidance: 0"
            )
        return None
