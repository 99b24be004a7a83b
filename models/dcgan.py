"""DCGAN (Radford, Metz and Chintala, ICLR 2016) for square RGB images, 64x64 by default.

The generator projects z to a 4x4 map and doubles it with stride-2 transposed convolutions,
batch norm and ReLU up to a tanh image; the discriminator mirrors it with stride-2
convolutions, batch norm (not on its first layer) and LeakyReLU(0.2). Weights start from
N(0, 0.02) (batch-norm scales from N(1, 0.02)), and both players use Adam with betas
(0.5, 0.999) as in the paper; pytorch/examples' dcgan/main.py is the reference we match.

One `LightningModule` holds both players and does its own two-step update with manual
optimisation (`toggle_optimizer`, `manual_backward`), as in Lightning's GAN example, so the
loop only calls `Trainer.fit` and `sample`. The loss is `BCEWithLogitsLoss` on logits, which
is safe under bf16 autocast. A GAN can fail where a VAE cannot: its losses can turn NaN, or
the discriminator can win so completely that the generator gets no gradient. The model then
sets `diverged` to a sentence and stops training; the loop records it (see lab/loop.py).
"""

from __future__ import annotations

import lightning as L
import torch
from torch import nn

from lab.errors import ConfigError
from models.epoch_means import EpochMeans
from models.pixels import to_unit
from models.sampling import LatentImageSampler
from models.sections.dcgan import BASE_SIDE, SIDE_RULE, doublings_to

_KERNEL, _STRIDE, _PADDING = 4, 2, 1  # each (transposed) conv doubles or halves the side
_LEAKY_SLOPE = 0.2
# One host sync per this many steps to read the divergence counters, so checking does not
# stall the GPU queue every step; counting itself happens on the device every step.
_CHECK_EVERY = 25


class DCGAN(LatentImageSampler, L.LightningModule):
    """Generator and discriminator trained against each other on uint8 images."""

    def __init__(
        self,
        *,
        image_shape: tuple[int, int, int],
        lr: float,
        latent_dim: int,
        generator_width: int,
        discriminator_width: int,
        beta1: float,
        beta2: float,
        init_std: float,
        divergence_margin: float,
        divergence_patience: int,
    ) -> None:
        super().__init__()
        channels, height, width = image_shape
        doublings = _doublings(height, width)
        self.automatic_optimization = False
        self.lr = lr
        self.betas = (beta1, beta2)
        self.latent_dim = latent_dim
        self.latent_shape = (latent_dim, 1, 1)
        self.generator = _generator(latent_dim, generator_width, channels, doublings)
        self.discriminator = _discriminator(discriminator_width, channels, doublings)
        self.apply(lambda module: _init_weights(module, init_std))
        self.loss = nn.BCEWithLogitsLoss()
        self.diverged: str | None = None
        self.watch = DivergenceWatch(divergence_margin, divergence_patience)
        self.epoch_means = EpochMeans()

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        return [
            torch.optim.Adam(self.generator.parameters(), lr=self.lr, betas=self.betas),
            torch.optim.Adam(self.discriminator.parameters(), lr=self.lr, betas=self.betas),
        ]

    def on_train_start(self) -> None:
        self.diverged = None
        self.watch.reset(self.device)

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()
        real = to_unit(batch).mul_(2).sub_(1)  # tanh range
        z = torch.randn(len(real), self.latent_dim, 1, 1, device=self.device)
        ones = torch.ones(len(real), device=self.device)
        zeros = torch.zeros(len(real), device=self.device)

        # Drawn before either toggle: toggling freezes the other player's parameters, and
        # the generator step below reuses these fakes through its own graph.
        fake = self.generator(z)

        # Discriminator: real images towards 1, generated ones towards 0.
        self.toggle_optimizer(opt_d)
        real_logits = self.discriminator(real)
        fake_logits = self.discriminator(fake.detach())
        loss_d = self.loss(real_logits, ones) + self.loss(fake_logits, zeros)
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(loss_d)
        opt_d.step()
        self.untoggle_optimizer(opt_d)

        # Generator: the updated discriminator should call the same fakes real.
        self.toggle_optimizer(opt_g)
        loss_g = self.loss(self.discriminator(fake), ones)
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(loss_g)
        opt_g.step()
        self.untoggle_optimizer(opt_g)

        d_real = torch.sigmoid(real_logits.detach().float()).mean()
        d_fake = torch.sigmoid(fake_logits.detach().float()).mean()
        losses = {"loss_d": loss_d.detach(), "loss_g": loss_g.detach()}
        self.epoch_means.add(**losses, d_real=d_real, d_fake=d_fake)
        self.watch.update(loss_d.detach(), loss_g.detach(), d_real, d_fake)
        if self.watch.steps % _CHECK_EVERY == 0:
            self._check_divergence()

    def on_train_epoch_end(self) -> None:
        self.epoch_means.log(self)
        self._check_divergence()

    def _check_divergence(self) -> None:
        if self.diverged is None:
            self.diverged = self.watch.verdict()
            if self.diverged is not None:
                self.trainer.should_stop = True

    def decode_to_unit(self, z: torch.Tensor) -> torch.Tensor:
        """The generator's tanh images mapped to [0, 1]. `sample` decodes in eval mode, so
        batch norm uses its running statistics and an image depends only on its own z, not
        on the batch it was drawn in; the truncation trick is `sample`'s `truncation`."""
        return self.generator(z).float().add(1).div(2)


class DivergenceWatch:
    """Counts, on the device, the first step with a non-finite loss and the longest run of
    batches the discriminator won outright; `verdict` reads them with one host sync."""

    def __init__(self, margin: float, patience: int) -> None:
        self.margin = margin
        self.patience = patience
        self.reset(torch.device("cpu"))

    def reset(self, device: torch.device) -> None:
        """Start counting afresh, on the device training runs on."""
        self.steps = 0
        self.first_nonfinite = torch.tensor(-1, device=device)
        self.streak = torch.tensor(0, device=device)
        self.longest = torch.tensor(0, device=device)

    def update(
        self, loss_d: torch.Tensor, loss_g: torch.Tensor, d_real: torch.Tensor, d_fake: torch.Tensor
    ) -> None:
        finite = torch.isfinite(loss_d) & torch.isfinite(loss_g)
        first = (~finite) & (self.first_nonfinite < 0)
        self.first_nonfinite = torch.where(first, self.steps, self.first_nonfinite)
        won = (d_real > 1 - self.margin) & (d_fake < self.margin)
        self.streak = torch.where(won, self.streak + 1, 0)
        self.longest = torch.maximum(self.longest, self.streak)
        self.steps += 1

    def verdict(self) -> str | None:
        """A sentence saying how training diverged, or None while it has not."""
        counters = torch.stack([self.first_nonfinite, self.longest]).tolist()
        first_nonfinite, longest = counters
        if first_nonfinite >= 0:
            return f"the losses became NaN or infinite at step {first_nonfinite + 1}"
        if longest >= self.patience:
            return (
                f"the discriminator won outright (D(x) > {1 - self.margin:g} and D(G(z)) < "
                f"{self.margin:g}) for {longest} batches in a row"
            )
        return None


def _doublings(height: int, width: int) -> int:
    doublings = doublings_to(height)
    if height != width or doublings is None:
        raise ConfigError(
            f"{SIDE_RULE}, but the data is {height}x{width}; set data.image_size "
            "(data.pad_to for the 28x28 digits) to such a side."
        )
    return doublings


def _generator(latent_dim: int, base_width: int, channels: int, doublings: int) -> nn.Sequential:
    width = base_width * 2 ** (doublings - 1)
    layers: list[nn.Module] = [
        nn.ConvTranspose2d(latent_dim, width, BASE_SIDE, 1, 0, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(True),
    ]
    for _ in range(doublings - 1):
        layers += [
            nn.ConvTranspose2d(width, width // 2, _KERNEL, _STRIDE, _PADDING, bias=False),
            nn.BatchNorm2d(width // 2),
            nn.ReLU(True),
        ]
        width //= 2
    layers += [nn.ConvTranspose2d(width, channels, _KERNEL, _STRIDE, _PADDING, bias=False)]
    return nn.Sequential(*layers, nn.Tanh())


def _discriminator(base_width: int, channels: int, doublings: int) -> nn.Sequential:
    width = base_width
    layers: list[nn.Module] = [
        nn.Conv2d(channels, width, _KERNEL, _STRIDE, _PADDING, bias=False),
        nn.LeakyReLU(_LEAKY_SLOPE, inplace=True),
    ]
    for _ in range(doublings - 1):
        layers += [
            nn.Conv2d(width, width * 2, _KERNEL, _STRIDE, _PADDING, bias=False),
            nn.BatchNorm2d(width * 2),
            nn.LeakyReLU(_LEAKY_SLOPE, inplace=True),
        ]
        width *= 2
    layers += [nn.Conv2d(width, 1, BASE_SIDE, 1, 0, bias=False), nn.Flatten(0)]
    return nn.Sequential(*layers)


def _init_weights(module: nn.Module, std: float) -> None:
    """The paper's initialisation: convolutions N(0, std), batch-norm scales N(1, std)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, std)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, std)
        nn.init.zeros_(module.bias)
