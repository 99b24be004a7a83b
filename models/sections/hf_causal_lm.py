"""`model: {kind: hf_causal_lm, pretrained: ...}`: a pretrained Hugging Face causal language
model (models/hf_causal_lm.py), as the Nature paper fine-tunes OPT-125m each generation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from lab.schema import SchemaError, bounds
from models.pretrained import problem


@dataclass(frozen=True, kw_only=True)
class HFCausalLMConfig:
    """A hub id (facebook/opt-125m) or a folder written by save_pretrained (model and
    tokenizer); text is cut into the model's own tokens."""

    # A pretrained Hugging Face causal language model, fine-tuned each generation.
    kind: Literal["hf_causal_lm"] = "hf_causal_lm"
    # A hub id (facebook/opt-125m) or a folder written by save_pretrained.
    pretrained: str
    # AdamW's decoupled weight decay on every weight while fine-tuning (0: none).
    weight_decay: float = field(default=0.0, metadata=bounds(ge=0))

    # It has pretrained weights: train.init_from may be (and by default is) pretrained.
    PRETRAINED_WEIGHTS: ClassVar[bool] = True

    def check_available(self, prefix: str) -> None:
        """A folder save_pretrained did not write, or a hub id missing offline, is refused
        when an experiment file loads (lab/config.py), not when a finished run is read."""
        found = problem(self.pretrained)
        if found is not None:
            raise SchemaError(f"{prefix}.pretrained", found)
