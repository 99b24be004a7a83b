"""What a text's words say about it: distinct n-grams, the word types it still uses, and how
much it repeats itself. Plain Python over decoded text, no model involved.

A word is a maximal run of letters, digits and underscores (the regular expression `\\w+`,
Unicode-aware), lowercased; bytes that are not UTF-8 decode to U+FFFD and split words.
N-grams never cross the boundary between two samples.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def decode(data: bytes) -> str:
    """Bytes as text: invalid UTF-8 becomes U+FFFD, as a reader's screen would show it."""
    return data.decode("utf-8", errors="replace")


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct(samples: Iterable[Sequence[str]], n: int) -> float | None:
    """Distinct-n (Li et al. 2016): unique n-grams over all n-grams of all samples (None when
    the samples hold no n-gram)."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for tokens in samples:
        grams = ngrams(tokens, n)
        seen.update(grams)
        total += len(grams)
    return len(seen) / total if total else None


def coverage(used: set[str], types: Iterable[str]) -> float | None:
    """The share of `types` that `used` contains (None for no types)."""
    types = set(types)
    return len(types & used) / len(types) if types else None


def rare_types(counts: Counter[str], max_count: int) -> set[str]:
    """The types occurring at most `max_count` times."""
    return {word for word, count in counts.items() if count <= max_count}


def repetition(samples: Iterable[Sequence[str]], n: int) -> float | None:
    """seq-rep-n (Welleck et al. 2020): per sample, the share of its n-grams that repeat an
    earlier one of the same sample (1 - unique / all), averaged over the samples that have an
    n-gram (None when none has)."""
    shares = []
    for tokens in samples:
        grams = ngrams(tokens, n)
        if grams:
            shares.append(1 - len(set(grams)) / len(grams))
    return sum(shares) / len(shares) if shares else None
