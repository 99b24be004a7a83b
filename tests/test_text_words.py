"""Distinct-n, word-type coverage and repetition on hand-made text whose counts are known."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from lab.device import plan_device
from lab.domains.text import words
from lab.domains.text.measure import TextMeasure
from lab.domains.text.sequences import RealText
from lab.domains.text.settings import PydocText


def test_words_are_lowercased_runs_of_word_characters() -> None:
    assert words.words("The cat's __init__, 3.14!") == ["the", "cat", "s", "__init__", "3", "14"]
    assert words.words(words.decode(b"ab\xffcd")) == ["ab", "cd"]  # invalid UTF-8 splits


def test_distinct_n_counts_unique_ngrams_over_all_samples() -> None:
    samples = [["a", "b", "a", "b"], ["a", "b", "c"]]
    # unigrams: a b a b a b c -> 3 unique of 7; bigrams: ab ba ab ab bc -> 3 unique of 5;
    # trigrams: aba bab abc -> 3 of 3 (no trigram crosses the two samples).
    assert words.distinct(samples, 1) == pytest.approx(3 / 7)
    assert words.distinct(samples, 2) == pytest.approx(3 / 5)
    assert words.distinct(samples, 3) == pytest.approx(1.0)
    assert words.distinct([["a"], []], 2) is None


def test_repetition_is_the_share_of_repeated_ngrams_per_sample() -> None:
    # "x y x y x y": bigrams xy yx xy yx xy -> 2 unique of 5 -> 3/5 repeated;
    # "p q r": no bigram repeats -> 0; "z": no bigram, left out of the mean.
    samples = [["x", "y", "x", "y", "x", "y"], ["p", "q", "r"], ["z"]]
    assert words.repetition(samples, 2) == pytest.approx((3 / 5 + 0) / 2)
    assert words.repetition([["z"]], 2) is None


def test_coverage_of_all_and_of_rare_types() -> None:
    counts = Counter({"the": 5, "cat": 2, "sat": 1, "mat": 3})
    assert words.rare_types(counts, 2) == {"cat", "sat"}
    assert words.coverage({"the", "sat", "dog"}, counts) == pytest.approx(2 / 4)
    assert words.coverage({"the", "sat", "dog"}, words.rare_types(counts, 2)) == 0.5
    assert words.coverage({"the"}, set()) is None


def _sequences(texts: list[bytes], length: int) -> torch.Tensor:
    return torch.tensor([list(text.ljust(length)) for text in texts], dtype=torch.uint8)


def test_the_measure_counts_words_of_each_sequence_against_the_heldout_text() -> None:
    heldout = b"the cat sat on the mat the end"  # the x3, cat sat on mat end x1 each
    length = 16
    real = RealText(
        source="hand-made",
        train=_sequences([b"the cat the cat", b"on a mat"], length),
        heldout=_sequences([heldout[:length]], length),
        heldout_text=heldout,
        shown_prompts=_sequences([b"the"], 3),
        available=2,
    )
    data = PydocText(sequence_length=length, rare_max_count=1, repetition_n=2)
    measure = TextMeasure(real, data, plan_device("cpu", "32-true", True), batch_size=4)
    samples = _sequences([b"dog dog dog dog", b"cat sat"], length)
    measured = measure.word_metrics(samples)
    assert measured["distinct_1"] == pytest.approx(3 / 6)  # dog cat sat of 6 words
    assert measured["distinct_2"] == pytest.approx(2 / 4)  # dog-dog x3, cat-sat
    assert measured["type_coverage"] == pytest.approx(2 / 6)  # cat, sat of 6 types
    assert measured["rare_type_coverage"] == pytest.approx(2 / 5)  # cat, sat of 5 rare
    assert measured["repetition"] == pytest.approx((2 / 3 + 0) / 2)
    # The reference is the same measure of the real training sequences.
    assert measure.reference["type_coverage"] == pytest.approx(4 / 6)  # the cat on mat
    assert measure.reference["rare_type_coverage"] == pytest.approx(3 / 5)  # cat on mat
