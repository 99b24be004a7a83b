"""Write MNIST in its real on-disk format: gzipped IDX files under <root>/MNIST/raw/."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

IDX_UBYTE = 0x08


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding: 0, 0, type, ndim, big-endian dims, then the raw bytes."""
    header = bytes([0, 0, IDX_UBYTE, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def write_tiny_mnist(root: Path, train: int = 30, test: int = 20, seed: int = 0) -> dict:
    """Random 28x28 digits with labels; returns the arrays written, by split."""
    rng = np.random.default_rng(seed)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    written = {}
    for prefix, count in (("train", train), ("t10k", test)):
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=count, dtype=np.uint8)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            with gzip.open(raw / f"{prefix}-{kind}-ubyte.gz", "wb") as handle:
                handle.write(idx_bytes(array))
        written[prefix] = (images, labels)
    return written
