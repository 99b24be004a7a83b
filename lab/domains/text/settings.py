"""The sections of a text experiment: which prose, how it is cut and measured, how it is drawn.

Free of torch, so a config is validated in the first second. `data.name` picks the corpus,
each with its own section and reader (lab/domains/text/corpora.py):
  pydoc      the Python reference manual that ships in the standard library
             (`pydoc_data.topics`, about 465,000 characters), split by document; offline.
  wikitext2  the paper's wikitext-2 raw files, placed by hand in <root>/wikitext-2-raw/.
  textfiles  every .txt file under the folder `root` (subfolders included), one document each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from lab.curation.section import NEEDS_LABELS
from lab.experiment import ExperimentConfig, requested_biases
from lab.generators.section import model_field
from lab.schema import SchemaError, bounds, by_kind, omitted_at_default
from models.registry import model_configs

if TYPE_CHECKING:
    from lab.domains.text.corpora import Corpus

# Tokens are bytes unless the model brings its own tokenizer (lab/domains/text/tokens.py):
# what a text model's constructor then gets as `vocabulary_size`.
BYTE_VALUES = 256
# What a text model offers for perplexity: tokens [B, L] -> logits [B, L - 1, vocabulary].
LOGITS_METHOD = "next_byte_logits"
# Every text data section held all of these keys before each corpus had its own section (a
# run folder's stored config still may); each section retires those it does not read.
_FLAT_KEYS = ("root", "heldout_fraction", "heldout_split")


@dataclass(frozen=True)
class TextData:
    """How any corpus is cut into sequences and measured; each corpus adds where it lies."""

    name: str
    # Tokens per sequence (bytes for the lab's GPT, the tokenizer's for a pretrained model):
    # every generation trains on samples_per_generation sequences of this length (the real
    # ones for generation 0), so every generation sees the same tokens.
    sequence_length: int = field(default=128, metadata=bounds(ge=2))
    # Each continuation is prompted with the last prompt_length tokens of one real training
    # sequence (the paper's scheme); the model sees at most sequence_length - 1 at once.
    prompt_length: int = field(default=64, metadata=bounds(ge=1))
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

    def read(self) -> Corpus:
        """The corpus's training and held-out text."""
        raise NotImplementedError


@dataclass(frozen=True)
class PydocText(TextData):
    """The Python reference manual of the standard library, split by document (offline)."""

    # The Python reference manual that ships with Python (offline).
    name: Literal["pydoc"] = "pydoc"
    # Share of the text, in whole documents, held out for measuring.
    heldout_fraction: float = field(default=0.1, metadata=bounds(gt=0, lt=1))

    RETIRED: ClassVar[tuple[str, ...]] = ("root", "heldout_split")

    def read(self) -> Corpus:
        from lab.domains.text.corpora import pydoc_corpus

        return pydoc_corpus(self.heldout_fraction, self.split_seed)


@dataclass(frozen=True)
class WikitextText(TextData):
    """wikitext-2's raw files, placed by hand in <root>/wikitext-2-raw/."""

    # wikitext-2 (raw), the Nature paper's data, placed by hand.
    name: Literal["wikitext2"] = "wikitext2"
    # The folder that holds wikitext-2-raw/.
    root: str = "data"
    # The file held out for measuring (the training file is always wiki.train.raw).
    heldout_split: Literal["valid", "test"] = "test"

    RETIRED: ClassVar[tuple[str, ...]] = ("heldout_fraction",)

    def read(self) -> Corpus:
        from lab.domains.text.corpora import wikitext_corpus

        return wikitext_corpus(self.root, self.heldout_split)


@dataclass(frozen=True)
class TextFilesText(TextData):
    """Every .txt file under the folder `root` (subfolders included), one document each."""

    # Your own corpus: .txt files, one document each.
    name: Literal["textfiles"] = "textfiles"
    # The folder searched for .txt files.
    root: str = "data"
    # Share of the text, in whole documents, held out for measuring.
    heldout_fraction: float = field(default=0.1, metadata=bounds(gt=0, lt=1))

    RETIRED: ClassVar[tuple[str, ...]] = ("heldout_split",)

    def read(self) -> Corpus:
        from lab.domains.text.corpora import text_files_corpus

        return text_files_corpus(self.root, self.heldout_fraction, self.split_seed)


CORPORA: dict[str, type] = {
    "pydoc": PydocText,
    "wikitext2": WikitextText,
    "textfiles": TextFilesText,
}


@dataclass(frozen=True)
class TextSamplingConfig:
    """How continuations are drawn."""

    # Prompts continued at once (times sampling.beams rows with beam search).
    batch_size: int = field(default=1000, metadata=bounds(ge=1))
    # The text model's sampling bias: the next token is drawn from softmax(logits /
    # temperature); 1.0 is unbiased, below 1 sharpens towards the most likely token.
    temperature: float = field(default=1.0, metadata=bounds(gt=0))
    # Beam search of this many beams (the Nature paper's 5), which draws nothing: each
    # continuation is the likeliest of those the beams kept; 1 draws by sampling.
    beams: int = field(default=1, metadata={**bounds(ge=1), **omitted_at_default()})
    # Scores of tokens already in the prompt or the continuation are made less likely by this
    # factor (Keskar et al. 2019, as Hugging Face's generate applies it); 1.0: none.
    repetition_penalty: float = field(
        default=1.0, metadata={**bounds(gt=0), **omitted_at_default()}
    )

    # The keywords of `sample` that bias it; a config that sets one asks the model for it.
    BIASES: ClassVar[tuple[str, ...]] = ("temperature", "beams", "repetition_penalty")

    def check(self, prefix: str) -> None:
        if self.beams > 1 and self.temperature != 1.0:
            raise SchemaError(
                f"{prefix}.temperature",
                f"is {self.temperature}, but {prefix}.beams is {self.beams}: beam search keeps "
                "the likeliest continuations and draws nothing, so a temperature would not "
                f"apply; remove it, or set {prefix}.beams to 1",
            )


@dataclass(frozen=True, kw_only=True)
class TextExperiment(ExperimentConfig):
    """An experiment on prose: a language model trained on the previous one's writing."""

    model: Any = field(metadata=model_field(lambda: model_configs("text")))
    data: Any = field(metadata=by_kind(lambda: CORPORA, key="name"))
    sampling: TextSamplingConfig = field(default_factory=TextSamplingConfig)

    # Before the image domain owned them, every config held the image sections.
    RETIRED: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "": ("judge", "metrics"),
        "sampling": ("grid_rows", "truncation"),
    }

    def check_experiment(self) -> None:
        self.require_train()
        if self.train.batch_size > self.samples_per_generation:
            raise SchemaError(
                "train.batch_size",
                f"is {self.train.batch_size}, more than the {self.samples_per_generation} "
                "sequences a generation trains on (samples_per_generation); lower it",
            )
        self._check_curate_text()

    def _check_curate_text(self) -> None:
        """Text offers curators generation 0's model as judge (its confidence in each draw)
        and word n-gram features, but no classes; beam search draws nothing to choose among."""
        if self.curate is None:
            return
        labelled = [kind for kind in self.curate.kinds if kind in NEEDS_LABELS]
        if labelled:
            raise SchemaError(
                "curate.kind",
                f"is {labelled[0]!r}, which balances draws by class, but text has no classes; "
                "use judge_confidence, dedupe or feature_density (docs/curation.md)",
            )
        if self.sampling.beams > 1:
            raise SchemaError(
                "sampling.beams",
                f"is {self.sampling.beams}, but beam search draws nothing, so curation's extra "
                "draws would repeat the first ones; set it to 1 or remove the curate section",
            )

    def check_model_class(self, cls: type) -> None:
        """A text model is measured through its next-token logits (perplexity)."""
        if not callable(getattr(cls, LOGITS_METHOD, None)):
            raise SchemaError(
                "model.class_path",
                f"is {self.model.class_path!r}, which has no {LOGITS_METHOD}(sequences) method; "
                "the text domain measures perplexity with it (docs/models.md)",
            )

    def model_inputs(self) -> Mapping[str, str]:
        return {
            **super().model_inputs(),
            "sequence_length": "data.sequence_length",
            "vocabulary_size": f"the number of tokens ({BYTE_VALUES} bytes, or its tokenizer's)",
        }

    def sampling_biases(self) -> dict[str, Any]:
        return requested_biases(self.sampling)
