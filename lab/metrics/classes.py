"""Class coverage from a judge's labels: which classes the samples still contain.

Collapse first shows as rare classes thinning out, long before FID says much; the share
of each class, how many keep a fair share, and the entropy of the label distribution make
that visible per generation.
"""

from __future__ import annotations

import torch


def class_shares(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Fraction of labels per class (float64 [num_classes])."""
    counts = torch.bincount(labels.cpu(), minlength=num_classes).double()
    return counts / counts.sum()


def entropy_bits(shares: torch.Tensor) -> float:
    """The entropy in bits of a distribution over classes (shares summing to 1)."""
    nonzero = shares[shares > 0]
    return float(-(nonzero * nonzero.log2()).sum()) + 0.0  # + 0.0 turns -0.0 into 0.0


def class_metrics(
    sample_labels: torch.Tensor,
    real_shares: torch.Tensor,
    covered_share_fraction: float,
) -> dict[str, float | int]:
    """`class_entropy` (bits; uniform over 10 classes is log2(10) = 3.32), `classes_covered`
    (classes of the real data whose sample share is at least `covered_share_fraction` of
    their real share; a class the real data lacks is not one the samples can cover), and
    `share_<c>` per class."""
    shares = class_shares(sample_labels, len(real_shares))
    entropy = entropy_bits(shares)
    kept = shares >= covered_share_fraction * real_shares
    covered = int((kept & (real_shares > 0)).sum())
    result: dict[str, float | int] = {"class_entropy": entropy, "classes_covered": covered}
    result.update({f"share_{c}": float(share) for c, share in enumerate(shares)})
    return result
