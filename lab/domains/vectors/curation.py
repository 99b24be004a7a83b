"""Curation of the Gaussian mixture's draws (a `curate:` section, docs/curation.md).

The points are their own features, and the judge is exact: the real mixture's posterior
says which mode each draw belongs to (its label) and how surely (its confidence); each
mode's real weight is its real share. A block stores, per generation, the kept points in
draw order with which draw each was and its curator's score (curated/gen_A-B.npz), which is
also what a resumed run rebuilds later training sets from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lab.curation.contract import build_curators
from lab.curation.run import Draws, Kept, Reference, curate, kept_metrics
from lab.domains.vectors.mixture import MixtureFit
from lab.domains.vectors.statistics import component_posteriors
from lab.errors import DataError
from lab.experiment import ExperimentConfig
from lab.rundir import faults
from lab.training.seeding import cpu_generator, derive_seed

# The role of a block's curation file (curated/gen_A-B.npz).
CURATED = "curated"


@dataclass(frozen=True)
class KeptPoints:
    """What a curator kept of one generation's draws."""

    points: np.ndarray  # float64 [kept, dim], in draw order
    kept: Kept


class MixtureCuration:
    """Chooses, each generation, which of the mixture's draws the next generation fits."""

    def __init__(self, config: ExperimentConfig, real: MixtureFit, real_points: np.ndarray) -> None:
        self.config = config
        self.curators = build_curators(config.curate)
        self.real = real
        self.reference = Reference(torch.from_numpy(real_points), torch.from_numpy(real.weights))

    def __call__(self, generation: int, points: np.ndarray) -> tuple[KeptPoints, dict[str, float]]:
        """The kept points of a generation's draws (all of them, the first
        samples_per_generation first) and its curation columns."""
        posteriors = component_posteriors(self.real, points)
        draws = Draws(
            torch.from_numpy(points),
            torch.from_numpy(points),
            torch.from_numpy(posteriors.argmax(axis=1)),
            torch.from_numpy(posteriors.max(axis=1)),
        )
        kept = curate(
            self.config.curate,
            self.curators,
            draws,
            self.reference,
            self.config.samples_per_generation,
            cpu_generator(derive_seed(self.config.seed, "curate", generation)),
            generation,
        )
        components = self.config.model.components
        if len(kept.indices) < components:
            raise DataError(
                f"generation {generation}'s curator {kept.curator} kept {len(kept.indices)} "
                f"points, fewer than the {components} components EM fits (model.components); "
                "raise curate.oversample or loosen the curator"
            )
        faults.reached(f"curated:{generation}")
        columns = kept_metrics(draws, kept, self.reference)
        return KeptPoints(points[kept.indices.numpy()], kept), columns


def stacked_points(
    generations: Sequence[int], parts: Sequence[np.ndarray]
) -> dict[str, np.ndarray]:
    """Every generation's points one after another, `kept_counts` saying how many each: a
    block file of what its generations passed on (which may differ in number)."""
    return {
        "generations": np.array(generations, dtype=np.int64),
        "kept_counts": np.array([len(part) for part in parts], dtype=np.int64),
        "points": np.concatenate(parts),
    }


def curated_arrays(generations: Sequence[int], kept: Sequence[KeptPoints]) -> dict[str, np.ndarray]:
    """A block's curation file: every generation's kept points (stacked_points), which draw
    each was, its score and the curator."""
    return {
        **stacked_points(generations, [part.points for part in kept]),
        "draws": np.concatenate([part.kept.indices.numpy() for part in kept]),
        "scores": np.concatenate([part.kept.scores.numpy() for part in kept]),
        "curators": np.array([part.kept.curator for part in kept], dtype=np.str_),
    }


def points_by_generation(stored: dict[str, np.ndarray]) -> dict[int, np.ndarray]:
    """generation -> its points, from a block file of stacked_points."""
    bounds = np.cumsum(stored["kept_counts"])[:-1]
    parts = np.split(stored["points"], bounds)
    return {int(g): part for g, part in zip(stored["generations"], parts, strict=True)}
