"""On-device batches: every index once per epoch (the last partial batch aside), reproducible
under a seed."""

from __future__ import annotations

import pytest
import torch

from lab.training.batches import IndexBatches


def test_each_index_once_per_epoch_and_last_partial_batch_dropped() -> None:
    data = torch.arange(103)
    batches = IndexBatches([data], batch_size=10, seed=0)
    assert len(batches) == 10
    for _ in range(3):
        seen = torch.cat(list(batches))
        assert len(seen) == 100
        assert len(torch.unique(seen)) == 100


def test_every_index_exactly_once_per_epoch_when_batches_divide_the_data() -> None:
    data = torch.arange(96)
    batches = IndexBatches([data], batch_size=12, seed=5)
    for _ in range(3):
        seen = torch.cat(list(batches))
        assert torch.equal(seen.sort().values, data)


def test_epochs_differ_and_seed_reproduces() -> None:
    data = torch.arange(50)
    first = IndexBatches([data], batch_size=5, seed=3)
    epoch_a, epoch_b = torch.cat(list(first)), torch.cat(list(first))
    assert not torch.equal(epoch_a, epoch_b)
    again = IndexBatches([data], batch_size=5, seed=3)
    assert torch.equal(torch.cat(list(again)), epoch_a)


def test_aligned_tensors_stay_aligned() -> None:
    images = torch.arange(40).view(40, 1, 1, 1).to(torch.uint8)
    labels = torch.arange(40)
    for batch_images, batch_labels in IndexBatches([images, labels], batch_size=8, seed=1):
        assert torch.equal(batch_images.flatten().long(), batch_labels)


def test_batch_larger_than_data_is_rejected() -> None:
    with pytest.raises(ValueError, match="batch_size must be in"):
        IndexBatches([torch.arange(5)], batch_size=6, seed=0)
