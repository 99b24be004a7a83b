"""A convolutional VAE, as in the Nature paper's MNIST experiment (Shumailov et al. 2024).

The reference code (github.com/Zakahler/curse_recurse) uses 4x4 stride-2 convolutions with
1 -> 64 -> 128 channels, 20 latent dimensions and a BCE + KL loss; the defaults of its
section (models/sections/vae.py) are that architecture, and the experiment YAMLs shrink it
for CPU demos.
"""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F

from lab.errors import ConfigError
from models.epoch_means import EpochMeans
from models.pixels import to_unit
from models.sampling import LatentImageSampler

_KERNEL, _STRIDE, _PADDING = 4, 2, 1  # each conv halves height and width exactly


class VAE(LatentImageSampler, L.LightningModule):
    """Gaussian latent, Bernoulli decoder over pixel intensities in [0, 1]."""

    def __init__(
        self,
        *,
        image_shape: tuple[int, int, int],
        lr: float,
        latent_dim: int,
        channels: tuple[int, ...],
        kl_weight: float,
    ) -> None:
        super().__init__()
        image_channels, height, width = image_shape
        factor = _STRIDE ** len(channels)
        if height % factor or width % factor:
            raise ConfigError(
                f"model.channels has {len(channels)} stride-2 layers, so image height and "
                f"width must be multiples of {factor}, but the data is {height}x{width}; "
                "use fewer channel entries."
            )
        self.lr = lr
        self.kl_weight = kl_weight
        self.latent_dim = latent_dim
        self.latent_shape = (latent_dim,)
        self.inner_shape = (channels[-1], height // factor, width // factor)
        inner = channels[-1] * (height // factor) * (width // factor)

        encoder: list[nn.Module] = []
        previous = image_channels
        for count in channels:
            encoder += [nn.Conv2d(previous, count, _KERNEL, _STRIDE, _PADDING), nn.ReLU()]
            previous = count
        self.encoder = nn.Sequential(*encoder, nn.Flatten(), nn.Linear(inner, 2 * latent_dim))

        decoder: list[nn.Module] = [nn.Linear(latent_dim, inner), nn.ReLU()]
        decoder.append(nn.Unflatten(1, self.inner_shape))
        widths = list(reversed(channels)) + [image_channels]
        for i, (source, target) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            decoder.append(nn.ConvTranspose2d(source, target, _KERNEL, _STRIDE, _PADDING))
            if i < len(widths) - 2:
                decoder.append(nn.ReLU())
        self.decoder = nn.Sequential(*decoder)  # outputs logits
        self.epoch_means = EpochMeans()

    def losses(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(loss, reconstruction, kl) of images `x` in [0, 1], each per image: the negative
        ELBO with a weighted KL term, one reparameterised draw of z per image."""
        mean, log_var = self.encoder(x).chunk(2, dim=1)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
        logits = self.decoder(z)
        size = x.shape[0]
        reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / size
        kl = -0.5 * torch.sum(1 + log_var - mean.pow(2) - log_var.exp()) / size
        return reconstruction + self.kl_weight * kl, reconstruction, kl

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        loss, reconstruction, kl = self.losses(to_unit(batch))
        self.epoch_means.add(loss=loss, reconstruction=reconstruction, kl=kl)
        return loss

    def on_train_epoch_end(self) -> None:
        self.epoch_means.log(self)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)

    def decode_to_unit(self, z: torch.Tensor) -> torch.Tensor:
        """Per-pixel Bernoulli means. We keep the mean rather than a Bernoulli draw because
        real MNIST stores grey levels, not binary pixels, and the mean is what a VAE's
        samples are usually published as."""
        return torch.sigmoid(self.decoder(z).float())
