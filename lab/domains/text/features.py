"""The feature space text curators compare sequences in: each sequence's word unigrams and
bigrams (the words of lab/domains/text/words.py, as the text columns count them), hashed
into a fixed number of buckets and scaled to unit length, so the Euclidean distance between
two sequences is a function of the cosine similarity of their word profiles.

It needs no model, so it is the same space for every generation and every model, and the
same for byte and BPE tokens (both are read back into words). Two near-copies (a phrase a
collapsing model repeats for many prompts) land close together; a sequence made of words
and word pairs the real text uses lands close to real sequences.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch

from lab.domains.text import words
from lab.domains.text.tokens import Tokens

# Buckets the n-grams are hashed into: enough that two distinct n-grams of a 128-token
# sequence rarely share one, few enough that a few thousand sequences' features fit in a
# few tens of MiB (float32).
BUCKETS = 2048
NGRAMS = (1, 2)


def word_profiles(sequences: torch.Tensor, tokens: Tokens) -> torch.Tensor:
    """float32 [N, BUCKETS]: each token sequence's hashed word n-gram counts, unit length (a
    sequence without words is all zeros)."""
    profiles = np.zeros((len(sequences), BUCKETS), dtype=np.float32)
    for row, ids in enumerate(sequences.tolist()):
        split = words.words(tokens.decode(ids))
        for n in NGRAMS:
            for gram in words.ngrams(split, n):
                profiles[row, zlib.crc32(" ".join(gram).encode()) % BUCKETS] += 1
    norms = np.linalg.norm(profiles, axis=1, keepdims=True)
    np.divide(profiles, norms, out=profiles, where=norms > 0)
    return torch.from_numpy(profiles)
