"""Text generations: a language model trained on the previous one's writing.

One generation per block. Generation 0 trains on the real training sequences; each
generation then continues the end of every real training sequence (the paper's prompts,
the same every generation) by one sequence's length, and the regime (lab/regimes.py) builds
the next generation's training set from those continuations. The same held-out prompts are
continued by every generation for the report, with noise that is the same every generation.
Each generation seeds itself from (seed, generation), so a redone generation writes the
same bytes as the first attempt did.

Files of generation NNN: samples/gen_NNN.npz (the continuations as uint8 `sequences` [N, L],
each one's perplexity under generation 0's model, the shown prompts and their
continuations), samples/gen_NNN.txt (the shown prompts and continuations, readable),
checkpoints/gen_NNN.pt and provenance/gen_NNN.csv.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence

import torch

from lab import regimes
from lab.config import ExperimentConfig
from lab.device import plan_device
from lab.domains.protocol import Block
from lab.domains.text import words
from lab.domains.text.files import text_files
from lab.domains.text.measure import TextMeasure
from lab.domains.text.sequences import load_real_text
from lab.rundir import faults
from lab.rundir.directory import FinishedGeneration, RunDirectory
from lab.rundir.storage import encode_npz, load_npz
from lab.training.generation import train_generation
from lab.training.logs import generation_loggers
from lab.training.seeding import cpu_generator, derive_seed
from models.registry import build_model

FIRST_GENERATION = 0


class TextDomain:
    setup = "setup (real text)"

    def __init__(self, config: ExperimentConfig) -> None:
        if config.train is None:  # the text spec's check requires it
            raise ValueError("text models need a train section")
        self.config = config
        # Generation 0's model, which scores every generation's samples; built from its
        # weights, so a resumed run scores with exactly what an uninterrupted one did.
        self._first: torch.nn.Module | None = None

    def prepare(self, run: RunDirectory, echo: Callable[[str], None]) -> None:
        config, train = self.config, self.config.train
        self.plan = plan_device(
            train.accelerator, train.precision, train.deterministic, train.compile
        )
        self.real = load_real_text(config)
        self.measure = TextMeasure(self.real, config.data, self.plan, config.sampling.batch_size)
        run.record("real_text", self.measure.facts())
        reference = {k: v for k, v in self.measure.reference.items() if v is not None}
        run.record("reference", reference)
        echo(
            f"real text: {len(self.real.train)} training sequences of "
            f"{config.data.sequence_length} bytes from {self.real.source}, "
            f"{len(self.real.heldout)} held out"
        )

    def block_end(self, generation: int) -> int:
        return generation + 1

    def run_block(self, run: RunDirectory, first: int, end: int) -> Block:
        config, real, generation = self.config, self.real, first
        began = time.perf_counter()
        training = regimes.training_set(
            config, generation, real.train, lambda k: _stored_sequences(run, k)
        )
        loggers = generation_loggers(run.path, generation, config.logging)
        model, steps = train_generation(
            config, generation, training.items, len(real.train), self.plan, loggers
        )
        faults.reached(f"trained:{generation}")
        state = {name: tensor.cpu() for name, tensor in model.state_dict().items()}
        first_model = self._first_model(run, state if generation == FIRST_GENERATION else None)
        samples, shown = self._write(model, generation)
        faults.reached(f"sampled:{generation}")
        metrics, perplexities = self.measure(model, first_model, samples)
        faults.reached(f"measured:{generation}")
        files = text_files(generation)
        buffer = io.BytesIO()
        torch.save(state, buffer)
        arrays = {
            "sequences": samples.numpy(),
            "first_model_perplexity": perplexities.numpy(),
            "shown_prompts": real.shown_prompts.numpy(),
            "shown": shown.numpy(),
        }
        prompts = [bytes(row) for row in real.shown_prompts.numpy()]
        continued = [bytes(row) for row in shown.numpy()]
        outputs = {
            files["samples"]: encode_npz(arrays),
            files["shown"]: shown_text(prompts, continued, generation).encode(),
            files["checkpoint"]: buffer.getvalue(),
            files["provenance"]: training.provenance_csv(),
        }
        row = {
            "generation": generation,
            **metrics,
            "synthetic_fraction": training.synthetic_fraction,
            "train_steps": steps,
        }
        seconds = time.perf_counter() - began
        details = {"training_set": training.composition()}
        return Block([FinishedGeneration(generation, row, seconds, details)], outputs)

    def _write(self, model: torch.nn.Module, generation: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The generation's continuations of the real training sequences' ends, and of the
        shown prompts (from noise that is the same every generation)."""
        data, sampling, seed = self.config.data, self.config.sampling, self.config.seed
        prompts = self.real.train[:, -data.prompt_length :]
        with self.plan.inference():
            samples = model.sample(
                prompts,
                data.sequence_length,
                cpu_generator(derive_seed(seed, "samples", generation)),
                sampling.batch_size,
                sampling.temperature,
                label=f"generation {generation}/{self.config.generations - 1} sampling",
            )
            shown = model.sample(
                self.real.shown_prompts,
                data.sequence_length,
                cpu_generator(derive_seed(seed, "shown")),
                sampling.batch_size,
                sampling.temperature,
            )
        return samples, shown

    def _first_model(
        self, run: RunDirectory, state: dict[str, torch.Tensor] | None
    ) -> torch.nn.Module:
        """Generation 0's model from its weights: `state` when generation 0 just trained,
        else its (hash-verified) checkpoint."""
        if self._first is None:
            if state is None:
                checkpoint = run.path / text_files(FIRST_GENERATION)["checkpoint"]
                state = torch.load(checkpoint, map_location="cpu", weights_only=True)
            config = self.config
            model = build_model(config.model, tuple(self.real.train.shape[1:]), config.train.lr)
            model.load_state_dict(state)
            self._first = model.to(self.plan.device).eval()
        return self._first


def _stored_sequences(run: RunDirectory, generation: int) -> torch.Tensor:
    """A finished generation's continuations, read back from its (hash-verified) npz file."""
    stored = load_npz(run.path / text_files(generation)["samples"])
    return torch.from_numpy(stored["sequences"])


def shown_text(prompts: Sequence[bytes], continuations: Sequence[bytes], generation: int) -> str:
    """samples/gen_NNN.txt: each shown prompt, then this generation's continuation of it."""
    parts = [
        f"=== prompt {index + 1} (held-out text) ===\n{words.decode(prompt)}\n"
        f"=== continued by generation {generation} ===\n{words.decode(continuation)}\n"
        for index, (prompt, continuation) in enumerate(zip(prompts, continuations, strict=True))
    ]
    return "\n".join(parts)
