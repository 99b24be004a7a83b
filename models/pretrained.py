"""Where a pretrained Hugging Face model comes from, and why it cannot be had, in a sentence.

Torch-free, so a config naming one is checked when it loads, before a run folder is bound.
`model.pretrained` is a local folder written by `save_pretrained` (the model and its
tokenizer) or a hub id such as facebook/opt-125m: with the hub it downloads into the usual
cache (HF_HOME); offline (HF_HUB_OFFLINE=1, or no network) the id must already be there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

CONFIG_FILE = "config.json"
# What save_pretrained writes for the weights (safetensors by default; PyTorch's older
# format, and the index of a model saved in shards).
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
# A fast tokenizer's one file, or the configuration a slower one is rebuilt from.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
_TRUE = {"1", "true", "yes", "on"}


def is_local(name: str) -> bool:
    """Whether `name` means a folder (it exists, or is written as a path) rather than a hub id."""
    return Path(name).expanduser().is_dir() or name.startswith(("/", ".", "~")) or "\\" in name


def folder_problem(name: str) -> str | None:
    """Why the folder `name` is not a model that save_pretrained wrote (None if it is), as
    the rest of a sentence that names the key."""
    folder = Path(name).expanduser()
    if not folder.is_dir():
        return (
            f"is {name!r}, but there is no such folder; give a folder written by "
            "save_pretrained (model and tokenizer), or a hub id such as facebook/opt-125m"
        )
    missing = []
    if not (folder / CONFIG_FILE).is_file():
        missing.append(f"its configuration ({CONFIG_FILE})")
    if not any((folder / file).is_file() for file in WEIGHT_FILES):
        missing.append(f"weights ({' or '.join(WEIGHT_FILES[::2])})")
    if not any((folder / file).is_file() for file in TOKENIZER_FILES):
        missing.append(f"a tokenizer ({' or '.join(TOKENIZER_FILES)})")
    if not missing:
        try:
            json.loads((folder / CONFIG_FILE).read_text())["model_type"]
        except (ValueError, KeyError, TypeError):
            missing.append(f"a readable {CONFIG_FILE} naming its model_type")
    if missing:
        return (
            f"is {name!r}, a folder without {' and without '.join(missing)}, so not a model "
            "saved by save_pretrained; save the model and its tokenizer there with "
            "save_pretrained(folder)"
        )
    return None


def offline() -> bool:
    """Whether the hub may not be asked (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE set)."""
    return any(os.environ.get(name, "").lower() in _TRUE for name in OFFLINE_VARIABLES)


def cached(hub_id: str) -> bool:
    """Whether the hub id's configuration is in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    try:  # HF_HUB_CACHE read now, not when huggingface_hub was imported
        found = try_to_load_from_cache(
            hub_id, CONFIG_FILE, cache_dir=os.environ.get("HF_HUB_CACHE")
        )
    except ValueError:  # not a valid hub id
        return False
    return isinstance(found, str)


def missing_offline(hub_id: str, why: str) -> str:
    """The sentence (without its full stop) for a hub id that cannot be downloaded."""
    return (
        f"is {hub_id!r}, which is not in the Hugging Face cache and cannot be downloaded "
        f"({why}); run once where the hub is reachable to fill the cache (HF_HOME), or "
        f"save the model and its tokenizer with save_pretrained into a folder and give "
        f"that folder"
    )


def problem(name: str) -> str | None:
    """Why `name` cannot be loaded without asking the network, when that can be told now:
    a folder that is not a save_pretrained one, or a hub id missing from the cache while
    offline (None otherwise; a download that fails is told when it fails)."""
    if is_local(name):
        return folder_problem(name)
    if offline() and not cached(name):
        return missing_offline(name, f"{' or '.join(OFFLINE_VARIABLES)} is set")
    return None
