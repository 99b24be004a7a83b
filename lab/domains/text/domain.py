"""Text generations: a language model trained on the previous one's writing.

The steps of a generation are the engine's (lab/training/trained.py); this domain supplies
the real text, how a generation writes and what is measured. Generation 0 trains on the real
training sequences; each generation then continues the end of every real training sequence
(the paper's prompts, the same every generation) by one sequence's length, and the regime
(lab/regimes.py) builds the next generation's training set from those continuations. The
same held-out prompts are continued by every generation for the report, with noise that is
the same every generation.

Text is cut into the model's tokens (lab/domains/text/tokens.py): bytes, or a pretrained
model's own tokenizer's ids. Files of generation NNN: samples/gen_NNN.npz (the continuations
as `sequences` [N, L] of tokens, uint8 bytes or int32 ids; each one's perplexity under
generation 0's model; the shown prompts and their continuations, and as text too when the
tokens are not bytes), samples/gen_NNN.txt (the
shown prompts and continuations, readable), checkpoints/gen_NNN.pt and provenance/gen_NNN.csv.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lab import regimes
from lab.curation.run import Draws, Reference
from lab.domains.text.features import word_profiles
from lab.domains.text.files import SHOWN_PROMPTS_TEXT, SHOWN_TEXT, text_files
from lab.domains.text.measure import TextMeasure
from lab.domains.text.perplexity import sequence_perplexities
from lab.domains.text.sequences import load_real_text
from lab.domains.text.settings import TextExperiment
from lab.domains.text.tokens import Tokens, tokens_of
from lab.generators.build import SavedModel, call_sample, check_drawn, read_checkpoint, rebuild
from lab.rundir import faults
from lab.rundir.directory import RunDirectory
from lab.rundir.storage import decode_npz, encode_npz
from lab.training.seeding import cpu_generator, derive_seed
from lab.training.trained import (
    DIVERGED,
    GENERATION,
    MEASURED,
    STEPS,
    SYNTHETIC,
    Measured,
    TrainedDomain,
)

FIRST_GENERATION = 0
# metrics.csv's columns; `diverged` came after the others, and a new column only ever goes
# at the end.
COLUMNS = (GENERATION, MEASURED, SYNTHETIC, STEPS, DIVERGED)
# The measures whose non-finite value says a generation's model failed (its loss went NaN).
DIVERGENCE_SIGNS = ("heldout_perplexity", "sample_perplexity_mean")


@dataclass(frozen=True)
class Written:
    """A generation's continuations of the real training sequences' ends, and of the shown
    prompts."""

    samples: torch.Tensor
    shown: torch.Tensor
    # With a `curate:` section, the prompts continued (oversample - 1) times more, after the
    # first continuations (which stay what a run without curation writes).
    extra: torch.Tensor | None = None


class TextDomain(TrainedDomain):
    setup = "setup (real text)"
    COLUMNS = COLUMNS
    ITEMS = "token sequences"
    config: TextExperiment

    def __init__(self, config: TextExperiment) -> None:
        super().__init__(config)
        # Generation 0's model, which scores every generation's samples; built from its
        # weights, so a resumed run scores with exactly what an uninterrupted one did.
        self._first: torch.nn.Module | None = None
        # The real training sequences' word profiles, which text curators compare draws with.
        self._real_profiles: torch.Tensor | None = None

    def load_real(self) -> None:
        self.tokens: Tokens = tokens_of(self.recipe)
        self.real = load_real_text(self.config, self.tokens)

    def prepare_measures(self, run: RunDirectory, echo: Callable[[str], None]) -> None:
        config = self.config
        self.text_metrics = TextMeasure(
            self.real, config.data, self.plan, config.sampling.batch_size, self.tokens
        )
        run.record("real_text", self.text_metrics.facts())
        reference = {k: v for k, v in self.text_metrics.reference.items() if v is not None}
        run.record("reference", reference)
        echo(
            f"real text: {len(self.real.train)} training sequences of "
            f"{config.data.sequence_length} {self.tokens.unit} from {self.real.source}, "
            f"{len(self.real.heldout)} held out"
        )

    def real_fingerprint(self) -> tuple[str, str]:
        return f"the real text ({self.real.source})", self.real.sha256

    @property
    def real_items(self) -> torch.Tensor:
        return self.real.train

    def data_inputs(self) -> dict[str, Any]:
        return {
            "sequence_length": self.config.data.sequence_length,
            "vocabulary_size": self.tokens.vocabulary_size,
        }

    def files(self, generation: int) -> dict[str, str]:
        return text_files(generation)

    def samples_of(self, stored: bytes) -> torch.Tensor:
        return torch.from_numpy(decode_npz(stored)["sequences"])

    def probe(self, model: torch.nn.Module, count: int, generator: torch.Generator) -> None:
        self.continue_prompts(model, self._prompts()[:count], generator)

    def draw(self, model: torch.nn.Module, generation: int) -> Written:
        seed = self.config.seed
        with self.plan.inference():
            generator = cpu_generator(derive_seed(seed, "samples", generation))
            samples = self.continue_prompts(
                model,
                self._prompts(),
                generator,
                label=f"generation {generation}/{self.config.generations - 1} sampling",
            )
            faults.reached(f"continued:{generation}")
            extra = None
            if self.config.curate is not None and self.config.curate.oversample > 1:
                extra = self.continue_prompts(
                    model,
                    self._prompts().repeat(self.config.curate.oversample - 1, 1),
                    generator,
                    label=f"generation {generation}/{self.config.generations - 1} curation draws",
                )
            shown = self.continue_prompts(
                model, self.real.shown_prompts, cpu_generator(derive_seed(seed, "shown"))
            )
        return Written(samples, shown, extra)

    def continue_prompts(
        self,
        model: torch.nn.Module,
        prompts: torch.Tensor,
        generator: torch.Generator,
        label: str | None = None,
    ) -> torch.Tensor:
        """Each prompt continued by one sequence's length through `model.sample`, with the
        knobs it declares; anything but [n, length] of the tokens' dtype is a
        ModelContractError."""
        length = self.config.data.sequence_length
        sampling = self.config.sampling
        knobs = {
            "batch_size": sampling.batch_size,
            "temperature": sampling.temperature,
            "beams": sampling.beams,
            "repetition_penalty": sampling.repetition_penalty,
        }
        if label is not None:
            knobs["label"] = label
        written = call_sample(model, (prompts, length, generator), knobs)
        call = f"sample(prompts, {length}, generator)"
        shape = (len(prompts), length)
        wanted = f"continuations in {self.tokens.unit}"
        return check_drawn(model, written, shape, call, wanted, self.tokens.dtype)

    def _prompts(self) -> torch.Tensor:
        return self.real.train[:, -self.config.data.prompt_length :]

    def measure(
        self,
        run: RunDirectory,
        generation: int,
        model: torch.nn.Module,
        drawn: Written,
        training: regimes.TrainingSet,
    ) -> Measured:
        first_model = self._first_model(run, model if generation == FIRST_GENERATION else None)
        metrics, perplexities = self.text_metrics(model, first_model, drawn.samples)
        real = self.real
        arrays = {
            "sequences": drawn.samples.numpy(),
            "first_model_perplexity": perplexities.numpy(),
            "shown_prompts": real.shown_prompts.numpy(),
            "shown": drawn.shown.numpy(),
        }
        prompts = [self.tokens.decode(row) for row in real.shown_prompts.tolist()]
        continued = [self.tokens.decode(row) for row in drawn.shown.tolist()]
        if self.tokens.dtype != torch.uint8:  # ids the report cannot read without the tokenizer
            arrays[SHOWN_PROMPTS_TEXT] = np.array(prompts, dtype=np.str_)
            arrays[SHOWN_TEXT] = np.array(continued, dtype=np.str_)
        files = {
            "samples": encode_npz(arrays),
            "shown": shown_text(prompts, continued, generation).encode(),
        }
        return Measured(metrics, files, diverged=_divergence(metrics))

    def curation_draws(self, drawn: Written) -> Draws:
        """Every continuation, its word profile, and generation 0's model's confidence in it
        (1 / its perplexity: the geometric mean of its tokens' probabilities), the judge
        that text runs have."""
        items = drawn.samples if drawn.extra is None else torch.cat([drawn.samples, drawn.extra])
        if self._first is None:  # measure() sets it before the engine curates
            raise RuntimeError("text curation needs generation 0's model, set when measuring")
        batch = self.config.sampling.batch_size
        perplexities = sequence_perplexities(self._first, items, self.plan, batch)
        return Draws(items, word_profiles(items, self.tokens), confidence=1 / perplexities)

    def curation_reference(self) -> Reference:
        if self._real_profiles is None:
            self._real_profiles = word_profiles(self.real.train, self.tokens)
        return Reference(self._real_profiles)

    def curated_file(self, drawn: Written, draws: Draws, kept: torch.Tensor) -> bytes:
        return encode_npz({"sequences": draws.items[kept].numpy()})

    def _first_model(self, run: RunDirectory, trained: torch.nn.Module | None) -> torch.nn.Module:
        """Generation 0's model, rebuilt from its weights: those of `trained` when
        generation 0 just trained, else its checkpoint (read through its sha256)."""
        if self._first is None:
            if trained is not None:
                saved = SavedModel({name: t.cpu() for name, t in trained.state_dict().items()})
            else:
                relative = self.files(FIRST_GENERATION)["checkpoint"]
                saved = read_checkpoint(run.read_generation_file(FIRST_GENERATION, relative))
            model = rebuild(saved, fallback=lambda: (self.recipe, self.model_inputs()))
            self._first = model.to(self.plan.device).eval()
        return self._first


def _divergence(metrics: dict[str, float | None]) -> str | None:
    """A sentence when a measure that only a failed model makes non-finite is so."""
    for name in DIVERGENCE_SIGNS:
        value = metrics.get(name)
        if value is not None and not math.isfinite(value):
            return f"its {name} is {value} (the model's predictions are not finite numbers)"
    return None


def shown_text(prompts: Sequence[str], continuations: Sequence[str], generation: int) -> str:
    """samples/gen_NNN.txt: each shown prompt, then this generation's continuation of it."""
    parts = [
        f"=== prompt {index + 1} (held-out text) ===\n{prompt}\n"
        f"=== continued by generation {generation} ===\n{continuation}\n"
        for index, (prompt, continuation) in enumerate(zip(prompts, continuations, strict=True))
    ]
    return "\n".join(parts)
