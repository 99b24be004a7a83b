"""Full MNIST through torchvision's `MNIST` class and its standard on-disk layout.

torchvision reads the four extracted IDX files in `<root>/MNIST/raw/`. Users who copy the
files by hand often bring only the `.gz` archives, so those are extracted in place first;
every file is then checked against its IDX header, so a truncated copy is named here
instead of failing deep inside torchvision.
"""

from __future__ import annotations

import gzip
import os
import shutil
import zlib
from pathlib import Path

import numpy as np
import torch
from torchvision.datasets import MNIST

from lab.data.images import ImageSet, RealData
from lab.data.mnist5k import DIGITS
from lab.errors import DataError

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_UBYTE = 0x08
_HEADER_FIELD = 4  # bytes per IDX header field


def raw_folder(root: str | Path) -> Path:
    return Path(root) / "MNIST" / "raw"


def load_mnist(root: str | Path, download: bool) -> RealData:
    """The train split (trains generation 0 and the judge) and the test split (held out)."""
    raw = raw_folder(root)
    if download:
        _download(root)
    names = [name for pair in FILES.values() for name in pair]
    for name in names:
        _extract_if_only_gzipped(raw / name)
    missing = [name for name in names if not (raw / name).is_file()]
    if missing:
        raise DataError(
            f"MNIST is incomplete: {', '.join(missing)} not found in '{raw}'; place the four IDX "
            "files there (as .gz or extracted), or set data.download: true on a machine with "
            "internet."
        )
    counts = {name: check_idx(raw / name) for name in names}
    for split, (images_name, labels_name) in FILES.items():
        if counts[images_name] != counts[labels_name]:
            raise DataError(
                f"'{raw / labels_name}' has {counts[labels_name]} labels but '{raw / images_name}' "
                f"has {counts[images_name]} images; the {split} files come from different "
                "downloads, so replace both."
            )
    return RealData(
        name="mnist",
        train=_split(root, train=True),
        heldout=_split(root, train=False),
        class_names=DIGITS,
    )


def check_idx(path: Path) -> int:
    """Validate an IDX file's header against its size; return its number of items."""
    data = path.read_bytes()
    if len(data) < _HEADER_FIELD or data[0] != 0 or data[1] != 0 or data[2] != _UBYTE:
        raise DataError(
            f"'{path}' is not an IDX file of unsigned bytes (bad magic number); "
            "re-download it from the MNIST site."
        )
    ndim = data[3]
    header = _HEADER_FIELD * (1 + ndim)
    if len(data) < header:
        raise DataError(f"'{path}' is truncated inside its header; re-download it.")
    dims = np.frombuffer(data[_HEADER_FIELD:header], dtype=">u4").astype(np.int64)
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        raise DataError(
            f"'{path}' has {len(data)} bytes but its header {tuple(dims.tolist())} needs "
            f"{expected}; "
            "the file is truncated or corrupt, so re-download it."
        )
    return int(dims[0])


def _split(root: str | Path, train: bool) -> ImageSet:
    dataset = MNIST(str(root), train=train, download=False)
    return ImageSet(dataset.data.unsqueeze(1).contiguous(), dataset.targets.to(torch.int64))


def _extract_if_only_gzipped(path: Path) -> None:
    archive = path.with_name(path.name + ".gz")
    if path.exists() or not archive.is_file():
        return
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        with gzip.open(archive, "rb") as source, open(partial, "wb") as target:
            shutil.copyfileobj(source, target)
    except (OSError, EOFError, zlib.error) as err:
        partial.unlink(missing_ok=True)
        raise DataError(f"'{archive}' cannot be decompressed ({err}); re-download it.") from None
    os.replace(partial, path)


def _download(root: str | Path) -> None:
    try:
        for train in (True, False):
            MNIST(str(root), train=train, download=True)
    except (OSError, RuntimeError) as err:
        raise DataError(
            f"MNIST could not be downloaded into '{raw_folder(root)}' ({err}); place the files "
            "there by hand and set data.download: false."
        ) from None
