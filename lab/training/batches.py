"""Mini-batches as index slices of tensors that already sit on the training device.

MNIST and 64x64 CelebA fit in GPU memory as uint8, so there is no DataLoader, no worker
process and no host-to-device copy per batch: each epoch draws one permutation on the
device and yields slices of it. Lightning accepts any iterable with a length.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch


class IndexBatches:
    """Shuffled full batches over aligned tensors (images, and labels when given).

    The last partial batch is dropped, as batch-norm models need full batches; every
    epoch draws a fresh permutation from a generator seeded once, so the order is
    reproducible and every index appears at most once per epoch.
    """

    def __init__(self, tensors: Sequence[torch.Tensor], batch_size: int, seed: int) -> None:
        sizes = {len(t) for t in tensors}
        if len(sizes) != 1:
            raise ValueError(f"tensors must have the same length, got {sorted(sizes)}")
        (self.size,) = sizes
        if not 1 <= batch_size <= self.size:
            raise ValueError(f"batch_size must be in [1, {self.size}], got {batch_size}")
        self.tensors = tuple(tensors)
        self.batch_size = batch_size
        self.generator = torch.Generator(device=self.tensors[0].device).manual_seed(seed)

    def __len__(self) -> int:
        return self.size // self.batch_size

    def __iter__(self) -> Iterator[torch.Tensor | tuple[torch.Tensor, ...]]:
        device = self.tensors[0].device
        order = torch.randperm(self.size, generator=self.generator, device=device)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start : start + self.batch_size]
            batch = tuple(t[index] for t in self.tensors)
            yield batch if len(batch) > 1 else batch[0]
