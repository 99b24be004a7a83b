"""Beam search and the repetition penalty give what transformers' `generate(num_beams=N,
repetition_penalty=r)` gives: the Hugging Face model's `sample` (which calls it), the lab's
own beam search (models/decoding.py) run on the same tiny OPT, and the byte-level GPT's
cached beam search against the same search over its full forward pass."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from transformers import RepetitionPenaltyLogitsProcessor

from lab.domains.text.settings import BYTE_VALUES
from lab.generators.build import build_from_section
from models.decoding import beam_search, penalise, seen_tokens
from models.gpt import GPT
from models.hf_causal_lm import HFCausalLM
from models.sections.gpt import GPTConfig
from tests.hf_fixtures import VOCABULARY

PROMPT, LENGTH, PROMPTS = 6, 10, 5
# The tiny tokenizer's ids 0 and 1 are <pad> and </s>; prompts use the others.
FIRST_WORD = 2
SEARCHES = [(3, 1.0), (5, 3.0)]  # (beams, repetition_penalty); the paper's is (5, 3.0)


@pytest.fixture(scope="module")
def opt(tiny_opt) -> HFCausalLM:
    model = HFCausalLM(pretrained=str(tiny_opt), weight_decay=0.0, lr=1e-3, from_pretrained=True)
    return model.eval()


def _prompts(count: int, length: int, low: int, high: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(low, high, (count, length), generator=generator)


def _generate(opt: HFCausalLM, prompts: torch.Tensor, beams: int, penalty: float) -> torch.Tensor:
    """transformers' own beam search, as the Nature paper's code calls it."""
    with torch.inference_mode():
        written = opt.network.generate(
            prompts,
            attention_mask=torch.ones_like(prompts),
            num_beams=beams,
            do_sample=False,
            max_new_tokens=LENGTH,
            min_new_tokens=LENGTH,
            repetition_penalty=penalty,
        )
    return written[:, prompts.shape[1] :]


class _Recomputed:
    """A decoder without a cache: every step runs `network` over each whole row."""

    def __init__(self, logits_of: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.logits_of = logits_of  # rows [R, T] -> logits [R, T, V]

    def start(self, prompts: torch.Tensor) -> torch.Tensor:
        self.rows = prompts
        return self.logits_of(self.rows)[:, -1]

    def advance(self, tokens: torch.Tensor, order: torch.Tensor | None) -> torch.Tensor:
        rows = self.rows if order is None else self.rows[order]
        self.rows = torch.cat([rows, tokens.unsqueeze(1)], dim=1)
        return self.logits_of(self.rows)[:, -1]


@pytest.mark.parametrize(("beams", "penalty"), SEARCHES)
def test_the_models_sample_is_transformers_beam_search(opt, beams, penalty) -> None:
    prompts = _prompts(PROMPTS, PROMPT, FIRST_WORD, VOCABULARY, seed=1)
    drawn = opt.sample(
        prompts.to(torch.int32),
        LENGTH,
        torch.Generator().manual_seed(0),
        batch_size=2,  # three batches: batching does not change a prompt's beams
        beams=beams,
        repetition_penalty=penalty,
    )
    assert drawn.dtype == torch.int32 and drawn.shape == (PROMPTS, LENGTH)
    assert torch.equal(drawn.long(), _generate(opt, prompts, beams, penalty))


@pytest.mark.parametrize(("beams", "penalty"), SEARCHES)
def test_the_labs_beam_search_is_transformers_beam_search(opt, beams, penalty) -> None:
    prompts = _prompts(PROMPTS, PROMPT, FIRST_WORD, VOCABULARY, seed=2)
    decoder = _Recomputed(lambda rows: opt.network(rows).logits)
    with torch.inference_mode():
        ours = beam_search(decoder, prompts, LENGTH, beams, penalty)
    assert torch.equal(ours, _generate(opt, prompts, beams, penalty))


def test_beam_search_is_not_greedy_decoding(opt) -> None:
    """The comparison above can fail: more beams find other continuations."""
    prompts = _prompts(PROMPTS, PROMPT, FIRST_WORD, VOCABULARY, seed=2)
    assert not torch.equal(_generate(opt, prompts, 5, 3.0), _generate(opt, prompts, 1, 3.0))


def test_the_penalty_is_transformers_repetition_penalty() -> None:
    scores = torch.randn((4, 30), generator=torch.Generator().manual_seed(0))
    written = _prompts(4, 7, 0, 30, seed=3)
    expected = RepetitionPenaltyLogitsProcessor(2.5)(written, scores.clone())
    assert torch.allclose(penalise(scores, seen_tokens(written, 30), 2.5), expected)


@pytest.fixture(scope="module")
def gpt() -> GPT:
    torch.manual_seed(0)
    section = GPTConfig(layers=2, heads=2, width=16)
    model = build_from_section(section, sequence_length=24, vocabulary_size=BYTE_VALUES, lr=1e-3)
    return model.eval()


def test_the_gpts_cached_beam_search_is_the_search_over_its_full_forward_pass(gpt) -> None:
    """Within its context (6 + 10 bytes of 23), the key/value cache reordered by beam gives
    the search over the whole rows."""
    prompts = _prompts(PROMPTS, PROMPT, 0, BYTE_VALUES, seed=4).to(torch.uint8)
    drawn = gpt.sample(prompts, LENGTH, torch.Generator(), beams=4, repetition_penalty=1.5)
    with torch.inference_mode():
        full = beam_search(_Recomputed(gpt.network), prompts.long(), LENGTH, 4, 1.5)
    assert drawn.dtype == torch.uint8
    assert torch.equal(drawn.long(), full)


def test_the_gpts_beam_search_draws_nothing_and_slides_its_window(gpt) -> None:
    prompts = _prompts(3, PROMPT, 0, BYTE_VALUES, seed=5).to(torch.uint8)
    # 40 bytes past a 23-byte context: the window slides while the beams are reordered.
    first = gpt.sample(prompts, 40, torch.Generator().manual_seed(0), batch_size=2, beams=3)
    other = gpt.sample(prompts, 40, torch.Generator().manual_seed(1), beams=3)
    assert first.shape == (3, 40) and torch.equal(first, other)
