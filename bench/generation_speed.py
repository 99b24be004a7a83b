"""Sampling speed of the generators whose sampling is the cost of a generation: a diffusion
model at its experiment's DDIM steps and guidance, and beam search (the Nature paper's
decoding) for the lab's GPT and for an OPT-125m-shaped Hugging Face model.

Each model is built from its experiment file (untrained: the weights do not change the
speed), so the numbers are those of the configured network and sampling knobs; the OPT is
transformers' OPTConfig() defaults (OPT-125m's architecture), randomly initialised, since
no machine here has the hub. Items per second of `model.sample` as the loop calls it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lab.config import load_config
from lab.device import DevicePlan
from lab.generators.build import build_from_section, call_sample
from lab.training.seeding import cpu_generator, seed_everything

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
DIGIT_SHAPE, DIGIT_CLASSES = (1, 28, 28), 10  # the MNIST-shaped data of the diffusion files
BYTE_VALUES = 256  # the lab's GPT reads bytes


@dataclass(frozen=True)
class Sampled:
    """`items` drawn in `seconds`; what one item is and the knobs it was drawn with."""

    model: str
    experiment: str
    setting: str
    items: int
    seconds: float

    @property
    def items_per_s(self) -> float:
        return self.items / self.seconds


def diffusion_sampling(plan: DevicePlan, experiment: str, images: int) -> Sampled:
    """Images/s of the diffusion model of `experiment` (a file in experiments/) at its
    sampling.steps and sampling.guidance, each image drawn for a uniformly chosen digit."""
    config = load_config(EXPERIMENTS / experiment)
    seed_everything(0)
    model = build_from_section(
        config.model, image_shape=DIGIT_SHAPE, num_classes=DIGIT_CLASSES, lr=config.train.lr
    )
    model.to(plan.device)
    knobs = {"steps": config.sampling.steps, "guidance": config.sampling.guidance}
    classes = torch.randint(0, DIGIT_CLASSES, (images,), generator=cpu_generator(2))
    batch = min(images, config.sampling.batch_size)

    def draw(count: int, seed: int) -> None:
        knobs["classes"] = classes[:count]
        call_sample(model, (count, cpu_generator(seed), batch), knobs)

    seconds = _timed(plan, draw, images)
    setting = f"{config.sampling.steps} DDIM steps, guidance {config.sampling.guidance:g}"
    return Sampled("diffusion", experiment, setting, images, seconds)


def gpt_beam_search(plan: DevicePlan, experiment: str, prompts: int) -> Sampled:
    """Sequences/s of the lab's GPT of `experiment` continuing byte prompts of
    data.prompt_length by data.sequence_length, with its sampling.beams and
    sampling.repetition_penalty."""
    config = load_config(EXPERIMENTS / experiment)
    data, sampling = config.data, config.sampling
    seed_everything(0)
    model = build_from_section(
        config.model,
        sequence_length=data.sequence_length,
        vocabulary_size=BYTE_VALUES,
        lr=config.train.lr,
    ).to(plan.device)
    length = data.sequence_length  # the loop continues each prompt by one sequence
    tokens = torch.randint(
        0, BYTE_VALUES, (prompts, data.prompt_length), generator=cpu_generator(2)
    )
    knobs = {"beams": sampling.beams, "repetition_penalty": sampling.repetition_penalty}
    seconds = _beam_timed(plan, model, tokens.to(torch.uint8), length, sampling.batch_size, knobs)
    setting = _beam_setting(sampling.beams, sampling.repetition_penalty, data.prompt_length, length)
    return Sampled("GPT (bytes)", experiment, setting, prompts, seconds)


def opt_beam_search(plan: DevicePlan, experiment: str, prompts: int, work: Path) -> Sampled:
    """Sequences/s of an OPT-125m-shaped model (random weights) through the lab's
    hf_causal_lm path, with `experiment`'s block length, beams and repetition penalty."""
    from transformers import OPTConfig

    from models.hf_causal_lm import HFCausalLM

    config = load_config(EXPERIMENTS / experiment)
    data, sampling = config.data, config.sampling
    folder = work / "opt-125m-shaped"
    architecture = OPTConfig()  # the defaults are OPT-125m's
    architecture.save_pretrained(folder)
    seed_everything(0)
    model = HFCausalLM(
        pretrained=str(folder), weight_decay=0.0, lr=config.train.lr, from_pretrained=False
    ).to(plan.device)
    length = data.sequence_length
    tokens = torch.randint(
        0, architecture.vocab_size, (prompts, data.prompt_length), generator=cpu_generator(2)
    )
    knobs = {"beams": sampling.beams, "repetition_penalty": sampling.repetition_penalty}
    seconds = _beam_timed(plan, model, tokens, length, sampling.batch_size, knobs)
    setting = _beam_setting(sampling.beams, sampling.repetition_penalty, data.prompt_length, length)
    return Sampled("OPT-125m-shaped (random)", experiment, setting, prompts, seconds)


def _beam_timed(
    plan: DevicePlan,
    model: Any,
    prompts: torch.Tensor,
    length: int,
    batch_size: int,
    knobs: dict[str, Any],
) -> float:
    def draw(count: int, seed: int) -> None:
        positional = (prompts[:count], length, cpu_generator(seed), min(count, batch_size))
        call_sample(model, positional, knobs)

    return _timed(plan, draw, len(prompts))


def _timed(plan: DevicePlan, draw: Any, count: int) -> float:
    """Seconds of `draw(count, 0)` under the plan's inference mode, after a one-item warm-up."""
    with plan.inference():
        draw(1, 1)
        plan.synchronize()
        began = time.perf_counter()
        draw(count, 0)
        plan.synchronize()
    return time.perf_counter() - began


def _beam_setting(beams: int, penalty: float, prompt: int, length: int) -> str:
    return f"{beams} beams, repetition penalty {penalty:g}, {prompt}-token prompts + {length}"
