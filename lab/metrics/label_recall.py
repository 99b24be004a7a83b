"""Recall per label: which parts of the real data the generated samples no longer reach.

Overall recall hides *which* real images are lost; grouping the real images by label (a digit's
class, later a face's attributes) and reading recall within each group shows it. Written over a
boolean label matrix, so one-label-per-image classes and many-labels-per-image attributes use
the same code and give the same shape of output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor


def label_matrix(labels: Tensor, count: int) -> Tensor:
    """Class indices [N] -> one-hot bool [N, count]; a bool or 0/1 matrix [N, count] as is."""
    if labels.dim() == 1:
        if labels.is_floating_point() or (len(labels) and int(labels.max()) >= count):
            raise ValueError(f"class labels must be integers in [0, {count}), got {labels[:5]}")
        return torch.nn.functional.one_hot(labels.long(), count).bool()
    if labels.dim() != 2 or labels.shape[1] != count:
        raise ValueError(f"a label matrix must be [N, {count}], got {tuple(labels.shape)}")
    return labels.bool()


def recall_per_label(real_inside: Tensor, labels: Tensor, names: Sequence[str]) -> dict[str, float]:
    """`recall_<name>`: the share of real images with that label inside some generated ball;
    `rare_class_recall`: the lowest of them (NaN for a label no real image carries)."""
    matrix = label_matrix(labels, len(names)).to(real_inside.device)
    carriers = matrix.sum(0)
    reached = (matrix & real_inside.bool().unsqueeze(1)).sum(0)
    recall = reached.double() / carriers.double()
    result = {
        f"recall_{name}": float(value) for name, value in zip(names, recall.tolist(), strict=True)
    }
    present = recall[carriers > 0]
    result["rare_class_recall"] = float(present.min()) if len(present) else math.nan
    return result
