"""A researcher's own generative model, put through collapse-lab's loop by `class_path`.

Nothing here imports the lab: it is a plain Lightning module that keeps the contract of
docs/models.md, as a model from a paper's repository would.
  - built from keywords: the YAML's `init_args`, plus `image_shape` (the data's [C, H, W])
    and `lr` (the config's train.lr), which the lab passes because the constructor names them;
  - trained by the lab's `Trainer.fit` with its own `training_step` and `configure_optimizers`,
    on batches of uint8 images [B, C, H, W] (the lab's own models get the same);
  - `sample(n, generator)` returns uint8 images [n, C, H, W] on the CPU, drawing all its
    randomness from `generator`, so a resumed run draws the same samples. `temperature` is
    declared, so a config may set sampling.temperature (truncation it may not).

    python -m lab.cli run examples/own_model/experiment.yaml    # or: make own-model
"""

from __future__ import annotations

import math

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F

MAX_BYTE = 255


class MLPVAE(L.LightningModule):
    """A VAE whose encoder and decoder are one hidden layer each, over the flattened pixels."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        lr: float,
        latent_dim: int = 8,
        hidden: int = 256,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.image_shape = tuple(image_shape)
        pixels = math.prod(self.image_shape)
        self.encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(pixels, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent_dim)
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, pixels)
        )

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        x = batch.float().flatten(1) / MAX_BYTE  # uint8 [B, C, H, W] -> [B, pixels] in [0, 1]
        mean, log_var = self.encoder(x).chunk(2, dim=1)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
        logits = self.decoder(z)
        reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
        kl = -0.5 * torch.sum(1 + log_var - mean.pow(2) - log_var.exp()) / len(x)
        loss = reconstruction + kl
        self.log("loss", loss, on_step=False, on_epoch=True)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

    @torch.inference_mode()
    def sample(self, n: int, generator: torch.Generator, temperature: float = 1.0) -> torch.Tensor:
        """`n` images, uint8 [n, C, H, W] on the CPU: the decoder's pixel means of latents
        drawn on the CPU from `generator` (times `temperature`, the sampling bias)."""
        self.eval()
        z = torch.randn(n, self.hparams.latent_dim, generator=generator) * temperature
        pixels = torch.sigmoid(self.decoder(z.to(self.device)).float())
        return pixels.mul(MAX_BYTE).round().to(torch.uint8).cpu().view(n, *self.image_shape)
