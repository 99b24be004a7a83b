"""A pixel-space diffusion model (DDPM, Ho et al. 2020) on Hugging Face diffusers, as the
anchors' diffusion experiments use it (MAD; Bertrand et al.; Shi et al.'s UNet2DModel).

Training is the DDPM objective: a `UNet2DModel` predicts the noise that `DDPMScheduler`
added at a uniformly drawn step t of T (or, with `prediction: v_prediction`, the velocity of
Salimans and Ho 2022). Sampling runs DDIM (Song et al. 2021) with eta 0 in `steps` steps over
the same schedule, so all its randomness is the starting noise, drawn on the CPU from the
lab's generator: a resumed run draws byte-identical samples.

Class-conditional (the section's `conditional`): the lab trains it on (images, classes)
batches and passes `sample` the class of every item to draw (docs/models.md). Each training
item's class is hidden with probability `label_dropout` (index `num_classes`, the null
class), so the same network is also the unconditional model, and `guidance` w mixes the two
predictions as (1 + w) eps(x, c) - w eps(x): classifier-free guidance (Ho and Salimans
2022), MAD's sampling bias with lambda = 1 / (1 + w); w = 0 is the unbiased conditional model.
"""

from __future__ import annotations

from collections.abc import Iterator

import lightning as L
import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel
from torch.nn import functional as F

from lab.errors import ConfigError
from models.epoch_means import EpochMeans
from models.pixels import to_unit
from models.sampling import quantise

# Pixels in [0, 1] are diffused as [-1, 1], the range DDPM's schedule and clipping assume.
_SCALE, _SHIFT = 2.0, 1.0


class Diffusion(L.LightningModule):
    """UNet2DModel + DDPMScheduler to train, DDIMScheduler to sample; optionally conditional."""

    def __init__(
        self,
        *,
        image_shape: tuple[int, int, int],
        num_classes: int,
        lr: float,
        block_out_channels: tuple[int, ...],
        layers_per_block: int,
        attention: bool,
        norm_groups: int,
        train_timesteps: int,
        beta_schedule: str,
        prediction: str,
        conditional: bool,
        label_dropout: float,
    ) -> None:
        super().__init__()
        channels, height, width = image_shape
        if conditional and num_classes < 1:
            raise ConfigError(
                "model.conditional is true, but the data has no class labels to condition "
                "on; set model.conditional: false"
            )
        self.lr = lr
        self.image_shape = image_shape
        self.class_conditional = conditional
        self.num_classes = num_classes
        self.label_dropout = label_dropout
        levels = len(block_out_channels)
        down = ["DownBlock2D"] * levels
        up = ["UpBlock2D"] * levels
        if attention:
            down[-1], up[0] = "AttnDownBlock2D", "AttnUpBlock2D"
        self.unet = UNet2DModel(
            sample_size=(height, width),
            in_channels=channels,
            out_channels=channels,
            block_out_channels=tuple(block_out_channels),
            layers_per_block=layers_per_block,
            down_block_types=tuple(down),
            up_block_types=tuple(up),
            norm_num_groups=norm_groups,
            add_attention=attention,
            # One embedding per class and one for "no class" (the null class of guidance).
            num_class_embeds=num_classes + 1 if conditional else None,
        )
        self.schedule = DDPMScheduler(
            num_train_timesteps=train_timesteps,
            beta_schedule=beta_schedule,
            prediction_type=prediction,
        )
        self.epoch_means = EpochMeans()
        # Why sampling failed, in a sentence (NaN or infinite pixels); None while it has not.
        self.diverged: str | None = None

    def training_step(
        self, batch: torch.Tensor | tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        images, classes = batch if self.class_conditional else (batch, None)
        clean = to_unit(images) * _SCALE - _SHIFT
        noise = torch.randn_like(clean)
        steps = torch.randint(
            0, self.schedule.config.num_train_timesteps, (len(clean),), device=clean.device
        )
        noisy = self.schedule.add_noise(clean, noise, steps)
        if classes is not None:
            hidden = torch.rand(len(classes), device=classes.device) < self.label_dropout
            classes = torch.where(hidden, self.num_classes, classes)
        target = noise
        if self.schedule.config.prediction_type == "v_prediction":
            target = self.schedule.get_velocity(clean, noise, steps)
        loss = F.mse_loss(self.unet(noisy, steps, class_labels=classes).sample.float(), target)
        self.epoch_means.add(loss=loss)
        return loss

    def on_train_epoch_end(self) -> None:
        self.epoch_means.log(self)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=self.lr)

    @torch.inference_mode()
    def sample(
        self,
        n: int,
        generator: torch.Generator,
        batch_size: int = 1000,
        steps: int | None = None,
        guidance: float = 0.0,
        classes: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`n` images as uint8 [n, C, H, W] on the CPU, by DDIM in `steps` steps (None: all T
        of the training schedule), in batches of `batch_size`; a conditional model draws
        item i for class `classes[i]`, guided with weight `guidance`."""
        if self.class_conditional and classes is None:
            raise ValueError("a class-conditional model samples for given classes")
        self.eval()
        noise = torch.randn((n, *self.image_shape), generator=generator)
        return quantise(self._units(noise, classes, batch_size, steps, guidance), self)

    def _units(
        self,
        noise: torch.Tensor,
        classes: torch.Tensor | None,
        batch_size: int,
        steps: int | None,
        guidance: float,
    ) -> Iterator[torch.Tensor]:
        """The denoised images, `batch_size` at a time, with values in [0, 1]."""
        for start in range(0, len(noise), batch_size):
            chunk = noise[start : start + batch_size].to(self.device)
            wanted = None
            if self.class_conditional:
                wanted = classes[start : start + batch_size].to(self.device)
            yield (self._denoise(chunk, wanted, steps, guidance) + _SHIFT) / _SCALE

    def _denoise(
        self, x: torch.Tensor, classes: torch.Tensor | None, steps: int | None, guidance: float
    ) -> torch.Tensor:
        """DDIM (eta 0) from noise `x` to images in [-1, 1]."""
        sampler = DDIMScheduler.from_config(self.schedule.config)
        sampler.set_timesteps(steps or self.schedule.config.num_train_timesteps)
        for t in sampler.timesteps:
            predicted = self._prediction(x, t, classes, guidance)
            x = sampler.step(predicted, t, x, eta=0.0).prev_sample
        return x.float()

    def _prediction(
        self, x: torch.Tensor, t: torch.Tensor, classes: torch.Tensor | None, guidance: float
    ) -> torch.Tensor:
        if classes is None:
            return self.unet(x, t).sample
        if guidance == 0:
            return self.unet(x, t, class_labels=classes).sample
        null = torch.full_like(classes, self.num_classes)
        both = self.unet(torch.cat([x, x]), t, class_labels=torch.cat([classes, null])).sample
        conditional, unconditional = both.chunk(2)
        return (1 + guidance) * conditional - guidance * unconditional
