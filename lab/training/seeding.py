"""Seeds derived from (experiment seed, purpose, generation).

Each generation seeds itself from its own number, not from whatever the process did before,
so a generation redone after a crash or on resume draws exactly the same numbers.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np
import torch


def derive_seed(seed: int, *parts: object) -> int:
    """A stable 63-bit seed per purpose (sha256, since Python's hash() is salted per process)."""
    text = ":".join(str(p) for p in (seed, *parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) before building or training a model."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def cpu_generator(seed: int) -> torch.Generator:
    """Noise is drawn on the CPU, so the same seed gives the same latents on any device."""
    return torch.Generator().manual_seed(seed)
