"""Real text as the model sees it: sequences of its tokens [N, L] (uint8 bytes, or the ids of
a pretrained model's tokenizer), like the samples it writes.

Generation 0 trains on `samples_per_generation` sequences of the training text, the same
number every later generation trains on, so every generation sees the same tokens (the
paper's scheme). Sample i of every generation continues the end of real sequence i.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import torch

from lab.domains.text.settings import TextExperiment
from lab.domains.text.tokens import BYTES, Tokens
from lab.errors import ConfigError, DataError

# Shown prompts start where a line starts with a capital letter (a sentence or a heading).
_LINE_START = re.compile(rb"\n *([A-Z])")


@dataclass(frozen=True)
class RealText:
    """What a text run needs of its real corpus."""

    source: str
    # [N, L] tokens: generation 0's training set, whose ends prompt every generation.
    train: torch.Tensor
    # [M, L] tokens: the held-out text cut like the training text, for perplexity.
    heldout: torch.Tensor
    # The whole held-out text, whose words the samples' words are counted against.
    heldout_text: bytes
    # [k, P] tokens: held-out prompts every generation continues for the report.
    shown_prompts: torch.Tensor
    # Sequences the training text holds, of which `train` is a fixed choice.
    available: int

    @property
    def sha256(self) -> str:
        """The hash of what a run trains on first and measures against."""
        return hashlib.sha256(self.train.numpy().tobytes() + self.heldout_text).hexdigest()


def cut(ids: np.ndarray, length: int, dtype: torch.dtype = torch.uint8) -> torch.Tensor:
    """Token ids [T] as consecutive sequences of `length`, [T // length, length] of `dtype`
    (the incomplete end is dropped)."""
    count = len(ids) // length
    array = np.ascontiguousarray(ids[: count * length])
    return torch.from_numpy(array.copy()).to(dtype).view(count, length)


def load_real_text(config: TextExperiment, tokens: Tokens = BYTES) -> RealText:
    """Read the corpus and cut it into `tokens`; sizes the text cannot meet are one
    ConfigError."""
    data = config.data
    corpus = data.read()
    unit = tokens.unit
    train_ids = tokens.encode(corpus.train)
    train = cut(train_ids, data.sequence_length, tokens.dtype)
    if len(train) == 0:
        raise ConfigError(
            f"key 'data.sequence_length' is {data.sequence_length}, but the training text of "
            f"{corpus.source} is {len(train_ids)} {unit}, less than one sequence; lower it."
        )
    wanted = config.samples_per_generation
    if wanted > len(train):
        raise ConfigError(
            f"key 'samples_per_generation' is {wanted}, but the training text of {corpus.source} "
            f"holds {len(train)} sequences of data.sequence_length {data.sequence_length} {unit}; "
            "lower it."
        )
    heldout_ids = tokens.encode(corpus.heldout)
    heldout = cut(heldout_ids, data.sequence_length, tokens.dtype)
    if len(heldout) == 0:
        raise DataError(
            f"the held-out text of {corpus.source} is {len(heldout_ids)} {unit}, shorter than "
            f"one sequence of data.sequence_length {data.sequence_length}; give it more text or "
            "lower data.sequence_length."
        )
    generator = torch.Generator().manual_seed(data.split_seed)
    chosen = torch.randperm(len(train), generator=generator)[:wanted].sort().values
    return RealText(
        source=corpus.source,
        train=train[chosen],
        heldout=heldout,
        heldout_text=corpus.heldout,
        shown_prompts=shown_prompts(corpus.heldout, data.shown_prompts, data.prompt_length, tokens),
        available=len(train),
    )


def shown_prompts(text: bytes, count: int, length: int, tokens: Tokens = BYTES) -> torch.Tensor:
    """`count` prompts of `length` tokens spread evenly over `text`, each starting where a
    line starts with a capital letter when the text has enough such lines (readable
    prompts). A stretch of `length` x `tokens.longest` bytes holds at least `length` tokens."""
    span = length * tokens.longest
    starts = [m.start(1) for m in _LINE_START.finditer(text) if m.start(1) + span <= len(text)]
    if len(starts) < count:
        starts = list(range(len(text) - span + 1))
    if len(starts) < count:
        raise ConfigError(
            f"key 'data.shown_prompts' is {count}, more than the {len(starts)} different prompts "
            f"of data.prompt_length {length} {tokens.unit} the held-out text offers; lower it."
        )
    picks = np.linspace(0, len(starts) - 1, count).round().astype(int)
    prompts = [tokens.encode(text[starts[i] : starts[i] + span])[:length] for i in picks]
    return torch.from_numpy(np.stack(prompts).copy()).to(tokens.dtype)
