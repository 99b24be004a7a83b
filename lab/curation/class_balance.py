"""Class balance: keep draws so the judge's label shares match the real shares, as far as
the draws allow; the obvious cure for the rare classes a collapsing loop loses first. A
class the model no longer draws cannot be brought back: its share goes to the others."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Generator, Tensor


class ClassBalance:
    """Keeps the first draws of each class (in draw order) up to its real share of `keep`;
    slots a class cannot fill go to the classes with draws to spare, again by real share."""

    def select(
        self,
        items: Tensor,
        labels: Tensor,
        features: Tensor,
        generator: Generator,
        *,
        keep: int,
        real_shares: Tensor,
    ) -> tuple[Tensor, Tensor]:
        import torch

        shares = real_shares.double()
        by_class = [torch.nonzero(labels == c).flatten() for c in range(len(shares))]
        taken = torch.zeros(len(shares), dtype=torch.int64)
        available = torch.tensor([len(found) for found in by_class])
        while int(taken.sum()) < keep:
            open_classes = (taken < available) & (shares > 0)
            if not open_classes.any():
                break
            extra = quotas(keep - int(taken.sum()), torch.where(open_classes, shares, 0.0))
            taken = torch.minimum(taken + extra, available)
        chosen = torch.cat(
            [found[:count] for found, count in zip(by_class, taken.tolist(), strict=True)]
        )
        chosen = chosen.sort().values
        return chosen, shares[labels[chosen]]


def quotas(total: int, weights: Tensor) -> Tensor:
    """int64 counts summing to `total`, proportional to `weights` (largest remainders, ties to
    the lower class); at least one more for some class whenever total > 0."""
    import torch

    exact = total * weights / weights.sum()
    counts = exact.floor().long()
    remainder = total - int(counts.sum())
    order = torch.argsort(-(exact - counts), stable=True)
    counts[order[:remainder]] += 1
    return counts
