"""A pretrained model's own tokenizer, as the text domain cuts and reads text with it
(lab/domains/text/tokens.py): bytes in, token ids out, and back to words."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

# Token ids as stored: the vocabularies of pretrained models exceed a byte.
TOKEN_DTYPE = torch.int32


class PretrainedTokens:
    """A Hugging Face tokenizer, without the special tokens it adds to a document."""

    dtype = TOKEN_DTYPE
    unit = "tokens"

    def __init__(self, tokenizer: object, name: str) -> None:
        self.tokenizer = tokenizer
        self.name = f"the tokenizer of {name}"
        self.vocabulary_size = len(tokenizer)
        # The bytes one token can stand for, at most: each token's text as the tokenizer
        # writes it (a byte-level BPE's is one character per byte) bounds it.
        self.longest = max(len(text.encode()) for text in tokenizer.get_vocab())

    def encode(self, text: bytes) -> np.ndarray:
        """Token ids [T] of `text`, its lines encoded as one batch (in parallel)."""
        lines = text.decode("utf-8", errors="replace").splitlines(keepends=True)
        if not lines:
            return np.zeros(0, dtype=np.int32)
        encoded = self.tokenizer(lines, add_special_tokens=False)["input_ids"]
        return np.fromiter((i for ids in encoded for i in ids), dtype=np.int32)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode([int(i) for i in ids])
