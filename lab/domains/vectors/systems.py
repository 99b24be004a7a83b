"""The two vector experiments as systems the vector domain steps through, one generation at
a time: how generation 0's training set is drawn, how a model is fitted and sampled, what a
generation's statistics are, what a block of generations stores and how a run resumes from it.

A system's training set is either running sufficient statistics (Gaussian chains) or a point
set (the mixture); both know how many of their points are real. The regime (lab/regimes.py)
decides whether the next training set is the samples alone or the samples merged in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import torch

from lab import regimes
from lab.curation.section import drawn_per_kept
from lab.domains.vectors import gaussian
from lab.domains.vectors.correction import corrected
from lab.domains.vectors.curation import (
    CURATED,
    KeptPoints,
    MixtureCuration,
    curated_arrays,
    points_by_generation,
    stacked_points,
)
from lab.domains.vectors.mixture import MixtureFit, fit_mixture, sample_mixture
from lab.domains.vectors.settings import (
    CorrectionConfig,
    GaussianConfig,
    GaussianData,
    MixtureConfig,
    MixtureData,
)
from lab.domains.vectors.statistics import (
    GAUSSIAN_COLUMNS,
    chain_log_variances,
    chain_statistics,
    mixture_statistics,
    real_chain_statistics,
    real_mixture_statistics,
)
from lab.errors import ConfigError
from lab.experiment import ExperimentConfig
from lab.memory import refuse_if_too_large
from lab.training.seeding import cpu_generator, derive_seed
from models.latents import draw_latents

FLOAT32_BYTES, FLOAT64_BYTES = 4, 8
# The role of a block's file of corrected points (corrected/gen_A-B.npz), and its column: how
# far the expert moved a point, on average.
CORRECTED, CORRECTION_SHIFT = "corrected", "correction_shift"
# (role, generation) -> the arrays of the stored block file of that role holding `generation`.
BlockLoader = Callable[[str, int], dict[str, np.ndarray]]


class VectorSystem(Protocol):
    # The roles of the files a block writes, e.g. ("fits", "samples"): RUN/<role>/gen_A-B.npz.
    roles: tuple[str, ...]

    def check_sizes(self) -> None: ...
    def reference(self) -> dict[str, float]: ...
    def real_training(self) -> Any: ...
    def fit(self, generation: int, training: Any, previous: Any) -> Any: ...
    def draw(self, generation: int, model: Any) -> Any: ...
    def passed_on(
        self, generation: int, model: Any, drawn: Any
    ) -> tuple[Any, Any, dict[str, float]]: ...
    def merge(self, training: Any, part: Any) -> Any: ...
    def statistics(self, model: Any) -> dict[str, float | None]: ...
    def block_arrays(
        self, generations: Sequence[int], models: list, drawn: list, passed: list, following: Any
    ) -> dict[str, dict[str, np.ndarray]]: ...
    def restore(self, first: int, load: BlockLoader) -> tuple[Any, Any]: ...


def build_system(config: ExperimentConfig) -> VectorSystem:
    if isinstance(config.data, GaussianData):
        return GaussianChains(config)
    return MixtureRefits(config)


class GaussianChains:
    """`model.chains` Gaussians refitted side by side to N samples of their own."""

    roles = ("fits",)

    def __init__(self, config: ExperimentConfig) -> None:
        self.config = config
        self.model: GaussianConfig = config.model
        self.data: GaussianData = config.data

    def check_sizes(self) -> None:
        needed = self.data.dim + 1
        if self.config.samples_per_generation < needed:
            raise ConfigError(
                f"key 'samples_per_generation' is {self.config.samples_per_generation}, but a "
                f"covariance in {self.data.dim} dimensions needs at least {needed} points to be "
                "fitted; raise it."
            )
        chains, count, dim = self.model.chains, self.config.samples_per_generation, self.data.dim
        # Each generation draws its points as float32 noise and sums them in float64.
        refuse_if_too_large(
            chains * count * dim * (FLOAT32_BYTES + FLOAT64_BYTES),
            f"model.chains x samples_per_generation x data.dim = {chains} x {count} x {dim} "
            "points drawn per generation",
            "lower one of them",
        )

    def reference(self) -> dict[str, float]:
        return real_chain_statistics()

    def real_training(self) -> gaussian.GaussianStats:
        shape = (self.model.chains, self.config.samples_per_generation, self.data.dim)
        points = draw_latents(shape, cpu_generator(derive_seed(self.config.seed, "real")))
        return gaussian.statistics_of(points.double(), real=True)

    def fit(
        self, generation: int, training: gaussian.GaussianStats, previous: object
    ) -> gaussian.GaussianFit:
        return gaussian.fit(training, self.model.estimator)

    def draw(self, generation: int, model: gaussian.GaussianFit) -> gaussian.GaussianStats:
        sampling = self.config.sampling
        try:
            return gaussian.sample_statistics(
                model,
                self.config.samples_per_generation,
                cpu_generator(derive_seed(self.config.seed, "samples", generation)),
                sampling.temperature,
                sampling.truncation,
            )
        except gaussian.OutOfRange as err:
            flow = "underflowed" if 0 <= err.variance < 1 else "overflowed"
            raise ConfigError(
                f"generation {generation}: {err}, so it has {flow} float64 and cannot be "
                f"sampled; {beyond_float64(self.config, generation)}"
            ) from None

    def passed_on(
        self, generation: int, model: gaussian.GaussianFit, drawn: gaussian.GaussianStats
    ) -> tuple[gaussian.GaussianStats, None, dict[str, float]]:
        """The chains pass on all they drew (their config refuses curation and correction)."""
        return drawn, None, {}

    def merge(
        self, training: gaussian.GaussianStats, part: gaussian.GaussianStats
    ) -> gaussian.GaussianStats:
        return training.merge(part)

    def statistics(self, model: gaussian.GaussianFit) -> dict[str, float | None]:
        values = chain_statistics(model, self.data.collapsed_fraction)
        return {name: values[name] for name in GAUSSIAN_COLUMNS}

    def block_arrays(
        self,
        generations: Sequence[int],
        models: list[gaussian.GaussianFit],
        drawn: list[gaussian.GaussianStats],
        passed: list[None],
        following: gaussian.GaussianStats,
    ) -> dict[str, dict[str, np.ndarray]]:
        """Per generation and chain, the fitted mean and log variance (float32: a record for
        plots); and, exactly, the training set of the generation after the block (to resume)."""
        fits = {
            "generations": np.array(generations, dtype=np.int64),
            "mean": torch.stack([m.mean for m in models]).float().numpy(),
            "log_variance": torch.stack([chain_log_variances(m) for m in models]).float().numpy(),
            "next_count": np.array(following.count, dtype=np.int64),
            "next_real": np.array(following.real, dtype=np.int64),
            "next_mean": following.mean.numpy(),
            "next_scatter": following.scatter.numpy(),
        }
        return {"fits": fits}

    def restore(self, first: int, load: BlockLoader) -> tuple[gaussian.GaussianStats, None]:
        stored = load("fits", first - 1)
        training = gaussian.GaussianStats(
            stored["next_count"].item(),  # .npz stores a scalar as a 1-element array
            stored["next_real"].item(),
            torch.from_numpy(stored["next_mean"]),
            torch.from_numpy(stored["next_scatter"]),
        )
        return training, None


@dataclass(frozen=True)
class PointSet:
    """A mixture's training set: points [n, dim] (float64), the first `real` of them real."""

    points: np.ndarray
    real: int

    @property
    def count(self) -> int:
        return len(self.points)

    @property
    def synthetic_fraction(self) -> float:
        return 1.0 - self.real / len(self.points)


@dataclass(frozen=True)
class Passed:
    """How a mixture generation chose what it passed on: what a curator kept, and the points
    after the expert moved them (None where the config asks for neither)."""

    kept: KeptPoints | None = None
    moved: np.ndarray | None = None


@dataclass(frozen=True)
class MixtureDraws:
    """A generation's draws: the samples_per_generation a run without curation draws, and
    with a `curate:` section the further ones, from the same stream after them."""

    samples: PointSet
    extra: np.ndarray | None = None

    @property
    def points(self) -> np.ndarray:
        return (
            self.samples.points
            if self.extra is None
            else np.concatenate([self.samples.points, self.extra])
        )


class MixtureRefits:
    """One Gaussian mixture refitted by EM to N samples of its own (or to all so far)."""

    def __init__(self, config: ExperimentConfig) -> None:
        self.config = config
        self.model: MixtureConfig = config.model
        self.data: MixtureData = config.data
        weights, means, covariances = self.data.arrays()
        self.real = MixtureFit(weights, means, covariances, 0)
        self.curation = None
        if config.curate is not None:
            self.curation = MixtureCuration(config, self.real, self.real_training().points)
        self.correction: CorrectionConfig | None = config.correct
        # What later generations are fitted to: the samples, what a curator kept of them, or
        # those after the expert's correction; each has its own block files.
        passing = [CURATED] if self.curation is not None else []
        passing += [CORRECTED] if self.correction is not None else []
        self.roles = ("fits", "samples", *passing)
        self.passed_role = self.roles[-1]

    @cached_property
    def heldout(self) -> np.ndarray:
        """Real points never trained on, drawn once they are needed (after check_sizes)."""
        generator = cpu_generator(derive_seed(self.config.seed, "heldout"))
        return sample_mixture(self.real, self.data.heldout, generator)

    def check_sizes(self) -> None:
        if self.config.samples_per_generation < self.model.components:
            raise ConfigError(
                f"key 'samples_per_generation' is {self.config.samples_per_generation}, fewer "
                f"than the {self.model.components} components EM fits (model.components); "
                "raise it."
            )
        samples, dim = self.config.samples_per_generation, self.data.dim
        kept = self.config.generations if regimes.keeps_earlier_data(self.config) else 1
        # The largest training set's points, and EM's responsibility of each component for each.
        refuse_if_too_large(
            samples * kept * (dim + self.model.components) * FLOAT64_BYTES,
            f"key 'samples_per_generation' is {samples}: the training set of {samples} x {kept} "
            f"points (regime {self.config.regime}) in {dim} dimensions",
            "lower it",
        )
        refuse_if_too_large(
            self.data.heldout * dim * FLOAT64_BYTES,
            f"key 'data.heldout' is {self.data.heldout}: the held-out points",
            "lower it",
        )

    def reference(self) -> dict[str, float]:
        return real_mixture_statistics(self.real, self.heldout)

    def real_training(self) -> PointSet:
        count = self.config.samples_per_generation
        generator = cpu_generator(derive_seed(self.config.seed, "real"))
        return PointSet(sample_mixture(self.real, count, generator), count)

    def fit(self, generation: int, training: PointSet, previous: MixtureFit | None) -> MixtureFit:
        seed = derive_seed(self.config.seed, "fit", generation)
        try:
            return fit_mixture(training.points, self.model, previous, seed, self.real.means)
        except ValueError:  # sklearn's refusal of a covariance that is no longer finite
            # Not a range problem unless the sum of squares over the points can overflow.
            largest = np.sqrt(np.finfo(np.float64).max / training.count)
            if np.abs(training.points).max() < largest:
                raise
            raise ConfigError(
                f"generation {generation}: EM cannot fit its training set, whose spread has "
                f"overflowed float64; {beyond_float64(self.config, generation)}"
            ) from None

    def draw(self, generation: int, model: MixtureFit) -> MixtureDraws:
        sampling = self.config.sampling
        generator = cpu_generator(derive_seed(self.config.seed, "samples", generation))
        count = self.config.samples_per_generation
        parts = [
            sample_mixture(model, size, generator, sampling.temperature, sampling.truncation)
            for size in (count, (drawn_per_kept(self.config.curate) - 1) * count)
            if size
        ]
        if not all(np.isfinite(points).all() for points in parts):
            raise ConfigError(
                f"generation {generation}: its samples have overflowed float64 and cannot be "
                f"fitted; {beyond_float64(self.config, generation)}"
            )
        return MixtureDraws(PointSet(parts[0], 0), parts[1] if len(parts) > 1 else None)

    def passed_on(
        self, generation: int, model: MixtureFit, drawn: MixtureDraws
    ) -> tuple[PointSet, Passed, dict[str, float]]:
        """(what the next training set takes of the draws, the record of how, its columns):
        the first draws, or what a curator kept of all of them; then, with a `correct:`
        section, those points moved by the expert (lab/domains/vectors/correction.py)."""
        points, kept, columns = drawn.samples.points, None, {}
        if self.curation is not None:
            kept, columns = self.curation(generation, drawn.points)
            points = kept.points
        moved = None
        if self.correction is not None:
            moved = corrected(points, model, self.real, self.correction.strength)
            shift = float(np.linalg.norm(moved - points, axis=1).mean())
            columns = {**columns, CORRECTION_SHIFT: shift}
            points = moved
        return PointSet(points, 0), Passed(kept, moved), columns

    def merge(self, training: PointSet, part: PointSet) -> PointSet:
        return PointSet(np.concatenate([training.points, part.points]), training.real)

    def statistics(self, model: MixtureFit) -> dict[str, float | None]:
        values = mixture_statistics(model, self.real, self.heldout)
        values["em_iterations"] = model.iterations
        return values

    def block_arrays(
        self,
        generations: Sequence[int],
        models: list[MixtureFit],
        drawn: list[MixtureDraws],
        passed: list[Passed],
        following: PointSet,
    ) -> dict[str, dict[str, np.ndarray]]:
        """Every generation's fit and samples (float64, exact: the samples, or what a curator
        kept of the draws, are the training sets a resumed run rebuilds, under either
        regime)."""
        fits = {
            "generations": np.array(generations, dtype=np.int64),
            "weights": np.stack([m.weights for m in models]),
            "means": np.stack([m.means for m in models]),
            "covariances": np.stack([m.covariances for m in models]),
            "iterations": np.array([m.iterations for m in models], dtype=np.int64),
        }
        samples = {
            "generations": fits["generations"],
            "samples": np.stack([part.samples.points for part in drawn]),
        }
        arrays = {"fits": fits, "samples": samples}
        if self.curation is not None:
            arrays[CURATED] = curated_arrays(generations, [part.kept for part in passed])
        if self.correction is not None:
            arrays[CORRECTED] = stacked_points(generations, [part.moved for part in passed])
        return arrays

    def restore(self, first: int, load: BlockLoader) -> tuple[PointSet, MixtureFit]:
        last = first - 1
        fits = load("fits", last)
        index = int(np.flatnonzero(fits["generations"] == last)[0])
        previous = MixtureFit(
            fits["weights"][index],
            fits["means"][index],
            fits["covariances"][index],
            int(fits["iterations"][index]),
        )
        if not regimes.keeps_earlier_data(self.config):
            return PointSet(self._passed_in_block(load, last)[last], 0), previous
        parts = [self.real_training().points]
        generation = 0
        while generation <= last:
            block = self._passed_in_block(load, generation)
            parts += [points for number, points in block.items() if number <= last]
            generation = max(block) + 1
        return PointSet(np.concatenate(parts), self.config.samples_per_generation), previous

    def _passed_in_block(self, load: BlockLoader, generation: int) -> dict[int, np.ndarray]:
        """generation -> the points it passed on, for the stored block holding `generation`."""
        stored = load(self.passed_role, generation)
        if self.passed_role != "samples":
            return points_by_generation(stored)
        return dict(zip(map(int, stored["generations"]), stored["samples"], strict=True))


def beyond_float64(config: ExperimentConfig, generation: int) -> str:
    """How to keep a run whose spread leaves float64's range inside it."""
    fix = f"run at most {generation} generations"
    temperature = config.sampling.temperature
    if temperature != 1.0:
        fix += (
            f", or bring sampling.temperature ({temperature:g}) closer to 1 (each generation "
            "scales the variance by its square)"
        )
    return fix + "."
