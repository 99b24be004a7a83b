"""One generation's curation: the section's curators in turn over the draws, checked against
the contract (lab/curation/contract.py), and the provenance of what they kept."""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from lab.curation.contract import OFFERED, SELECT
from lab.curation.files import CLASS_ENTROPY_KEPT, CURATED_FRACTION, PROVENANCE_COLUMNS
from lab.curation.section import CurateConfig
from lab.errors import DataError, ModelContractError
from lab.generators.contract import declared_keywords
from lab.metrics.classes import class_shares, entropy_bits


@dataclass(frozen=True)
class Draws:
    """All of a generation's draws in draw order, and what curators score them by."""

    items: Tensor
    features: Tensor  # [M, D], on the CPU
    labels: Tensor | None = None  # int64 [M]: the judge's class of each draw
    confidence: Tensor | None = None  # float [M]: the judge's confidence in each draw

    def __len__(self) -> int:
        return len(self.items)

    def subset(self, index: Tensor) -> Draws:
        def part(value: Tensor | None) -> Tensor | None:
            return None if value is None else value[index]

        return replace(
            self,
            items=self.items[index],
            features=self.features[index],
            labels=part(self.labels),
            confidence=part(self.confidence),
        )


@dataclass(frozen=True)
class Reference:
    """What curators compare draws with: the real training set's features, and each class's
    share of the real data (None without classes)."""

    features: Tensor
    shares: Tensor | None = None


@dataclass(frozen=True)
class Kept:
    """The draws kept (indices into the draws, ascending), the curator and score of each."""

    indices: Tensor
    curator: str
    scores: Tensor

    def provenance_csv(self) -> bytes:
        """One row per kept item, in the curated file's order."""
        buffer = io.StringIO()
        buffer.write(",".join(PROVENANCE_COLUMNS) + "\n")
        for position, (draw, score) in enumerate(
            zip(self.indices.tolist(), self.scores.tolist(), strict=True)
        ):
            buffer.write(f"{position},{draw},{self.curator},{score:.6g}\n")
        return buffer.getvalue().encode()


def curate(
    section: CurateConfig,
    curators: list[tuple[str, Any]],
    draws: Draws,
    reference: Reference,
    keep: int,
    generator: torch.Generator,
    generation: int,
) -> Kept:
    """Run `curators` in turn (each over the draws the one before kept; only the last one is
    held to `keep`); a shortfall is a DataError sentence unless `allow_fewer`."""
    candidates = torch.arange(len(draws))
    scores = torch.full((len(draws),), float("nan"), dtype=torch.float64)
    for position, (name, curator) in enumerate(curators):
        last = position == len(curators) - 1
        limit = keep if last else len(candidates)
        current = draws.subset(candidates)
        values = (limit, current.confidence, reference.features, reference.shares)
        offered = dict(zip(OFFERED, values, strict=True))
        picked, picked_scores = _select(
            name, curator, current, offered, limit, generator, generation
        )
        candidates, scores = candidates[picked], picked_scores
    order = torch.argsort(candidates)
    candidates, scores = candidates[order], scores[order]
    names = "+".join(name for name, _ in curators)
    if len(candidates) < keep and not section.allow_fewer:
        raise DataError(
            f"generation {generation}'s curator {names} kept {len(candidates)} of its "
            f"{len(draws)} draws, fewer than the {keep} samples_per_generation; raise "
            "curate.oversample, loosen the curator, or set curate.allow_fewer: true"
        )
    return Kept(candidates, names, scores)


def kept_metrics(draws: Draws, kept: Kept, reference: Reference) -> dict[str, float]:
    """curated_fraction (kept / drawn) and, where the draws have class labels, the kept
    set's class entropy in bits (beside class_entropy, that of the first draws)."""
    metrics = {CURATED_FRACTION: len(kept.indices) / len(draws)}
    if draws.labels is not None and reference.shares is not None:
        shares = class_shares(draws.labels[kept.indices], len(reference.shares))
        metrics[CLASS_ENTROPY_KEPT] = entropy_bits(shares)
    return metrics


def _select(
    name: str,
    curator: Any,
    draws: Draws,
    offered: dict[str, Any],
    limit: int,
    generator: torch.Generator,
    generation: int,
) -> tuple[Tensor, Tensor]:
    """One curator's choice, checked: unique in-range indices, at most `limit` of them."""
    select = getattr(curator, SELECT)
    declared = declared_keywords(select)
    keywords = {key: value for key, value in offered.items() if key in declared}
    result = select(draws.items, draws.labels, draws.features, generator, **keywords)
    indices, scores = result if isinstance(result, tuple) else (result, None)
    indices = torch.as_tensor(indices)
    problem = None
    if indices.dim() != 1 or indices.dtype.is_floating_point or indices.dtype == torch.bool:
        problem = f"returned {indices.dtype} of shape {tuple(indices.shape)}, not indices"
    elif len(indices) > limit:
        problem = f"kept {len(indices)} draws, more than the {limit} asked"
    elif len(indices) and (indices.min() < 0 or indices.max() >= len(draws)):
        problem = f"returned an index outside the {len(draws)} draws"
    elif len(indices.unique()) != len(indices):
        problem = "returned a draw more than once"
    if problem:
        raise ModelContractError(
            f"curator {name}.select {problem} in generation {generation}; return at most "
            "`keep` distinct indices into items (docs/curation.md)",
            None,
        )
    indices = indices.long()
    if scores is None:
        scores = torch.full((len(indices),), float("nan"), dtype=torch.float64)
    return indices, torch.as_tensor(scores, dtype=torch.float64).reshape(-1)
