"""Write a small CelebA in its real on-disk layout and text formats.

    <root>/celeba/img_align_celeba/000001.jpg ...   178x218 JPEGs
    <root>/celeba/list_attr_celeba.txt              count, 40 names, `000001.jpg -1  1 ...`
    <root>/celeba/list_eval_partition.txt           `000001.jpg 0` (0 train, 1 valid, 2 test)

The faces are cartoons, but four attributes are drawn so a judge can learn them: Eyeglasses
(dark glasses over the eyes), Wearing_Hat (a coloured band on the forehead), Blond_Hair (yellow
hair instead of dark) and Smiling (a wide red mouth). The other 36 are random with CelebA-like
prevalence, as a judge would see attributes it cannot learn.

`python -m tests.celeba_fixtures DIR` writes one for experiments/celeba_dcgan_tiny.yaml.
"""

from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from lab.data.celeba import ATTR_FILE, ATTRIBUTES, IMAGE_DIR, PARTITION_FILE

WIDTH, HEIGHT = 178, 218
VISIBLE = {"Eyeglasses": 0.2, "Wearing_Hat": 0.2, "Blond_Hair": 0.3, "Smiling": 0.5}
# Shares of the train, valid and test partitions, in file order as in real CelebA.
PARTITION_SHARES = (0.72, 0.08, 0.2)


def write_tiny_celeba(
    root: Path, count: int = 300, seed: int = 0, workers: int = 1
) -> dict[str, np.ndarray]:
    """Write `count` faces; returns the attributes (0/1 [count, 40]) and partitions written.
    With `workers` > 1, processes draw and encode the faces in chunks (each from its own
    seed), so the bench can write tens of thousands in seconds."""
    rng = np.random.default_rng(seed)
    folder = root / "celeba"
    (folder / IMAGE_DIR).mkdir(parents=True)
    prevalence = rng.uniform(0.05, 0.5, size=len(ATTRIBUTES))
    for name, share in VISIBLE.items():
        prevalence[ATTRIBUTES.index(name)] = share
    attributes = (rng.random((count, len(ATTRIBUTES))) < prevalence).astype(np.uint8)
    names = [f"{i + 1:06d}.jpg" for i in range(count)]
    if workers == 1:
        _write_faces(folder / IMAGE_DIR, names, attributes, rng)
    else:
        chunks = np.array_split(np.arange(count), workers * 4)
        jobs = [
            (folder / IMAGE_DIR, [names[i] for i in chunk], attributes[chunk], (seed, number))
            for number, chunk in enumerate(chunks)
        ]
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            list(pool.map(_write_chunk, *zip(*jobs, strict=True)))
    signs = np.where(attributes == 1, " 1", "-1")
    rows = [f"{name} " + " ".join(values) for name, values in zip(names, signs, strict=True)]
    (folder / ATTR_FILE).write_text(
        f"{count}\n" + " ".join(ATTRIBUTES) + " \n" + "\n".join(rows) + "\n"
    )
    edges = np.cumsum(PARTITION_SHARES) * count
    partition = np.searchsorted(edges, np.arange(count), side="right")
    (folder / PARTITION_FILE).write_text(
        "".join(f"{name} {p}\n" for name, p in zip(names, partition, strict=True))
    )
    return {"attributes": attributes, "partition": partition}


def _write_faces(
    folder: Path, names: list[str], attributes: np.ndarray, rng: np.random.Generator
) -> None:
    for name, row in zip(names, attributes, strict=True):
        face(dict(zip(ATTRIBUTES, row, strict=True)), rng).save(folder / name, quality=90)


def _write_chunk(
    folder: Path, names: list[str], attributes: np.ndarray, seed: tuple[int, int]
) -> None:
    _write_faces(folder, names, attributes, np.random.default_rng(seed))


def face(attributes: dict[str, int], rng: np.random.Generator) -> Image.Image:
    """A cartoon face whose visible attributes are drawn into it."""
    background = tuple(int(v) for v in rng.integers(60, 200, size=3))
    image = Image.new("RGB", (WIDTH, HEIGHT), background)
    draw = ImageDraw.Draw(image)
    hair = (230, 200, 70) if attributes["Blond_Hair"] else (60, 40, 25)
    draw.ellipse((34, 45, 144, 175), fill=hair)
    skin = tuple(int(v) for v in rng.integers([180, 130, 100], [240, 190, 160]))
    draw.ellipse((44, 65, 134, 185), fill=skin)
    for x in (70, 108):
        draw.ellipse((x - 6, 107, x + 6, 117), fill=(30, 30, 30))
    if attributes["Eyeglasses"]:
        draw.rectangle((52, 102, 126, 122), fill=(15, 15, 15))
    if attributes["Wearing_Hat"]:
        draw.rectangle((30, 40, 148, 78), fill=(40, 60, 200))
    if attributes["Smiling"]:
        draw.chord((66, 140, 112, 168), 0, 180, fill=(200, 30, 40))
    else:
        draw.line((78, 155, 100, 155), fill=(150, 60, 60), width=3)
    pixels = np.asarray(image, dtype=np.int16) + rng.integers(-12, 13, size=(HEIGHT, WIDTH, 3))
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "data/celeba-tiny")
    write_tiny_celeba(target)
    print(f"wrote a tiny CelebA to {target / 'celeba'}")
