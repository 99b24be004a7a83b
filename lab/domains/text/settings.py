"""The `data:` section of the text experiments: which prose, how it is cut, what is measured.

Free of torch, so a config is validated in the first second. `data.name` picks the corpus:
  pydoc      the Python reference manual that ships in the standard library
             (`pydoc_data.topics`, about 465,000 characters), split by document; offline.
  wikitext2  the paper's wikitext-2 raw files, placed by hand in <root>/wikitext-2-raw/.
  textfiles  every .txt file under the folder `root` (subfolders included), one document each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lab.schema import SchemaError, bounds

# The folder of wikitext-2's raw files under data.root, as wikitext-2-raw-v1.zip unpacks.
WIKITEXT_FOLDER = "wikitext-2-raw"
WIKITEXT_FILES = {"train": "wiki.train.raw", "valid": "wiki.valid.raw", "test": "wiki.test.raw"}


@dataclass(frozen=True)
class TextDataConfig:
    """Where the real text comes from and how a generation's text is cut and measured."""

    name: Literal["pydoc", "wikitext2", "textfiles"] = "pydoc"
    # wikitext2: the folder holding wikitext-2-raw/; textfiles: the folder of .txt files.
    root: str = "data"
    # Bytes per sequence: every generation trains on samples_per_generation sequences of this
    # length (the real ones for generation 0), so every generation sees the same tokens.
    sequence_length: int = field(default=128, metadata=bounds(ge=2))
    # Each continuation is prompted with the last prompt_length bytes of one real training
    # sequence (the paper's scheme); the model sees at most sequence_length - 1 bytes at once.
    prompt_length: int = field(default=64, metadata=bounds(ge=1))
    # pydoc and textfiles: share of the text, in whole documents, held out for measuring.
    heldout_fraction: float = field(default=0.1, metadata=bounds(gt=0, lt=1))
    # wikitext2: the file held out for measuring (the training file is always wiki.train.raw).
    heldout_split: Literal["valid", "test"] = "test"
    # Fixes which documents are held out and which training sequences generation 0 gets.
    split_seed: int = 0
    # Held-out prompts that every generation continues for the report and samples/gen_NNN.txt.
    shown_prompts: int = field(default=4, metadata=bounds(ge=1))
    # A held-out word type is rare when it occurs at most this many times (rare_type_coverage).
    rare_max_count: int = field(default=2, metadata=bounds(ge=1))
    # repetition: the share of a sample's word n-grams, of this n, that repeat an earlier one.
    repetition_n: int = field(default=4, metadata=bounds(ge=1))

    def check(self, prefix: str) -> None:
        if self.prompt_length > self.sequence_length:
            raise SchemaError(
                f"{prefix}.prompt_length",
                f"is {self.prompt_length}, longer than data.sequence_length "
                f"{self.sequence_length}; a prompt is the end of one real sequence",
            )
