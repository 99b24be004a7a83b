"""A small causal transformer over bytes, trained from scratch: the lab's language model.

GPT-2's design at toy size (Radford et al. 2019; Karpathy's nanoGPT): pre-norm blocks of
causal self-attention and a 4x MLP, learned positions, the output layer tied to the input
embedding, N(0, 0.02) initialisation with the residual projections scaled by 1/sqrt(2 x
layers). Tokens are bytes, so any text is its own encoding and samples are stored as real
text is, as uint8 sequences. The model is built for the data's sequence length L and sees at
most L - 1 bytes at once: it trains on predicting bytes 1..L-1 of each sequence from the ones
before.

`sample` continues prompts with one uniform number per new byte, drawn on the CPU from the
caller's generator before anything runs (models/decoding.py), so the random draws of a
generation do not depend on its batch size or device and a redone generation writes the
same text. Sampling bias is
`temperature` (1.0 unbiased; below 1 sharpens the distribution of the next byte towards its
mode), the same knob as for the image models. The Nature paper's decoding is beam search
with a repetition penalty (models/decoding.py, with the semantics of Hugging Face's
`generate`): `beams` > 1, over the same key/value cache.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from models.decoding import beam_search, draw, penalise, seen_tokens
from models.epoch_means import EpochMeans

MLP_RATIO = 4
INIT_STD = 0.02
# Once the context is full, sampling drops the oldest bytes and keeps this share of it, so a
# new cache is computed once per (1 - share) x context bytes rather than for every byte.
KEPT_CONTEXT_SHARE = 0.5


class Schedule(NamedTuple):
    """The learning rate over training, as a factor of train.lr (see _lr_factor)."""

    shape: str  # "constant" or "cosine"
    warmup_steps: int
    final_lr_fraction: float


class LayerCache:
    """One attention layer's keys and values of the bytes seen so far, while sampling:
    [B, heads, context, head width], zero beyond the bytes written."""

    def __init__(self) -> None:
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None


class SelfAttention(nn.Module):
    def __init__(self, width: int, heads: int, context: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.context = context
        self.dropout = dropout
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(
        self, x: torch.Tensor, cache: LayerCache | None = None, position: int = 0
    ) -> torch.Tensor:
        """Causal attention over `x` [B, T, width]. With a cache, `x` is either the whole
        window from position 0 (T bytes, which fill a fresh cache) or one new byte at
        `position`, which attends to every byte before it."""
        batch, length, width = x.shape
        shape = (batch, length, 3, self.heads, width // self.heads)
        q, k, v = self.qkv(x).view(shape).permute(2, 0, 3, 1, 4)
        if cache is None or position == 0:
            if cache is not None:  # a window from position 0 fills a fresh cache
                cache.keys = k.new_zeros((*k.shape[:2], self.context, k.shape[3]))
                cache.values = torch.zeros_like(cache.keys)
                cache.keys[:, :, :length] = k
                cache.values[:, :, :length] = v
            dropout = self.dropout if self.training else 0.0
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True)
        else:
            y = _attend_cached(q, k, v, cache, position)
        return self.out(y.transpose(1, 2).reshape(batch, length, width))


def _attend_cached(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cache: LayerCache, position: int
) -> torch.Tensor:
    """One new byte at `position` attends to itself and every byte before it. The products
    run over the whole (contiguous, zero-filled) cache with the later places masked: on a
    CPU that is faster than slicing the cache or a fused kernel for a single query."""
    cache.keys[:, :, position] = k[:, :, 0]
    cache.values[:, :, position] = v[:, :, 0]
    scores = (q @ cache.keys.transpose(-2, -1)) * q.shape[-1] ** -0.5
    later = torch.arange(cache.keys.shape[2], device=q.device) > position
    return torch.softmax(scores.masked_fill(later, float("-inf")), dim=-1) @ cache.values


class Block(nn.Module):
    """x + attention(norm(x)), then x + mlp(norm(x)): GPT-2's pre-norm residual block."""

    def __init__(self, width: int, heads: int, context: int, dropout: float) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(width)
        self.attention = SelfAttention(width, heads, context, dropout)
        self.mlp_norm = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, MLP_RATIO * width),
            nn.GELU(),
            nn.Linear(MLP_RATIO * width, width),
        )
        self.residual_dropout = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, cache: LayerCache | None = None, position: int = 0
    ) -> torch.Tensor:
        x = x + self.residual_dropout(self.attention(self.attention_norm(x), cache, position))
        return x + self.residual_dropout(self.mlp(self.mlp_norm(x)))


class Transformer(nn.Module):
    """Tokens [B, T] (T <= context) -> logits [B, T, vocabulary] of the token after each."""

    def __init__(
        self, vocabulary: int, width: int, heads: int, layers: int, dropout: float, context: int
    ) -> None:
        super().__init__()
        self.context = context
        self.tokens = nn.Embedding(vocabulary, width)
        self.positions = nn.Embedding(context, width)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(width, heads, context, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(width)
        self.apply(_initialise)
        for name, parameter in self.named_parameters():
            if name.endswith(("attention.out.weight", "mlp.2.weight")):
                nn.init.normal_(parameter, std=INIT_STD / math.sqrt(2 * layers))

    def forward(
        self,
        tokens: torch.Tensor,
        caches: list[LayerCache] | None = None,
        position: int = 0,
    ) -> torch.Tensor:
        places = torch.arange(position, position + tokens.shape[1], device=tokens.device)
        x = self.dropout(self.tokens(tokens) + self.positions(places))
        for index, block in enumerate(self.blocks):
            x = block(x, caches[index] if caches is not None else None, position)
        return self.norm(x) @ self.tokens.weight.T  # tied: the input embedding reads out

    def decode(self, tokens: torch.Tensor, caches: list[LayerCache], position: int) -> torch.Tensor:
        """Sampling's path, past a compiled `__call__` (its shapes change every byte): logits
        of `tokens` placed at `position`, their keys and values kept in `caches`."""
        return self.forward(tokens, caches, position)


def _initialise(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=INIT_STD)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


class GPT(L.LightningModule):
    """A decoder-only transformer for sequences of `sequence_length` tokens (bytes: the text
    domain's `vocabulary_size` is 256)."""

    def __init__(
        self,
        *,
        sequence_length: int,
        vocabulary_size: int,
        lr: float,
        layers: int,
        heads: int,
        width: int,
        dropout: float,
        weight_decay: float,
        schedule: str,
        warmup_steps: int,
        final_lr_fraction: float,
    ) -> None:
        super().__init__()
        self.lr = lr
        self.weight_decay = weight_decay
        self.schedule = Schedule(schedule, warmup_steps, final_lr_fraction)
        self.context = sequence_length - 1
        self.network = Transformer(vocabulary_size, width, heads, layers, dropout, self.context)
        self.epoch_means = EpochMeans()
        # Why training failed, in a sentence (read by the lab); None while it has not.
        self.diverged: str | None = None

    def next_byte_logits(self, sequences: torch.Tensor) -> torch.Tensor:
        """uint8 [B, L] -> logits [B, L - 1, vocabulary]: of byte t + 1 given bytes 0..t."""
        return self.network(sequences[:, :-1].long())

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        logits = self.next_byte_logits(batch)
        loss = F.cross_entropy(logits.float().flatten(0, 1), batch[:, 1:].long().flatten())
        self.epoch_means.add(loss=loss)
        return loss

    def on_train_epoch_end(self) -> None:
        sums = self.epoch_means.sums
        if self.diverged is None and sums is not None and not bool(torch.isfinite(sums).all()):
            self.diverged = "the training loss became NaN or infinite"
            self.trainer.should_stop = True  # nothing more to learn from NaN weights
        self.epoch_means.log(self)

    def configure_optimizers(self) -> dict[str, object]:
        matrices = [p for n, p in self.network.named_parameters() if _decays(n, p)]
        others = [p for n, p in self.network.named_parameters() if not _decays(n, p)]
        groups = [
            {"params": matrices, "weight_decay": self.weight_decay},
            {"params": others, "weight_decay": 0.0},
        ]
        optimizer = torch.optim.AdamW(groups, lr=self.lr)
        total = int(self.trainer.estimated_stepping_batches)
        factor = functools.partial(_lr_factor, schedule=self.schedule, total=total)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

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
        """Continue each prompt (uint8 [n, P]) by `length` bytes: uint8 [n, length] on the
        CPU, in eval mode, `batch_size` prompts at a time (with a progress bar named `label`
        when one is given and stderr is a terminal). `beams` above 1: the best of that many
        beams (models/decoding.py), which draws nothing from `generator`."""
        self.eval()
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
            chunk = chunk.to(self.device)
            if beams > 1:
                window = _Window(self.network)
                written = beam_search(window, chunk, length, beams, repetition_penalty)
            else:
                written = self._continue(
                    chunk, draws.to(self.device), temperature, repetition_penalty
                )
            parts.append(written.to(torch.uint8).cpu())
        return torch.cat(parts)

    def _continue(
        self,
        prompts: torch.Tensor,
        uniforms: torch.Tensor,
        temperature: float,
        repetition_penalty: float,
    ) -> torch.Tensor:
        """One batch of sampled continuations, one uniform number per byte."""
        window = _Window(self.network)
        logits = window.start(prompts.long())
        seen = seen_tokens(prompts, logits.shape[-1])
        length = uniforms.shape[1]
        written = torch.empty(uniforms.shape, dtype=torch.uint8, device=prompts.device)
        for step in range(length):
            scores = penalise(logits, seen, repetition_penalty)
            byte = draw(scores, uniforms[:, step], temperature)
            written[:, step] = byte
            seen[torch.arange(len(byte), device=byte.device), byte] = True
            if step + 1 < length:
                logits = window.advance(byte, None)
        return written


class _Window:
    """The bytes the network sees while decoding (models/decoding.py's Decoder): the window of
    bytes in the cache grows one byte at a time; once full, it keeps its newest
    KEPT_CONTEXT_SHARE and is encoded afresh."""

    def __init__(self, network: Transformer) -> None:
        self.network = network
        self.caches = [LayerCache() for _ in network.blocks]
        self.kept = max(1, int(network.context * KEPT_CONTEXT_SHARE))
        self.window: torch.Tensor

    def start(self, prompts: torch.Tensor) -> torch.Tensor:
        self.window = prompts[:, -self.network.context :].long()
        return self.network.decode(self.window, self.caches, 0)[:, -1]

    def advance(self, tokens: torch.Tensor, order: torch.Tensor | None) -> torch.Tensor:
        if order is not None:
            self.window = self.window[order]
            for cache in self.caches:
                cache.keys, cache.values = cache.keys[order], cache.values[order]
        new = tokens.long().unsqueeze(1)
        if self.window.shape[1] < self.network.context:
            logits = self.network.decode(new, self.caches, self.window.shape[1])
            self.window = torch.cat([self.window, new], dim=1)
        else:
            self.window = torch.cat([self.window, new], dim=1)[:, -self.kept :]
            logits = self.network.decode(self.window, self.caches, 0)
        return logits[:, -1]


def _lr_factor(step: int, schedule: Schedule, total: int) -> float:
    """The learning rate at optimiser step `step` of `total`, as a factor of train.lr."""
    if step < schedule.warmup_steps:
        return (step + 1) / schedule.warmup_steps
    if schedule.shape == "constant":
        return 1.0
    progress = (step - schedule.warmup_steps) / max(1, total - schedule.warmup_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return schedule.final_lr_fraction + (1 - schedule.final_lr_fraction) * cosine


def _decays(name: str, parameter: nn.Parameter) -> bool:
    """Weight decay applies to the matrices of the linear layers and the byte embedding."""
    return parameter.dim() == 2 and not name.startswith("positions")
