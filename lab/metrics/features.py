"""Feature spaces: the map from uint8 images to the vectors the distribution metrics compare.

FID, precision/recall, density/coverage, homogeneity and KID all compare two sets of feature
vectors, and the space decides what "alike" means: the judge's penultimate layer (offline, and
for 28x28 digits the more meaningful space) or the standard InceptionV3 (comparable with
published numbers). Features are extracted once per image set and shared by every metric.
Real-set features are cached on disk per (dataset, split, extractor), so every generation and
every run measures against the same vectors and pays for them once.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from lab.device import DevicePlan
from lab.rundir.atomic import write_atomic

log = logging.getLogger("collapse_lab")


@dataclass(frozen=True)
class FeatureSpace:
    """An extractor and the name that identifies its weights (part of every cache key)."""

    name: str
    module: nn.Module  # uint8 [N, C, H, W] -> float [N, D]
    # The image shape the extractor takes, or None when it resizes any image itself.
    image_shape: tuple[int, int, int] | None = None

    @property
    def num_features(self) -> int:
        return int(self.module.num_features)

    def extract(self, images: Tensor, plan: DevicePlan, batch_size: int) -> Tensor:
        """float32 features [N, D] on the plan's device, in full precision on every device so
        that numbers from a CPU run and a GPU run can be compared."""
        self.module.to(plan.device).eval()
        with torch.no_grad():
            parts = [self.module(plan.place(chunk)).float() for chunk in images.split(batch_size)]
        return torch.cat(parts)


def cached_features(
    path: Path, space: FeatureSpace, images: Tensor, plan: DevicePlan, batch_size: int
) -> Tensor:
    """Features of `images` from `path` if it holds them, else extracted and stored there.

    A cache file of the wrong shape or an unreadable one is recomputed, never trusted.
    """
    expected = (len(images), space.num_features)
    if path.is_file():
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, EOFError) as err:
            log.warning("feature cache '%s' is unreadable (%s); recomputing it", path, err)
        else:
            if isinstance(stored, Tensor) and tuple(stored.shape) == expected:
                return stored.to(plan.device)
            log.warning("feature cache '%s' does not fit these images; recomputing it", path)
    features = space.extract(images, plan, batch_size)
    buffer = io.BytesIO()
    torch.save(features.cpu(), buffer)
    write_atomic(path, buffer.getvalue())
    return features
