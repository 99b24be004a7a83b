"""A pretrained Hugging Face causal language model, fine-tuned each generation: the Nature
paper's OPT-125m (Shumailov et al. 2024), or any model `AutoModelForCausalLM` loads.

The network and its tokenizer come from `pretrained` (a hub id or a save_pretrained folder);
text is cut into the tokenizer's tokens (`text_tokens`), so `sequence_length` counts them.
Each generation starts from the pretrained weights (`from_pretrained`, train.init_from:
pretrained or previous) or from weights drawn afresh for the same architecture (scratch).

`sample` decodes through `generate`: beam search (`beams` > 1, the paper's 5, with its
`repetition_penalty`) draws nothing; sampling (`beams` 1) draws one uniform number per
token from the caller's generator and picks the token by the inverse of the cumulative
softmax(scores / temperature) (models/decoding.py, as a logits processor before greedy
decoding), so a redone generation writes the same text whatever the batch size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

import lightning as L
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from lab.errors import ConfigError
from models.decoding import draw
from models.epoch_means import EpochMeans
from models.hf_tokens import TOKEN_DTYPE, PretrainedTokens
from models.pretrained import is_local, missing_offline

PRETRAINED_KEY = "model.pretrained"
T = TypeVar("T")


def _quiet_transformers() -> None:
    """No progress bars or advice from transformers while the lab shows its own."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


def _loaded(name: str, load: Callable[[str], T]) -> T:
    """`load(name)`, with a failed download as one sentence naming the key."""
    _quiet_transformers()
    try:
        return load(name)
    except OSError as err:
        if is_local(name):
            raise ConfigError(
                f"key '{PRETRAINED_KEY}' is {name!r}, a folder transformers cannot load "
                f"({err}); save the model and its tokenizer there with save_pretrained."
            ) from None
        raise ConfigError(
            f"key '{PRETRAINED_KEY}' {missing_offline(name, 'the hub could not be reached')}."
        ) from None


class HFCausalLM(L.LightningModule):
    """`AutoModelForCausalLM` from `pretrained`, trained on token sequences [B, L]."""

    def __init__(
        self,
        *,
        pretrained: str,
        weight_decay: float,
        lr: float,
        from_pretrained: bool,
    ) -> None:
        super().__init__()
        from transformers import AutoConfig, AutoModelForCausalLM

        self.lr = lr
        self.weight_decay = weight_decay
        # On the meta device (where the lab counts parameters) there are no weights to load.
        if from_pretrained and torch.empty(0).device.type != "meta":
            self.network = _loaded(pretrained, AutoModelForCausalLM.from_pretrained)
        else:
            config = _loaded(pretrained, AutoConfig.from_pretrained)
            self.network = AutoModelForCausalLM.from_config(config)
        self.network.train()  # from_pretrained returns it in eval mode (no dropout)
        self.epoch_means = EpochMeans()
        # Why training failed, in a sentence (read by the lab); None while it has not.
        self.diverged: str | None = None

    @staticmethod
    def text_tokens(*, pretrained: str, **_: object) -> PretrainedTokens:
        """The tokenizer the text is cut with (the text domain asks before building)."""
        from transformers import AutoTokenizer

        return PretrainedTokens(_loaded(pretrained, AutoTokenizer.from_pretrained), pretrained)

    def next_byte_logits(self, sequences: torch.Tensor) -> torch.Tensor:
        """Token ids [B, L] -> logits [B, L - 1, vocabulary]: of token t + 1 given 0..t."""
        return self.network(input_ids=sequences[:, :-1].long()).logits

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        logits = self.next_byte_logits(batch)
        loss = F.cross_entropy(logits.float().flatten(0, 1), batch[:, 1:].long().flatten())
        self.epoch_means.add(loss=loss)
        return loss

    def on_train_epoch_end(self) -> None:
        sums = self.epoch_means.sums
        if self.diverged is None and sums is not None and not bool(torch.isfinite(sums).all()):
            self.diverged = "the training loss became NaN or infinite"
            self.trainer.should_stop = True
        self.epoch_means.log(self)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            self.network.parameters(), lr=self.lr, weight_decay=self.weight_decay
        )

    @torch.inference_mode()
    def sample(
        self,
        prompts: torch.Tensor,
        length: int,
        generator: torch.Generator,
        batch_size: int = 1000,
        temperature: float = 1.0,
        beams: int = 1,
        repetition_penalty: float = 1.0,
        label: str | None = None,
    ) -> torch.Tensor:
        """Continue each prompt (token ids [n, P]) by `length` tokens: int32 [n, length] on
        the CPU, `batch_size` prompts at a time, each the best of `beams` beams, or drawn."""
        self.eval()
        self._check_positions(prompts.shape[1] + length)
        uniforms = torch.rand((len(prompts), length), generator=generator, dtype=torch.float64)
        batches = zip(prompts.split(batch_size), uniforms.split(batch_size), strict=True)
        shown = tqdm(
            batches,
            total=math.ceil(len(prompts) / batch_size),
            desc=label,
            unit="batch",
            leave=False,
            disable=None if label else True,
        )
        parts = []
        for chunk, draws in shown:
            chunk = chunk.to(self.device).long()
            drawn = None if beams > 1 else _Draw(draws.to(self.device), temperature, chunk.shape[1])
            written = self._decode(chunk, length, beams, repetition_penalty, drawn)
            parts.append(written[:, chunk.shape[1] :].to(TOKEN_DTYPE).cpu())
        return torch.cat(parts)

    def _check_positions(self, needed: int) -> None:
        """A prompt and its continuation must fit the positions the network reads."""
        limit = getattr(self.network.config, "max_position_embeddings", None)
        if limit is not None and needed > limit:
            raise ConfigError(
                f"keys 'data.prompt_length' and 'data.sequence_length' make prompts and their "
                f"continuations {needed} tokens long, more than the {limit} positions "
                f"{self.network.config.name_or_path or 'the model'} reads; lower them."
            )

    def _decode(
        self,
        prompts: torch.Tensor,
        length: int,
        beams: int,
        repetition_penalty: float,
        drawn: _Draw | None = None,
    ) -> torch.Tensor:
        """transformers' `generate`, exactly `length` new tokens (no end of text before),
        greedy over `drawn`'s picks when sampling; every setting given, so the folder's
        generation_config.json does not change the decoding."""
        from transformers import GenerationConfig, LogitsProcessorList

        special = self.network.config
        settings = GenerationConfig(
            do_sample=False,
            num_beams=beams,
            repetition_penalty=repetition_penalty,
            max_new_tokens=length,
            min_new_tokens=length,
            length_penalty=1.0,
            early_stopping=False,
            pad_token_id=special.pad_token_id,
            eos_token_id=special.eos_token_id,
            bos_token_id=special.bos_token_id,
        )
        processors = LogitsProcessorList([drawn] if drawn is not None else [])
        return self.network.generate(
            prompts,
            attention_mask=torch.ones_like(prompts),
            generation_config=settings,
            logits_processor=processors,
        )


class _Draw:
    """A logits processor that leaves only the token drawn by inverse-CDF sampling from
    softmax(scores / temperature) with the row's uniform number of this step (after the
    repetition penalty, as HF orders them), so greedy decoding picks it."""

    def __init__(self, uniforms: torch.Tensor, temperature: float, prompt_length: int) -> None:
        self.uniforms = uniforms
        self.temperature = temperature
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        step = input_ids.shape[1] - self.prompt_length
        picked = draw(scores, self.uniforms[:, step], self.temperature)
        only = torch.full_like(scores, float("-inf"))
        return only.scatter_(1, picked.unsqueeze(1), 0.0)
