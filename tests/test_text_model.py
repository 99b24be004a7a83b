"""The byte-level GPT and the perplexities measured with it: cached sampling computes what
the full forward pass does, samples are reproducible, and both perplexities equal exp of
the mean byte cross-entropy computed here."""

from __future__ import annotations

import math

import pytest
import torch

from lab.device import plan_device
from lab.domains.text.perplexity import sequence_perplexities, text_perplexity
from lab.domains.text.settings import BYTE_VALUES
from lab.errors import ConfigError
from lab.generators.build import build_from_section
from models.gpt import GPT, LayerCache, Schedule
from models.sections.gpt import GPTConfig

LENGTH = 24


@pytest.fixture(scope="module")
def model() -> GPT:
    torch.manual_seed(0)
    config = GPTConfig(layers=2, heads=2, width=16)
    model = build_from_section(config, sequence_length=LENGTH, vocabulary_size=BYTE_VALUES, lr=1e-3)
    return model.eval()


def _bytes(rows: int, length: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, BYTE_VALUES, (rows, length), generator=generator, dtype=torch.uint8)


def test_decoding_with_the_cache_gives_the_full_forward_passs_logits(model) -> None:
    tokens = _bytes(3, LENGTH - 1, 1).long()
    with torch.inference_mode():
        full = model.network(tokens)
        caches = [LayerCache() for _ in model.network.blocks]
        first = model.network.decode(tokens[:, :5], caches, 0)
        steps = [model.network.decode(tokens[:, t : t + 1], caches, t) for t in range(5, 23)]
    cached = torch.cat([first, *steps], dim=1)
    assert torch.allclose(cached, full, atol=1e-5)


def test_samples_are_reproducible_and_depend_on_the_noise(model) -> None:
    prompts = _bytes(5, 10, 2)
    # 40 bytes from a 23-byte context: the window slides twice.
    first = model.sample(prompts, 40, torch.Generator().manual_seed(3), batch_size=2)
    again = model.sample(prompts, 40, torch.Generator().manual_seed(3), batch_size=2)
    other = model.sample(prompts, 40, torch.Generator().manual_seed(4), batch_size=2)
    assert first.dtype == torch.uint8 and first.shape == (5, 40)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_a_cold_temperature_picks_the_most_likely_byte(model) -> None:
    prompts = _bytes(4, 10, 5)
    cold = model.sample(prompts, 1, torch.Generator().manual_seed(0), temperature=1e-4)
    with torch.inference_mode():
        likeliest = model.network(prompts.long())[:, -1].argmax(dim=-1)
    assert torch.equal(cold[:, 0].long(), likeliest)


def _cross_entropies(model: GPT, sequences: torch.Tensor) -> torch.Tensor:
    """-log p(byte t + 1 | bytes 0..t), computed here from the logits, [N, L - 1]."""
    with torch.inference_mode():
        logits = model.network(sequences[:, :-1].long()).double()
    log_probs = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    return -log_probs.gather(2, sequences[:, 1:].long().unsqueeze(2)).squeeze(2)


def test_perplexity_is_exp_of_the_mean_byte_cross_entropy(model) -> None:
    sequences = _bytes(7, LENGTH, 6)
    plan = plan_device("cpu", "32-true", True)
    losses = _cross_entropies(model, sequences)
    assert text_perplexity(model, sequences, plan, batch_size=3) == pytest.approx(
        math.exp(float(losses.mean())), rel=1e-9
    )
    each = sequence_perplexities(model, sequences, plan, batch_size=3)
    assert torch.allclose(each, losses.mean(dim=1).exp(), rtol=1e-9)
    # An untrained model is close to uniform over the 256 byte values: 256.6 here (model seed
    # 0, bytes seed 6), 56.6 above 200 and 63.4 below 320.
    assert 200 < float(each.mean()) < 320


def test_the_width_must_split_into_heads(write_config) -> None:
    from lab.config import load_config

    changes = {
        "data": {"name": "pydoc"},
        "model": {"kind": "gpt", "width": 30, "heads": 4},
        "train": {"max_steps": 3, "batch_size": 8},
    }
    with pytest.raises(ConfigError, match=r"'model.width' is 30, not a multiple of model.heads 4"):
        load_config(write_config(changes))


def test_the_cosine_schedule_warms_up_then_falls_to_its_final_fraction() -> None:
    from models.gpt import _lr_factor

    schedule = Schedule("cosine", warmup_steps=10, final_lr_fraction=0.1)
    factors = [_lr_factor(step, schedule, total=110) for step in range(110)]
    assert factors[:10] == pytest.approx([(s + 1) / 10 for s in range(10)])
    assert factors[10] == pytest.approx(1.0)
    assert factors[60] == pytest.approx(0.55)  # half way down the half cosine
    assert factors[109] == pytest.approx(0.1, abs=1e-3)
    assert all(a >= b for a, b in zip(factors[10:], factors[11:], strict=False))
    constant = Schedule("constant", warmup_steps=10, final_lr_fraction=0.1)
    assert _lr_factor(5, constant, 110) == 0.6 and _lr_factor(50, constant, 110) == 1.0
