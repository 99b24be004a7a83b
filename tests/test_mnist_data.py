"""MNIST loads through torchvision's real code path from files in the real format."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from lab.data.mnist import load_mnist, raw_folder
from lab.data.mnist5k import load_mnist5k
from lab.errors import DataError
from tests.idx_fixtures import idx_bytes, write_tiny_mnist


def test_gzipped_idx_files_load_through_torchvision(tmp_path) -> None:
    written = write_tiny_mnist(tmp_path, train=30, test=20)
    data = load_mnist(tmp_path, download=False)
    assert data.train.images.shape == (30, 1, 28, 28)
    assert data.train.images.dtype == torch.uint8
    assert data.heldout.images.shape == (20, 1, 28, 28)
    assert np.array_equal(data.train.images[:, 0].numpy(), written["train"][0])
    assert np.array_equal(data.heldout.labels.numpy(), written["t10k"][1].astype(np.int64))
    assert data.class_names == tuple("0123456789")


def test_missing_folder_is_one_sentence_naming_the_files(tmp_path) -> None:
    with pytest.raises(DataError) as caught:
        load_mnist(tmp_path / "nowhere", download=False)
    message = str(caught.value)
    assert str(raw_folder(tmp_path / "nowhere")) in message
    assert "train-images-idx3-ubyte" in message and "data.download: true" in message


def test_truncated_idx_file_is_named(tmp_path) -> None:
    write_tiny_mnist(tmp_path)
    archive = raw_folder(tmp_path) / "train-images-idx3-ubyte.gz"
    data = gzip.decompress(archive.read_bytes())
    archive.write_bytes(gzip.compress(data[:-100]))
    with pytest.raises(DataError, match="train-images-idx3-ubyte' has .* bytes but its header"):
        load_mnist(tmp_path, download=False)


def test_label_count_mismatch_is_named(tmp_path) -> None:
    write_tiny_mnist(tmp_path, train=30)
    labels = raw_folder(tmp_path) / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(idx_bytes(np.zeros(29, np.uint8))))
    with pytest.raises(DataError, match="29 labels but .* has 30 images"):
        load_mnist(tmp_path, download=False)


@pytest.mark.slow
def test_mnist5k_split_is_stratified_and_fixed() -> None:
    data = load_mnist5k(heldout_per_class=100, split_seed=0)
    assert len(data.train) == 4000 and len(data.heldout) == 1000
    assert torch.bincount(data.heldout.labels).tolist() == [100] * 10
    again = load_mnist5k(heldout_per_class=100, split_seed=0)
    assert torch.equal(data.heldout.images, again.heldout.images)
    other = load_mnist5k(heldout_per_class=100, split_seed=1)
    assert not torch.equal(data.heldout.images, other.heldout.images)
