"""Verification (Feng et al. 2024, "Beyond Model Collapse"): keep the draws the judge is
surest of, the judge standing in for the verifier."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab.curation.section import CuratorArgumentError

if TYPE_CHECKING:
    from torch import Generator, Tensor


class JudgeConfidence:
    """Keeps the `keep` draws whose label the judge gives the highest probability (ties by
    draw order), or, with `min_confidence`, the first `keep` draws at or above it."""

    def __init__(self, min_confidence: float | None = None) -> None:
        if min_confidence is not None and not 0 < min_confidence <= 1:
            raise CuratorArgumentError(
                "min_confidence", f"is {min_confidence!r}; give a probability in (0, 1]"
            )
        self.min_confidence = min_confidence

    def select(
        self,
        items: Tensor,
        labels: Tensor | None,
        features: Tensor,
        generator: Generator,
        *,
        keep: int,
        confidence: Tensor,
    ) -> tuple[Tensor, Tensor]:
        import torch

        if self.min_confidence is None:
            chosen = torch.argsort(-confidence, stable=True)[:keep]
        else:  # compared in the judge's own precision, as the user reads its probabilities
            chosen = torch.nonzero(confidence >= self.min_confidence).flatten()[:keep]
        return chosen, confidence[chosen].double()
