"""The only place that decides what generation g trains on, and where each item came from.

An item is one row of a tensor indexed along its first dimension: an image [C, H, W] or a
sequence of tokens [L]; nothing here looks past that first dimension.

Generation 0 trains on the whole real training set in every regime, so regimes compared on
the same seed share it exactly. After that (`regime` in the config):

  replace     only generation g-1's samples: the fully synthetic loop of Shumailov et al.
              (Nature 2024) and of MAD (Alemohammad et al., ICLR 2024).
  accumulate  the real training set plus the samples of every earlier generation
              (Gerstgrasser et al. 2024); the set grows by one generation's samples each time.
  fresh       `samples_per_generation` items, a fraction of them real, the rest the first
              samples of generation g-1 (samples are i.i.d., so the first k are a random k):
              - `regime_options.fresh_fraction`: real items not shown in the previous
                generations g >= 1, taken in consecutive blocks of one fixed permutation of
                the real set (MAD's fresh-data loop); the blocks wrap around once the real
                set is used up, and all real items were seen by generation 0;
              - `regime_options.real_fraction`: the same fixed real subset every generation
                (the Nature paper's "10% of the original data preserved").
  augment     the whole real training set plus the first round(synthetic_ratio x its size)
              samples of generation g-1 (`regime_options.synthetic_ratio`): MAD's synthetic
              augmentation loop, Bertrand et al.'s lambda; the ratio may not ask for more
              samples than a generation draws.
  accumulate_subsample
              `samples_per_generation` items drawn without replacement from the real
              training set and every earlier generation's samples together (Kazdan et al.
              2024): accumulate's data at replace's size. The draw is seeded from (seed,
              generation), and the items keep their sources' order (real first, then
              generation 0, 1, ...).

The vector fits (lab/domains/vectors/) build their training sets one generation from the
last, as running sufficient statistics or a growing point set, never from stored files:
`keeps_earlier_data` says which of the two recursions the regime is. They support replace
and accumulate (`fresh` needs a real set to draw blocks from, which they do not keep).

Provenance: every training item carries (source generation, index), with generation -1 for
real data (index into the real training set). Nothing is copied on disk: a training set
references the samples files of the generations it draws from. Items may come with a class
each (the real labels, and the classes a class-conditional model drew its samples for): they
travel with their items through every regime, so the next generation trains on them.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch

from lab.experiment import ExperimentConfig
from lab.training.seeding import derive_seed

REAL = -1


class Items(NamedTuple):
    """Items (one per row) and, where there are any, the class of each (int64 [N])."""

    items: torch.Tensor
    classes: torch.Tensor | None = None


@dataclass(frozen=True)
class TrainingSet:
    """The items (images, token sequences) and, per item, the generation it came from (REAL
    for real data) and its index within that generation's samples (or the real training set);
    the class of each item when every source has classes, else None."""

    items: torch.Tensor
    source_generation: torch.Tensor
    source_index: torch.Tensor
    classes: torch.Tensor | None = None

    def composition(self) -> dict[str, int]:
        """How many items came from each source: {"real": n, "gen_0": n, ...}."""
        sources, counts = torch.unique(self.source_generation, return_counts=True)
        return {_source_name(int(s)): int(c) for s, c in zip(sources, counts, strict=True)}

    @property
    def synthetic_fraction(self) -> float:
        return float((self.source_generation != REAL).double().mean())

    def provenance_csv(self) -> bytes:
        """One row per training item, in training-set order: `real:<i>` or `gen:<k>:<i>`."""
        buffer = io.StringIO()
        buffer.write("position,source\n")
        generations = self.source_generation.tolist()
        indices = self.source_index.tolist()
        for position, (generation, index) in enumerate(zip(generations, indices, strict=True)):
            source = f"real:{index}" if generation == REAL else f"gen:{generation}:{index}"
            buffer.write(f"{position},{source}\n")
        return buffer.getvalue().encode()


Source = torch.Tensor | Items


def training_set(
    config: ExperimentConfig,
    generation: int,
    real_train: Source,
    samples_of: Callable[[int], Source],
) -> TrainingSet:
    """What generation `generation` trains on, from the real training items and
    `samples_of(k)`, generation k's stored samples (only called for k < generation); each a
    tensor of items, or Items with their classes."""
    real_items = _items(real_train)

    def read(k: int) -> Items:
        return _items(samples_of(k))

    real = _first(real_items, REAL, len(real_items.items))
    if generation == 0:
        return real
    if config.regime == "replace":
        return _previous(read, generation, config.samples_per_generation)
    if config.regime == "accumulate":
        earlier = [_previous(read, k + 1, config.samples_per_generation) for k in range(generation)]
        return _concat([real, *earlier])
    if config.regime == "augment":
        count = synthetic_items_per_generation(config, len(real_items.items))
        return _concat([real, _previous(read, generation, count)])
    if config.regime == "accumulate_subsample":
        return _subsample(config, generation, real_items, read)
    return _fresh(config, generation, real_items, read)


def synthetic_items_per_generation(config: ExperimentConfig, real_size: int) -> int:
    """How many of generation g-1's samples an `augment` generation g >= 1 adds to the real
    set of `real_size` items (0 for other regimes)."""
    ratio = config.regime_options.synthetic_ratio
    if config.regime != "augment" or ratio is None:
        return 0
    return round(ratio * real_size)


def largest_training_set(config: ExperimentConfig, real_size: int) -> int:
    """The most items any generation of the run trains on, for the memory check."""
    samples = config.samples_per_generation
    if config.regime == "accumulate":
        return real_size + (config.generations - 1) * samples
    if config.regime == "augment":
        return real_size + synthetic_items_per_generation(config, real_size)
    return max(real_size, samples)


def size_problem(config: ExperimentConfig, real_size: int, items: str) -> str | None:
    """Why the regime cannot build its training sets from `real_size` real items (None if
    it can), in a sentence naming the key; `items` says what one item is ("images")."""
    needed = synthetic_items_per_generation(config, real_size)
    if needed > config.samples_per_generation:
        return (
            f"key 'regime_options.synthetic_ratio' is {config.regime_options.synthetic_ratio}, "
            f"which asks for {needed} of generation g-1's samples per generation ({real_size} "
            f"real training {items} times the ratio), more than the "
            f"{config.samples_per_generation} a generation draws (samples_per_generation); "
            "lower the ratio or raise samples_per_generation"
        )
    return None


def keeps_earlier_data(config: ExperimentConfig) -> bool:
    """For a training set built from the previous generation's: whether generation g's is
    generation g-1's plus g-1's samples (accumulate: by induction the real set and every
    earlier generation's samples) or g-1's samples alone (replace)."""
    if config.regime not in ("replace", "accumulate"):
        raise ValueError(f"regime {config.regime!r} is not built incrementally")
    return config.regime == "accumulate"


def real_items_per_generation(config: ExperimentConfig) -> int:
    """How many real items a `fresh` generation g >= 1 holds (0 for other regimes)."""
    options = config.regime_options
    fraction = (
        options.fresh_fraction if options.fresh_fraction is not None else options.real_fraction
    )
    if config.regime != "fresh" or fraction is None:
        return 0
    return round(fraction * config.samples_per_generation)


def _fresh(
    config: ExperimentConfig,
    generation: int,
    real_train: Items,
    samples_of: Callable[[int], Items],
) -> TrainingSet:
    count = real_items_per_generation(config)
    size = len(real_train.items)
    order = torch.randperm(
        size, generator=torch.Generator().manual_seed(derive_seed(config.seed, "real"))
    )
    if config.regime_options.fresh_fraction is not None:
        start = (generation - 1) * count
        chosen = order[(start + torch.arange(count)) % size]
    else:
        chosen = order[:count]
    real = _part(real_train, REAL, chosen)
    synthetic = _previous(samples_of, generation, config.samples_per_generation - count)
    return _concat([real, synthetic])


def _subsample(
    config: ExperimentConfig,
    generation: int,
    real_train: Items,
    samples_of: Callable[[int], Items],
) -> TrainingSet:
    """`samples_per_generation` items of the real set and every earlier generation's samples
    together, drawn without replacement; each generation's samples file is read once, in turn."""
    size, samples = len(real_train.items), config.samples_per_generation
    pool = size + generation * samples
    seeded = torch.Generator().manual_seed(derive_seed(config.seed, "subsample", generation))
    chosen = torch.randperm(pool, generator=seeded)[:samples].sort().values
    parts = [_part(real_train, REAL, chosen[chosen < size])]
    for k in range(generation):
        start = size + k * samples
        mine = chosen[(chosen >= start) & (chosen < start + samples)] - start
        if len(mine):
            parts.append(_part(samples_of(k), k, mine))
    return _concat(parts)


def _previous(samples_of: Callable[[int], Items], generation: int, count: int) -> TrainingSet:
    """The first `count` samples of generation `generation - 1`."""
    return _first(samples_of(generation - 1), generation - 1, count)


def _items(source: Source) -> Items:
    return source if isinstance(source, Items) else Items(source)


def _first(source: Items, generation: int, count: int) -> TrainingSet:
    """The first `count` items of `source` (all of them, if fewer), all from `generation`:
    views, not copies, so the whole real set costs no memory twice."""
    items = source.items[:count]
    classes = source.classes[:count] if source.classes is not None else None
    generations = torch.full((len(items),), generation, dtype=torch.int64)
    return TrainingSet(items, generations, torch.arange(len(items)), classes)


def _part(source: Items, generation: int, index: torch.Tensor) -> TrainingSet:
    """The items of `source` at `index`, all from `generation`."""
    index = index.long()
    classes = source.classes[index] if source.classes is not None else None
    generations = torch.full((len(index),), generation, dtype=torch.int64)
    return TrainingSet(source.items[index], generations, index, classes)


def _concat(parts: list[TrainingSet]) -> TrainingSet:
    classes = [p.classes for p in parts]
    return TrainingSet(
        torch.cat([p.items for p in parts]),
        torch.cat([p.source_generation for p in parts]),
        torch.cat([p.source_index for p in parts]),
        None if any(c is None for c in classes) else torch.cat(classes),
    )


def _source_name(generation: int) -> str:
    return "real" if generation == REAL else f"gen_{generation}"
