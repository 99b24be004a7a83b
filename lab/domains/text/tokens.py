"""What a text model's tokens are: bytes (the lab's GPT, and any model without a tokenizer
of its own), or the model's own tokenizer, which its class offers as `text_tokens(**init_args)`
(a pretrained Hugging Face model's BPE). Real text is cut, and samples are read back into
words, with the same tokens the model writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch

from lab.domains.text import words
from lab.domains.text.settings import BYTE_VALUES
from lab.generators.contract import import_class
from lab.generators.recipe import Recipe

# The class method by which a text model brings its own tokenizer.
TOKENS_METHOD = "text_tokens"


class Tokens(Protocol):
    """Text to token ids and back; token ids are stored as `dtype`."""

    name: str
    unit: str  # what a token is, in words, for the messages ("bytes", "tokens")
    dtype: torch.dtype
    vocabulary_size: int
    longest: int  # the most bytes one token stands for

    def encode(self, text: bytes) -> np.ndarray: ...

    def decode(self, ids: Sequence[int]) -> str: ...


class ByteTokens:
    """Every byte is a token: any text is its own encoding."""

    name = "bytes"
    unit = "bytes"
    dtype = torch.uint8
    vocabulary_size = BYTE_VALUES
    longest = 1

    def encode(self, text: bytes) -> np.ndarray:
        return np.frombuffer(text, dtype=np.uint8)

    def decode(self, ids: Sequence[int]) -> str:
        return words.decode(bytes(ids))


BYTES = ByteTokens()


def tokens_of(recipe: Recipe) -> Tokens:
    """The tokens of the model `recipe` builds: its class's own, else bytes."""
    offered = getattr(import_class(recipe.class_path), TOKENS_METHOD, None)
    return offered(**recipe.init_args) if callable(offered) else BYTES
