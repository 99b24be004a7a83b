"""Real text as the model sees it: uint8 byte sequences [N, L], like the samples it writes.

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
from lab.errors import ConfigError, DataError

# Shown prompts start where a line starts with a capital letter (a sentence or a heading).
_LINE_START = re.compile(rb"\n *([A-Z])")


@dataclass(frozen=True)
class RealText:
    """What a text run needs of its real corpus."""

    source: str
    # uint8 [N, L]: generation 0's training set, whose ends prompt every generation.
    train: torch.Tensor
    # uint8 [M, L]: the held-out text cut like the training text, for perplexity.
    heldout: torch.Tensor
    # The whole held-out text, whose words the samples' words are counted against.
    heldout_text: bytes
    # uint8 [k, P]: held-out prompts every generation continues for the report.
    shown_prompts: torch.Tensor
    # Sequences the training text holds, of which `train` is a fixed choice.
    available: int

    @property
    def sha256(self) -> str:
        """The hash of what a run trains on first and measures against."""
        return hashlib.sha256(self.train.numpy().tobytes() + self.heldout_text).hexdigest()


def cut(text: bytes, length: int) -> torch.Tensor:
    """`text` as consecutive sequences of `length` bytes, uint8 [len(text) // length, length]
    (the incomplete end is dropped)."""
    count = len(text) // length
    array = np.frombuffer(text, dtype=np.uint8, count=count * length)
    return torch.from_numpy(array.copy()).view(count, length)


def load_real_text(config: TextExperiment) -> RealText:
    """Read the corpus and cut it; sizes the text cannot meet are one ConfigError."""
    data = config.data
    corpus = data.read()
    train = cut(corpus.train, data.sequence_length)
    if len(train) == 0:
        raise ConfigError(
            f"key 'data.sequence_length' is {data.sequence_length}, but the training text of "
            f"{corpus.source} is {len(corpus.train)} bytes, less than one sequence; lower it."
        )
    wanted = config.samples_per_generation
    if wanted > len(train):
        raise ConfigError(
            f"key 'samples_per_generation' is {wanted}, but the training text of {corpus.source} "
            f"holds {len(train)} sequences of data.sequence_length {data.sequence_length} bytes; "
            "lower it."
        )
    heldout = cut(corpus.heldout, data.sequence_length)
    if len(heldout) == 0:
        raise DataError(
            f"the held-out text of {corpus.source} is {len(corpus.heldout)} bytes, shorter than "
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
        shown_prompts=shown_prompts(corpus.heldout, data.shown_prompts, data.prompt_length),
        available=len(train),
    )


def shown_prompts(text: bytes, count: int, length: int) -> torch.Tensor:
    """`count` prompts of `length` bytes spread evenly over `text`, each starting where a line
    starts with a capital letter when the text has enough such lines (readable prompts)."""
    starts = [m.start(1) for m in _LINE_START.finditer(text) if m.start(1) + length <= len(text)]
    if len(starts) < count:
        starts = list(range(len(text) - length + 1))
    if len(starts) < count:
        raise ConfigError(
            f"key 'data.shown_prompts' is {count}, more than the {len(starts)} different prompts "
            f"of data.prompt_length {length} bytes the held-out text offers; lower it."
        )
    picks = np.linspace(0, len(starts) - 1, count).round().astype(int)
    prompts = [np.frombuffer(text, np.uint8, length, starts[i]) for i in picks]
    return torch.from_numpy(np.stack(prompts).copy())
