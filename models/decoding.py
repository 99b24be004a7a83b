"""How the lab's language models pick their next token: by a uniform number drawn from the
caller's generator (sampling), or by beam search, with a repetition penalty either way.

Sampling takes the first token whose cumulative probability under softmax(scores /
temperature) exceeds the row's uniform number: one number per token, drawn on the CPU before
anything runs, so the draws do not depend on the batch size or the device.

Beam search (the byte-level GPT's; the Hugging Face models use `generate`) has the
semantics of `generate(num_beams=N, repetition_penalty=r, min_new_tokens=length,
max_new_tokens=length)`, which the Nature paper's code calls and tests/test_decoding.py
compares against:

- the penalty (Keskar et al. 2019, as `RepetitionPenaltyLogitsProcessor`): the score of every
  token already in the row (prompt included) is multiplied by r where negative, divided by
  r where positive; in beam search it applies to the log-probabilities;
- each step, every beam's running sum of log-probabilities plus each next token's; the N
  best (beam, token) pairs over all beams of a prompt, in descending order, are the next
  beams; the first step starts from one beam (the others at -1e9);
- there is no end-of-text token among bytes, so every beam has the same length and the best
  is the highest sum.
Nothing is random, so a redone generation writes the same text.
"""

from __future__ import annotations

from typing import Protocol

import torch

# HF's start: every beam but the first is this unlikely, so the first step expands one beam.
UNREACHED = -1e9


class Decoder(Protocol):
    """A language model's incremental decoding over a batch of rows, with its cache."""

    def start(self, prompts: torch.Tensor) -> torch.Tensor:
        """Prompts [R, P] (token ids) -> logits [R, V] of the token after each."""

    def advance(self, tokens: torch.Tensor, order: torch.Tensor | None) -> torch.Tensor:
        """Reorder the rows (and their cache) by `order` [R] (None: keep them), append
        `tokens` [R]; logits [R, V] of the token after each."""


def penalise(scores: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """`scores` [R, V] with those of tokens `seen` [R, V] (bool) made less likely: negative
    ones times `penalty`, positive ones divided by it (1.0: unchanged)."""
    if penalty == 1.0:
        return scores
    penalised = torch.where(scores < 0, scores * penalty, scores / penalty)
    return torch.where(seen, penalised, scores)


def seen_tokens(prompts: torch.Tensor, vocabulary: int) -> torch.Tensor:
    """bool [R, V]: which tokens each row of `prompts` [R, P] holds."""
    seen = torch.zeros((len(prompts), vocabulary), dtype=torch.bool, device=prompts.device)
    return seen.scatter_(1, prompts.long(), True)


def draw(scores: torch.Tensor, uniforms: torch.Tensor, temperature: float) -> torch.Tensor:
    """The next token of each row [R] by inverse-CDF sampling from softmax(scores [R, V] /
    temperature): the first token whose cumulative probability exceeds the row's uniform."""
    cumulative = torch.softmax(scores.float() / temperature, dim=-1).cumsum(dim=-1)
    targets = (uniforms.to(cumulative.dtype) * cumulative[:, -1]).unsqueeze(1)
    last = scores.shape[-1] - 1
    return torch.searchsorted(cumulative, targets, right=True).squeeze(1).clamp_(max=last)


def beam_search(
    decoder: Decoder, prompts: torch.Tensor, length: int, beams: int, repetition_penalty: float
) -> torch.Tensor:
    """The best of `beams` beams continuing each prompt [n, P] by `length` tokens: [n, length]."""
    count = len(prompts)
    rows = prompts.long().repeat_interleave(beams, dim=0)
    logits = decoder.start(rows)
    vocabulary = logits.shape[-1]
    seen = seen_tokens(rows, vocabulary)
    scores = torch.zeros((count, beams), dtype=torch.float32, device=rows.device)
    scores[:, 1:] = UNREACHED
    written = rows.new_empty((count * beams, 0))
    first_row = torch.arange(count, device=rows.device).unsqueeze(1) * beams
    for step in range(length):
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        log_probs = penalise(log_probs, seen, repetition_penalty)
        totals = (scores.view(-1, 1) + log_probs).view(count, beams * vocabulary)
        scores, chosen = totals.topk(beams, dim=1)
        order = (first_row + chosen // vocabulary).view(-1)
        tokens = (chosen % vocabulary).view(-1)
        written = torch.cat([written[order], tokens.unsqueeze(1)], dim=1)
        seen = seen[order].scatter_(1, tokens.unsqueeze(1), True)
        if step + 1 < length:
            logits = decoder.advance(tokens, order)
    return written.view(count, beams, length)[:, 0]
