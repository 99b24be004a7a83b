"""The numbers of one text generation, from its model, generation 0's model and its samples.

  heldout_perplexity      the real held-out text under the generation's model: does it still
                          model the real language?
  sample_perplexity_*     each sample's perplexity under generation 0's model, as mean, median
                          and 5th/95th percentiles: the paper's figure, where samples drift to
                          what the first model finds likely and grow a long tail.
  distinct_1..3           unique word n-grams over all word n-grams of the samples.
  type_coverage           the share of the held-out text's word types the samples use, and
  rare_type_coverage      of its rare ones (at most data.rare_max_count occurrences).
  repetition              seq-rep-n of the samples' words (n = data.repetition_n).

The word columns are also measured on generation 0's real training sequences (the same
number of sequences as the samples): the manifest's `reference`, the real text's values.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch

from lab.device import DevicePlan
from lab.domains.text import words
from lab.domains.text.perplexity import sequence_perplexities, text_perplexity
from lab.domains.text.sequences import RealText
from lab.domains.text.settings import TextData
from lab.domains.text.tokens import BYTES, Tokens

DISTINCT_N = (1, 2, 3)
PERCENTILES = {"p5": 5, "p95": 95}


class TextMeasure:
    """Set up once per run on the held-out text; called once per generation."""

    def __init__(
        self,
        real: RealText,
        data: TextData,
        plan: DevicePlan,
        batch_size: int,
        tokens: Tokens = BYTES,
    ) -> None:
        self.real = real
        self.tokens = tokens
        self.data = data
        self.plan = plan
        self.batch_size = batch_size
        counts = Counter(words.words(words.decode(real.heldout_text)))
        self.types = set(counts)
        self.rare = words.rare_types(counts, data.rare_max_count)
        self.reference = self.word_metrics(real.train)

    def __call__(
        self, model: torch.nn.Module, first_model: torch.nn.Module, samples: torch.Tensor
    ) -> tuple[dict[str, float | None], torch.Tensor]:
        """(the metrics.csv columns, each sample's perplexity under `first_model`)."""
        heldout = text_perplexity(model, self.real.heldout, self.plan, self.batch_size)
        perplexities = sequence_perplexities(first_model, samples, self.plan, self.batch_size)
        values = perplexities.numpy()
        row: dict[str, float | None] = {
            "heldout_perplexity": heldout,
            "sample_perplexity_mean": float(values.mean()),
            "sample_perplexity_median": float(np.median(values)),
        }
        for name, percent in PERCENTILES.items():
            row[f"sample_perplexity_{name}"] = float(np.percentile(values, percent))
        row.update(self.word_metrics(samples))
        return row, perplexities

    def word_metrics(self, sequences: torch.Tensor) -> dict[str, float | None]:
        """The word columns of token sequences [N, L], each decoded on its own."""
        split = [words.words(self.tokens.decode(row)) for row in sequences.tolist()]
        used = {word for tokens in split for word in tokens}
        row = {f"distinct_{n}": words.distinct(split, n) for n in DISTINCT_N}
        row["type_coverage"] = words.coverage(used, self.types)
        row["rare_type_coverage"] = words.coverage(used, self.rare)
        row["repetition"] = words.repetition(split, self.data.repetition_n)
        return row

    def facts(self) -> dict[str, object]:
        """What the manifest records about the real text."""
        return {
            "source": self.real.source,
            "train_sequences": len(self.real.train),
            "available_train_sequences": self.real.available,
            "heldout_sequences": len(self.real.heldout),
            "heldout_word_types": len(self.types),
            "heldout_rare_word_types": len(self.rare),
            "sha256": self.real.sha256,
        }
