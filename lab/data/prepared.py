"""Photos decoded, centre-cropped and resized once, then cached as one uint8 array.

Decoding CelebA's 200,000 JPEGs takes minutes; reading one uncompressed .npz of the
resized result takes seconds. The cache sits next to the data it was made from and carries
a fingerprint of its sources, so a changed dataset is decoded again instead of being served
stale. Decoding runs on a thread pool (Pillow releases the GIL while it decodes and
resizes), with a progress bar, and never inside the training loop.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from lab.errors import DataError
from lab.rundir.atomic import discard, temporary_path

log = logging.getLogger("collapse_lab")

_FINGERPRINT_KEY = "fingerprint"
# Antialiased when shrinking (Pillow widens the filter), as a published thumbnail would be.
_RESAMPLING = Image.Resampling.BICUBIC
# Paths handed to the thread pool at once: enough to keep every core busy, few enough
# that the progress bar moves smoothly.
_CHUNK = 512
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def prepare_images(
    paths: Sequence[Path], size: int, crop: int | None, label: str, fix: str
) -> np.ndarray:
    """uint8 [N, 3, size, size]: each file centre-cropped to a `crop`-pixel square (the
    largest centred square when `crop` is None), then resized. A file that cannot be
    decoded is one DataError naming it and ending with `fix`."""
    images = np.empty((len(paths), 3, size, size), dtype=np.uint8)
    workers = max(1, os.cpu_count() or 1)
    with (
        ThreadPoolExecutor(max_workers=workers) as pool,
        tqdm(total=len(paths), desc=label, unit="image", disable=None) as bar,
    ):
        for start in range(0, len(paths), _CHUNK):
            chunk = paths[start : start + _CHUNK]
            for offset, pixels in enumerate(pool.map(lambda p: _square(p, size, crop, fix), chunk)):
                images[start + offset] = pixels
            bar.update(len(chunk))
    return images


def _square(path: Path, size: int, crop: int | None, fix: str) -> np.ndarray:
    try:
        with Image.open(path) as opened:
            image = opened.convert("RGB")  # decodes the whole file, so truncation shows here
    except _DECODE_ERRORS as err:
        raise DataError(f"'{path}' cannot be decoded ({err}); {fix}") from None
    width, height = image.size
    side = min(width, height) if crop is None else crop
    if side > min(width, height):
        raise DataError(
            f"'{path}' is {width}x{height} pixels, smaller than the {side}-pixel centre crop "
            "(data.crop); lower data.crop or remove the image."
        )
    left, top = (width - side) // 2, (height - side) // 2
    square = image.crop((left, top, left + side, top + side)).resize((size, size), _RESAMPLING)
    return np.asarray(square).transpose(2, 0, 1)


def load_cache(path: Path, fingerprint: Mapping[str, object]) -> dict[str, np.ndarray] | None:
    """The cached arrays if `path` exists and was made from the same sources, else None."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            if str(archive[_FINGERPRINT_KEY]) != _encode(fingerprint):
                log.warning("'%s' was made from other files; preparing the images again", path)
                return None
            return {name: archive[name] for name in archive.files if name != _FINGERPRINT_KEY}
    except (OSError, ValueError, KeyError) as err:
        log.warning("'%s' is unreadable (%s); preparing the images again", path, err)
        return None


def save_cache(
    path: Path, arrays: Mapping[str, np.ndarray], fingerprint: Mapping[str, object]
) -> None:
    """Write the arrays uncompressed (fast to load) to a temporary name, then rename, so a
    killed process never leaves half a cache. A read-only data folder only costs speed."""
    temporary = temporary_path(path)
    try:
        with open(temporary, "wb") as handle:
            np.savez(handle, **arrays, **{_FINGERPRINT_KEY: np.array(_encode(fingerprint))})
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as err:
        log.warning(
            "cannot write the image cache '%s' (%s); the images will be decoded again next run",
            path,
            err.strerror or err,
        )
    finally:
        discard(temporary)


def _encode(fingerprint: Mapping[str, object]) -> str:
    return json.dumps(fingerprint, sort_keys=True)
