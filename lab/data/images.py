"""Datasets as in-memory uint8 tensors: the one type real and generated images share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

LabelKind = Literal["classes", "attributes", "none"]


@dataclass(frozen=True)
class ImageSet:
    """uint8 images [N, C, H, W] and their labels: int64 class indices [N], a uint8 0/1
    attribute matrix [N, K] (CelebA), or None (samples, and face folders without labels)."""

    images: torch.Tensor
    labels: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(
                f"images must be uint8 [N, C, H, W], got {self.images.dtype} "
                f"{tuple(self.images.shape)}"
            )
        if self.labels is not None and len(self.labels) != len(self.images):
            raise ValueError(f"{len(self.labels)} labels for {len(self.images)} images")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        channels, height, width = self.images.shape[1:]
        return int(channels), int(height), int(width)


@dataclass(frozen=True)
class RealData:
    """A real dataset split into the set generation 0 (and the judge) trains on and the
    held-out reference set every generation is measured against."""

    name: str
    train: ImageSet
    heldout: ImageSet
    # Names of the classes (one label per image) or of the attributes (a 0/1 matrix).
    class_names: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def label_kind(self) -> LabelKind:
        """What the labels are, which decides the judge and the coverage metrics."""
        labels = self.train.labels
        if labels is None:
            return "none"
        return "classes" if labels.dim() == 1 else "attributes"
