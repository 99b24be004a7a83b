"""Image sets from disk, for `collapse-lab eval`: a folder of image files, or a .npz file.

A .npz holds uint8 images [N, C, H, W] under the key `images`, the format `collapse-lab run`
writes for every generation. A folder's images must share one size; grey and colour images
may mix (grey ones are repeated to 3 channels). Any file that cannot be used is named in one
sentence, so a broken file in a folder of 50,000 is found at once.

Every image becomes 8 bits per channel, the type every metric compares. 16-bit images keep
their high byte (v >> 8, as scikit-image and torchvision convert), which maps 0..65535 onto
0..255 and gives back x exactly for 8-bit data widened either way (x * 257 or x * 256);
Pillow reads 16-bit colour PNGs the same way. 32-bit integer and floating-point pixels have
no agreed range, so they are taken only when they are whole numbers in 0..255.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from lab.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
_GREY_MODES = ("1", "L", "LA")
_SIXTEEN_BIT = "I;16"  # Pillow's 16-bit grey modes: I;16, I;16L, I;16B, I;16N
_WIDE_MODES = {"I": "32-bit integer", "F": "floating-point"}
_BYTE_MAX = 255


def load_images(path: Path) -> torch.Tensor:
    """uint8 [N, C, H, W] from a folder of images or a .npz file."""
    if path.is_dir():
        return _load_folder(path)
    if path.is_file() and path.suffix == ".npz":
        return _load_npz(path)
    if not path.exists():
        raise DataError(f"'{path}' does not exist; pass a folder of images or a .npz file.")
    raise DataError(
        f"'{path}' is neither a folder of images nor a .npz file; pass one of those (a single "
        "image is not a set)."
    )


def _load_npz(path: Path) -> torch.Tensor:
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "images" not in archive.files:
                present = ", ".join(archive.files) or "none"
                raise DataError(
                    f"'{path}' has no 'images' array (it has {present}); store uint8 images "
                    "[N, C, H, W] under the key 'images'."
                )
            images = archive["images"]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise DataError(f"'{path}' cannot be read as a .npz file ({err}); replace it.") from None
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
        raise DataError(
            f"'{path}': 'images' is {images.dtype} {list(images.shape)}, but must be uint8 "
            "[N, C, H, W] with C = 1 or 3."
        )
    return torch.from_numpy(np.ascontiguousarray(images))


def _load_folder(folder: Path) -> torch.Tensor:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(
            f"'{folder}' holds no image files ({', '.join(IMAGE_SUFFIXES)}); pass a folder of "
            "images or a .npz file."
        )
    arrays = [_read_image(file) for file in files]
    first = arrays[0].shape[:2]
    for file, array in zip(files, arrays, strict=True):
        if array.shape[:2] != first:
            raise DataError(
                f"'{file}' is {array.shape[1]}x{array.shape[0]} pixels but '{files[0]}' is "
                f"{first[1]}x{first[0]}; every image in '{folder}' must have the same size."
            )
    channels = max(array.shape[2] for array in arrays)
    stacked = np.stack([np.repeat(a, channels // a.shape[2], axis=2) for a in arrays])
    return torch.from_numpy(stacked).permute(0, 3, 1, 2).contiguous()


def _read_image(file: Path) -> np.ndarray:
    """uint8 [H, W, 1] for grey images, [H, W, 3] for everything else."""
    try:
        with Image.open(file) as image:
            image.load()
            mode = image.mode
            if mode.startswith(_SIXTEEN_BIT):
                array = (np.asarray(image) >> 8).astype(np.uint8)[:, :, None]
            elif mode in _WIDE_MODES:
                array = _whole_bytes(file, np.asarray(image), _WIDE_MODES[mode])[:, :, None]
            elif mode in _GREY_MODES:
                array = np.asarray(image.convert("L"))[:, :, None]
            else:
                array = np.asarray(image.convert("RGB"))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        reason = str(err) or type(err).__name__
        raise DataError(
            f"'{file}' cannot be read as an image ({reason}); replace or remove it."
        ) from None
    return array


def _whole_bytes(file: Path, pixels: np.ndarray, kind: str) -> np.ndarray:
    """Wide pixels that are 8-bit values in disguise, as uint8; anything else is refused."""
    if pixels.size and (
        pixels.min() < 0 or pixels.max() > _BYTE_MAX or not np.array_equal(pixels, np.round(pixels))
    ):
        raise DataError(
            f"'{file}' holds {kind} pixels from {pixels.min():g} to {pixels.max():g}, which have "
            "no agreed 8-bit scale; save it as an 8-bit or 16-bit image."
        )
    return pixels.astype(np.uint8)
