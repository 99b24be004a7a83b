"""`model: {kind: gpt, ...}`: the byte-level transformer of models/gpt.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lab.schema import SchemaError, bounds


@dataclass(frozen=True)
class GPTConfig:
    """GPT-2's design at toy size; the experiment files choose the size."""

    # The lab's byte-level GPT, trained from scratch (models/gpt.py).
    kind: Literal["gpt"] = "gpt"
    # Transformer blocks.
    layers: int = field(default=4, metadata=bounds(ge=1))
    # Attention heads per block.
    heads: int = field(default=4, metadata=bounds(ge=1))
    # Width of the embeddings and of every block; a multiple of heads.
    width: int = field(default=128, metadata=bounds(ge=1))
    # Dropout on attention weights and residual branches while training (0: none).
    dropout: float = field(default=0.0, metadata=bounds(ge=0, lt=1))
    # AdamW's decoupled weight decay on the weight matrices (not on biases, norms, positions).
    weight_decay: float = field(default=0.0, metadata=bounds(ge=0))
    # The learning rate rises linearly from 0 over warmup_steps, then (cosine) falls along a
    # half cosine to final_lr_fraction x train.lr at the last step; constant keeps train.lr.
    schedule: Literal["constant", "cosine"] = "constant"
    # Steps of linear learning-rate warm-up from 0 (0: none).
    warmup_steps: int = field(default=0, metadata=bounds(ge=0))
    # cosine: the learning rate at the last step, as a fraction of train.lr.
    final_lr_fraction: float = field(default=0.1, metadata=bounds(ge=0, le=1))

    def check(self, prefix: str) -> None:
        if self.width % self.heads:
            raise SchemaError(
                f"{prefix}.width",
                f"is {self.width}, not a multiple of model.heads {self.heads}; each head gets "
                "an equal share of the width",
            )
