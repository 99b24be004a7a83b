"""The baselines people copy: training loops written the way pytorch/examples writes them.

`examples/dcgan/main.py` reads CelebA through `ImageFolder` (decoding, resizing and cropping
every JPEG every epoch in 2 worker processes, `--workers` default), sets
`cudnn.benchmark = True` and trains in float32; `examples/vae/main.py` reads MNIST through
`torchvision.datasets.MNIST` (a PIL image and `ToTensor` per item, 1 worker, pinned memory).
Both call `.item()` on their losses every step for the log line. The `TensorDataset`
variants keep the decoded images in host memory and so measure the DataLoader, the per-batch
host-to-device copy and float32 alone. The networks are the lab's own (models/), so only the
data path, the precision and the loop differ from the lab's path.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision import datasets, transforms

from lab.device import DevicePlan, pytorch_defaults
from models.dcgan import DCGAN
from models.vae import VAE

# pytorch/examples' defaults: dcgan --workers 2; vae uses 1 worker with pinned memory on GPUs.
DCGAN_EXAMPLE_WORKERS = 2
VAE_EXAMPLE_WORKERS = 1


@dataclass(frozen=True)
class Throughput:
    images: int
    seconds: float
    peak_mib: float | None
    # The lab's path: seconds from the start of training to the first measured batch
    # (Lightning's set-up, cuDNN's choices and, with train.compile, compiling).
    warmup_s: float | None = None

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds


def timed_steps(
    plan: DevicePlan,
    batches: Iterable[torch.Tensor],
    step: Callable[[torch.Tensor], None],
    warmup: int,
    measured: int,
) -> Throughput:
    """Run `step` on `warmup` + `measured` batches; time the measured ones (host clock after
    a device sync at both ends, so queued work is counted)."""
    plan.reset_peak_memory()
    images = 0
    began = 0.0
    for index, batch in enumerate(itertools.islice(batches, warmup + measured)):
        if index == warmup:
            plan.synchronize()
            began = time.perf_counter()
        step(batch)
        if index >= warmup:
            images += len(batch)
    plan.synchronize()
    seconds = time.perf_counter() - began
    return Throughput(images, seconds, _mib(plan.peak_memory_bytes()))


def forever(loader: DataLoader) -> Iterator[torch.Tensor]:
    """The loader's image batches epoch after epoch (a new epoch restarts its workers)."""
    while True:
        for images, *_ in loader:
            yield images


def celeba_image_folder(root: Path, image_size: int) -> datasets.ImageFolder:
    """examples/dcgan's CelebA: ImageFolder over <root>/img_align_celeba/*.jpg."""
    return datasets.ImageFolder(
        root=str(root),
        transform=transforms.Compose(
            [
                transforms.Resize(image_size),
                transforms.CenterCrop(image_size),
                transforms.ToTensor(),
                transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
            ]
        ),
    )


def dcgan_loader(dataset, batch_size: int, workers: int) -> DataLoader:  # noqa: ANN001
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers)


def dcgan_tensor_dataset(images: torch.Tensor) -> TensorDataset:
    """Decoded uint8 images held in host memory as the [-1, 1] floats the example feeds."""
    return TensorDataset(images.float().div(127.5).sub(1))


def dcgan_baseline(
    plan: DevicePlan, model: DCGAN, batches: Iterable[torch.Tensor], warmup: int, measured: int
) -> Throughput:
    """examples/dcgan's training step, float32, on the lab's generator and discriminator
    (which end in a logit, so BCEWithLogitsLoss stands for the example's Sigmoid + BCELoss)."""
    device = plan.device
    net_g, net_d = model.generator.to(device).train(), model.discriminator.to(device).train()
    criterion = nn.BCEWithLogitsLoss()
    betas = model.betas
    optimizer_d = torch.optim.Adam(net_d.parameters(), lr=model.lr, betas=betas)
    optimizer_g = torch.optim.Adam(net_g.parameters(), lr=model.lr, betas=betas)
    logged: list[float] = []

    def step(data: torch.Tensor) -> None:
        net_d.zero_grad()
        real = data.to(device)
        size = real.size(0)
        label = torch.full((size,), 1.0, dtype=real.dtype, device=device)
        output = net_d(real).view(-1)
        error_real = criterion(output, label)
        error_real.backward()
        d_x = output.mean().item()
        noise = torch.randn(size, model.latent_dim, 1, 1, device=device)
        fake = net_g(noise)
        label.fill_(0.0)
        output = net_d(fake.detach()).view(-1)
        error_fake = criterion(output, label)
        error_fake.backward()
        d_g_z1 = output.mean().item()
        error_d = error_real + error_fake
        optimizer_d.step()
        net_g.zero_grad()
        label.fill_(1.0)
        output = net_d(fake).view(-1)
        error_g = criterion(output, label)
        error_g.backward()
        d_g_z2 = output.mean().item()
        optimizer_g.step()
        # The example prints these every step; computing them is what costs (host syncs).
        logged[:] = [error_d.item(), error_g.item(), d_x, d_g_z1, d_g_z2]

    with pytorch_defaults(benchmark=True):
        return timed_steps(plan, batches, step, warmup, measured)


def mnist_dataset(root: Path) -> datasets.MNIST:
    """examples/vae's MNIST: a PIL image and ToTensor per item."""
    return datasets.MNIST(str(root), train=True, download=False, transform=transforms.ToTensor())


def vae_loader(dataset, batch_size: int, workers: int, plan: DevicePlan) -> DataLoader:  # noqa: ANN001
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        pin_memory=plan.is_accelerated,
    )


def vae_tensor_dataset(images: torch.Tensor) -> TensorDataset:
    return TensorDataset(images.float().div(255))


def vae_baseline(
    plan: DevicePlan, model: VAE, batches: Iterable[torch.Tensor], warmup: int, measured: int
) -> Throughput:
    """examples/vae's training step, float32, with the lab VAE's networks and loss."""
    device = plan.device
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=model.lr)
    train_loss = [0.0]

    def step(data: torch.Tensor) -> None:
        data = data.to(device)
        optimizer.zero_grad()
        loss, _, _ = model.losses(data)
        loss.backward()
        train_loss[0] += loss.item()
        optimizer.step()

    with pytorch_defaults(benchmark=False):
        return timed_steps(plan, batches, step, warmup, measured)


def _mib(count: int | None) -> float | None:
    return None if count is None else count / 2**20
