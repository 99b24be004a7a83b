"""CelebA in the layout `torchvision.datasets.CelebA` reads, as 64x64 uint8 faces and their
40 binary attributes.

    <data.root>/celeba/img_align_celeba/000001.jpg ...   (extracted img_align_celeba.zip)
    <data.root>/celeba/list_attr_celeba.txt
    <data.root>/celeba/list_eval_partition.txt

CelebA's automatic download is unreliable, so users place these files by hand, and often only
these three: torchvision's class also wants the identity, bounding-box and landmark files with
their exact checksums. When those checks pass we let torchvision parse the attributes; when
they do not, we read the same text files directly. Either way every image is centre-cropped
(178x218 -> 148x148, the usual crop) and resized once, and the result is cached next to the
data, so later runs start in seconds. The train partition trains generation 0 and the judge;
the test partition is the held-out reference (the validation partition is not used).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from torchvision.datasets import CelebA

from lab.data.celeba_attributes import ATTRIBUTES
from lab.data.images import ImageSet, RealData
from lab.data.prepared import load_cache, prepare_images, save_cache
from lab.errors import DataError

IMAGE_DIR = "img_align_celeba"
ATTR_FILE = "list_attr_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"
PARTITIONS = {"train": 0, "valid": 1, "test": 2}
_CACHE_FORMAT = 1
_FIX_IMAGE = "the file is truncated or corrupt, so extract it again from img_align_celeba.zip."


def celeba_folder(root: str | Path) -> Path:
    return Path(root) / CelebA.base_folder


def cache_path(root: str | Path, size: int, crop: int) -> Path:
    return celeba_folder(root) / f"collapse-lab-{size}px-crop{crop}.npz"


def load_celeba(root: str | Path, size: int, crop: int) -> RealData:
    """Train and test partitions as uint8 [N, 3, size, size] with [N, 40] attribute labels."""
    folder = celeba_folder(root)
    missing = [name for name in (ATTR_FILE, PARTITION_FILE) if not (folder / name).is_file()]
    fingerprint = None if missing else _fingerprint(folder, size, crop)
    cache = cache_path(root, size, crop)
    arrays = load_cache(cache, fingerprint) if fingerprint else None
    if arrays is None:
        if not (folder / IMAGE_DIR).is_dir():
            missing.insert(0, f"{IMAGE_DIR}/")
        if missing:
            raise DataError(
                f"CelebA is incomplete: {', '.join(missing)} not found in '{folder}'; place "
                f"{IMAGE_DIR}/ (the extracted img_align_celeba.zip), {ATTR_FILE} and "
                f"{PARTITION_FILE} there, or set data.root to the folder that holds celeba/."
            )
        arrays = _prepare(root, size, crop)
        save_cache(cache, arrays, fingerprint)

    def split(name: str) -> ImageSet:
        return ImageSet(
            torch.from_numpy(arrays[f"{name}_images"]),
            torch.from_numpy(arrays[f"{name}_attributes"]),
        )

    return RealData(
        name="celeba", train=split("train"), heldout=split("test"), class_names=ATTRIBUTES
    )


def _prepare(root: str | Path, size: int, crop: int) -> dict[str, np.ndarray]:
    folder = celeba_folder(root)
    filenames, attributes = _attributes_from_torchvision(root) or _read_attributes(
        folder / ATTR_FILE
    )
    partition = _read_partition(folder / PARTITION_FILE, folder / ATTR_FILE, filenames)
    _check_images(folder / IMAGE_DIR, filenames)
    arrays = {}
    for name in ("train", "test"):
        chosen = np.flatnonzero(partition == PARTITIONS[name])
        paths = [folder / IMAGE_DIR / filenames[i] for i in chosen]
        label = f"CelebA {name} -> {size}x{size}"
        arrays[f"{name}_images"] = prepare_images(paths, size, crop, label, _FIX_IMAGE)
        arrays[f"{name}_attributes"] = attributes[chosen]
    return arrays


def _attributes_from_torchvision(root: str | Path) -> tuple[list[str], np.ndarray] | None:
    """torchvision's parse of the attribute file, when its checksums accept the files."""
    try:
        dataset = CelebA(str(root), split="all", target_type="attr", download=False)
    except RuntimeError:  # "Dataset not found or corrupted": its integrity checks failed
        return None
    names = tuple(name for name in dataset.attr_names if name)  # the header ends in a space
    if names != ATTRIBUTES:
        return None
    return list(dataset.filename), dataset.attr.numpy().astype(np.uint8)


def _read_attributes(path: Path) -> tuple[list[str], np.ndarray]:
    """File names and uint8 [N, 40] attributes (1 = present). CelebA's format: the image
    count, the 40 names, then `000001.jpg -1  1 ...` rows."""
    lines = path.read_text().splitlines()
    first = lines[0].strip() if lines else ""
    if not first.isdigit():
        raise DataError(
            f"'{path}' should start with the number of images, not {first!r}; it is not "
            "CelebA's attribute list, so replace it with the original file."
        )
    names = tuple(lines[1].split()) if len(lines) > 1 else ()
    if names != ATTRIBUTES:
        raise DataError(
            f"'{path}' line 2 should name CelebA's 40 attributes (5_o_Clock_Shadow ... Young); "
            "replace the file with the original list_attr_celeba.txt."
        )
    rows = [line.split() for line in lines[2:] if line.strip()]
    if len(rows) != int(first):
        raise DataError(
            f"'{path}' says {int(first)} images on line 1 but has {len(rows)} attribute rows; "
            "the file is truncated or edited, so replace it with the original."
        )
    for number, row in enumerate(rows, start=3):
        if len(row) != 1 + len(ATTRIBUTES) or any(value not in ("1", "-1") for value in row[1:]):
            raise DataError(
                f"'{path}' line {number} should be a file name and 40 values of 1 or -1; "
                "replace the file with the original."
            )
    values = np.array([row[1:] for row in rows], dtype=np.int8)
    return [row[0] for row in rows], (values > 0).astype(np.uint8)


def _read_partition(path: Path, attr_path: Path, filenames: list[str]) -> np.ndarray:
    """The partition of each image, in the attribute file's order."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    if len(rows) != len(filenames):
        raise DataError(
            f"'{path}' lists {len(rows)} images but '{attr_path}' has {len(filenames)} rows; "
            "both must come from the same CelebA release, so replace the one that differs."
        )
    allowed = {str(value) for value in PARTITIONS.values()}
    for number, (row, name) in enumerate(zip(rows, filenames, strict=True), start=1):
        if len(row) != 2 or row[1] not in allowed or row[0] != name:
            raise DataError(
                f"'{path}' line {number} should be '{name} 0|1|2' (the image on the same row "
                f"of {attr_path.name}); replace it with the original list_eval_partition.txt."
            )
    return np.array([int(row[1]) for row in rows], dtype=np.int64)


def _check_images(image_dir: Path, filenames: list[str]) -> None:
    """The folder holds exactly the images the attribute file lists."""
    present = {entry.name for entry in os.scandir(image_dir) if entry.name.endswith(".jpg")}
    if len(present) != len(filenames):
        raise DataError(
            f"'{image_dir.parent / ATTR_FILE}' has {len(filenames)} attribute rows but "
            f"'{image_dir}' holds {len(present)} .jpg images; both must come from the same "
            "CelebA release, so extract all of img_align_celeba.zip there and use its "
            "original list files."
        )
    absent = [name for name in filenames if name not in present]
    if absent:
        raise DataError(
            f"{len(absent)} images listed in '{image_dir.parent / ATTR_FILE}' are not in "
            f"'{image_dir}' (e.g. {absent[0]}); extract all of img_align_celeba.zip there."
        )


def _fingerprint(folder: Path, size: int, crop: int) -> dict[str, object]:
    """What the cache depends on: the list files' contents and the preprocessing."""
    digests = {}
    for name in (ATTR_FILE, PARTITION_FILE):
        digests[name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    return {"format": _CACHE_FORMAT, "size": size, "crop": crop, "files": digests}
