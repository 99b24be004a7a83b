"""Attribute coverage from the judge: which face attributes the samples still show.

Faces becoming homogeneous shows first in the tails: the rare attributes (eyeglasses,
baldness, moustaches, grey hair, hats) thin out generations before FID moves much. So per
generation we measure the prevalence of each of CelebA's 40 attributes among the samples,
and count how many of the configured rare attributes keep at least a set fraction of their
real prevalence.

Prevalence is the judge's mean probability of the attribute over the images (its expected
share), not the share it would call present at 0.5. A classifier of a 2%-attribute seldom
crosses 0.5 even on images that have it, so thresholded counts would report rare attributes
as nearly absent from the real data itself, and "kept half of nothing" would be vacuous.
Real and generated prevalences come from the same judge, so its bias cancels in the ratio.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def attribute_prevalence(probabilities: torch.Tensor) -> torch.Tensor:
    """Mean probability per attribute over the images (float64 [K])."""
    return probabilities.double().mean(dim=0)


def attribute_metrics(
    sample_prevalence: torch.Tensor,
    real_prevalence: torch.Tensor,
    names: Sequence[str],
    rare: Sequence[str],
    kept_fraction: float,
) -> dict[str, float | int]:
    """`rare_attributes_kept` (rare attributes whose sample prevalence is at least
    `kept_fraction` of their real prevalence) and `attr_<Name>` per attribute."""
    index = [names.index(name) for name in rare]
    kept = sample_prevalence[index] >= kept_fraction * real_prevalence[index]
    result: dict[str, float | int] = {"rare_attributes_kept": int(kept.sum())}
    result.update(
        {f"attr_{name}": float(value) for name, value in zip(names, sample_prevalence, strict=True)}
    )
    return result
