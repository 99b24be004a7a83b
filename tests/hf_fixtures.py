"""Write a tiny Hugging Face causal language model as `save_pretrained` writes one: a randomly
initialised OPT (the Nature paper's architecture, at toy size) and a byte-level BPE tokenizer
trained with `tokenizers` on the offline corpus (the Python manual of pydoc_data.topics), in
one folder that `model.pretrained` can name (config.json, model.safetensors, tokenizer.json).

`python -m tests.hf_fixtures DIR` writes one (bench/gpu_check.sh uses it on a box without the
hub).
"""

from __future__ import annotations

import sys
from pathlib import Path
from pydoc_data.topics import topics

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import OPTConfig, OPTForCausalLM, PreTrainedTokenizerFast

VOCABULARY = 400
WIDTH, LAYERS, HEADS = 32, 2, 2
# Room for a prompt and its continuation in every test.
POSITIONS = 256
SEED = 0
# OPT's own special tokens: </s> begins and ends documents, <pad> pads.
BEGIN, PAD = "</s>", "<pad>"


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE (as OPT's and GPT-2's) trained on the Python manual."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCABULARY,
        special_tokens=[PAD, BEGIN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(topics.values(), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=BEGIN, eos_token=BEGIN, pad_token=PAD
    )


def write_tiny_opt(folder: Path) -> Path:
    """A tiny OPT and its tokenizer in `folder`, written with save_pretrained; returns it."""
    tokenizer = tiny_tokenizer()
    config = OPTConfig(
        vocab_size=len(tokenizer),
        hidden_size=WIDTH,
        word_embed_proj_dim=WIDTH,
        ffn_dim=4 * WIDTH,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        max_position_embeddings=POSITIONS,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(SEED)
    OPTForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


if __name__ == "__main__":
    print(write_tiny_opt(Path(sys.argv[1])))
