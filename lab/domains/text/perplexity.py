"""How surprised a language model is by text: perplexity per byte, exp of the mean cross
entropy of each byte given the bytes before it in its sequence (the first byte of a sequence
is given, not predicted).

Over a whole text it is torchmetrics' `Perplexity` (corpus-level: every predicted byte
counts once); per sequence it is the same quantity for each sequence on its own, which is
what the Nature paper's histograms of generated text show.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F
from torchmetrics.text import Perplexity

from lab.device import DevicePlan


def text_perplexity(
    model: torch.nn.Module, sequences: torch.Tensor, plan: DevicePlan, batch_size: int
) -> float:
    """The perplexity of `sequences` (uint8 [N, L]) as one text under `model`."""
    metric = Perplexity().to(plan.device).set_dtype(torch.float64)
    with plan.inference():
        for chunk in sequences.split(batch_size):
            chunk = plan.place(chunk)
            metric.update(model.next_byte_logits(chunk).double(), chunk[:, 1:].long())
    return float(metric.compute())


def sequence_perplexities(
    model: torch.nn.Module, sequences: torch.Tensor, plan: DevicePlan, batch_size: int
) -> torch.Tensor:
    """The perplexity of each of `sequences` (uint8 [N, L]) on its own: float64 [N], CPU."""
    parts = []
    with plan.inference():
        for chunk in sequences.split(batch_size):
            chunk = plan.place(chunk)
            logits = model.next_byte_logits(chunk).double()
            losses = F.cross_entropy(logits.transpose(1, 2), chunk[:, 1:].long(), reduction="none")
            parts.append(losses.mean(dim=1).exp().cpu())
    return torch.cat(parts)
