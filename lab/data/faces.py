"""A plain folder of face images (png or jpg, any size, subfolders included) as a dataset
without labels: FFHQ thumbnails, or anyone's own photos.

Each image is centre-cropped to its largest square and resized to `data.image_size`, once;
the result is cached in the folder. A fixed share of the images, drawn with
`data.split_seed`, is held out as the reference set. Without labels there are no class or
attribute metrics: the judge for such data predicts how an image is rotated (Gidaris et
al. 2018), a task that needs no labels, and its features are the FID space (see
models/judges.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from lab.data.images import ImageSet, RealData
from lab.data.prepared import load_cache, prepare_images, save_cache
from lab.errors import DataError

SUFFIXES = (".png", ".jpg", ".jpeg")
_CACHE_FORMAT = 1
_FIX_IMAGE = "the file is truncated or corrupt, so replace it or move it out of the folder."


def cache_path(root: str | Path, size: int) -> Path:
    return Path(root) / f"collapse-lab-faces-{size}px.npz"


def load_faces(root: str | Path, size: int, heldout_fraction: float, split_seed: int) -> RealData:
    """The folder's images as uint8 [N, 3, size, size], split into train and held out."""
    folder = Path(root)
    if not folder.is_dir():
        raise DataError(
            f"data.root '{folder}' is not a folder; for data.name 'faces' point it at a folder "
            "of face images (png or jpg, any size)."
        )
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
    heldout = round(heldout_fraction * len(paths))
    if heldout < 1 or heldout >= len(paths):
        raise DataError(
            f"'{folder}' holds {len(paths)} png/jpg images, so data.heldout_fraction "
            f"{heldout_fraction} leaves no images to train on or none to hold out; add images "
            "or change data.heldout_fraction."
        )
    fingerprint = _fingerprint(folder, paths, size)
    cache = cache_path(folder, size)
    arrays = load_cache(cache, fingerprint)
    if arrays is None:
        label = f"faces -> {size}x{size}"
        arrays = {"images": prepare_images(paths, size, None, label, _FIX_IMAGE)}
        save_cache(cache, arrays, fingerprint)
    images = torch.from_numpy(arrays["images"])
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(split_seed))
    return RealData(
        name="faces",
        train=ImageSet(images[order[heldout:].sort().values]),
        heldout=ImageSet(images[order[:heldout].sort().values]),
        class_names=(),
    )


def _fingerprint(folder: Path, paths: list[Path], size: int) -> dict[str, object]:
    """Names, sizes and modification times of the images: a changed folder is decoded again."""
    digest = hashlib.sha256()
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return {"format": _CACHE_FORMAT, "size": size, "files": digest.hexdigest()}
