"""Precision and recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al. 2020).

torchmetrics has none of these. Precision is the share of generated points inside some real
k-NN ball (are samples realistic?); recall the share of real points inside some generated ball
(is the real data's variety reproduced?). Density counts real balls around each sample (over k,
so about 1 when the sets match) and coverage is the share of real points whose ball holds at
least one sample; both are less fooled by outliers than precision and recall. The usual k
differ (3 for precision/recall, 5 for density/coverage); one pass over the distances serves
both. The distance work, and the conventions that match the `prdc` package, are in
lab/metrics/neighbours.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from copy import deepcopy
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from lab.metrics.label_recall import label_matrix, recall_per_label
from lab.metrics.neighbours import (
    DEFAULT_TILE,
    Points,
    ball_membership,
    knn_squared_radii,
    origin_of,
)
from lab.metrics.tails import sparsest, tail_and_bulk


class PrecisionRecallDensityCoverage(Metric):
    """`update(features, real)`, then `compute()` -> precision, recall, density, coverage.

    Features are kept (as float32) until `compute`, like torchmetrics' KID: every point's
    neighbours depend on every other point. States are lists reduced by concatenation, so
    under DDP each process computes on the gathered sets. With `label_names`, real updates
    carry labels (class indices or a bool matrix) and `compute` adds `recall_<name>` per
    label and `rare_class_recall`. With `reset_real_features=False`, `reset()` keeps the real
    set and its k-NN radii, so a loop that measures many generations against one real set
    computes the real radii once. With `tail_fraction`, `compute` adds recall and coverage
    of the sparsest real points and of the rest (lab/metrics/tails.py).
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(
        self,
        k: int = 3,
        k_density: int = 5,
        label_names: Sequence[str] | None = None,
        reset_real_features: bool = True,
        tile: tuple[int, int] = DEFAULT_TILE,
        tail_fraction: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (("k", k), ("k_density", k_density)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.k = k
        self.k_density = k_density
        self.label_names = tuple(label_names or ())
        self.reset_real_features = reset_real_features
        self.tile = tile
        self.tail_fraction = tail_fraction
        self.add_state("real_features", default=[], dist_reduce_fx="cat")
        self.add_state("real_labels", default=[], dist_reduce_fx="cat")
        self.add_state("fake_features", default=[], dist_reduce_fx="cat")
        self._real_cache: tuple[Points, dict[int, Tensor]] | None = None

    def update(self, features: Tensor, real: bool, labels: Tensor | None = None) -> None:
        if features.dim() != 2:
            raise ValueError(f"features must be [N, D], got {tuple(features.shape)}")
        features = features.detach().to(torch.float32)
        if not torch.isfinite(features).all():
            raise ValueError("features contain NaN or infinite values")
        if not real:
            self.fake_features.append(features)
            return
        if self.label_names:
            if labels is None:
                raise ValueError("label_names were given, so real updates need labels")
            self.real_labels.append(label_matrix(labels, len(self.label_names)).to(features.device))
        self.real_features.append(features)
        self._real_cache = None

    def reset(self) -> None:
        if self.reset_real_features:
            super().reset()
            self._real_cache = None
            return
        kept = deepcopy(self.real_features), deepcopy(self.real_labels)
        super().reset()
        self.real_features, self.real_labels = kept

    def compute(self) -> dict[str, Tensor]:
        real, radii = self._real_points()
        fake_features = dim_zero_cat(self.fake_features)
        fake = Points(fake_features, real.origin)
        if len(fake) <= self.k:
            raise ValueError(f"k={self.k} needs more than {self.k} generated points")
        fake_radius = knn_squared_radii(fake, [self.k], self.tile)[self.k]
        membership = ball_membership(
            real, fake, radii, fake_radius, self.k, self.k_density, self.tile
        )
        result = membership.summary()
        if self.label_names:
            labels = dim_zero_cat(self.real_labels)
            result.update(recall_per_label(membership.real_in_fake_ball, labels, self.label_names))
        if self.tail_fraction is not None:
            tail = sparsest(radii[self.k_density], self.tail_fraction)
            result.update(tail_and_bulk(membership, tail))
        return {name: torch.tensor(value, dtype=torch.float64) for name, value in result.items()}

    def _real_points(self) -> tuple[Points, dict[int, Tensor]]:
        """The real set and its radii for k and k_density, computed once per real set."""
        if self._real_cache is None:
            features = dim_zero_cat(self.real_features)
            real = Points(features, origin_of(features))
            radii = knn_squared_radii(real, sorted({self.k, self.k_density}), self.tile)
            self._real_cache = real, radii
        return self._real_cache
