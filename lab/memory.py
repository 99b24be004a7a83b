"""Sizes that cannot fit in this machine's memory, refused before anything is allocated.

A config asking for 10^9 samples per generation, 10^9 Gaussian chains or a 10^8-dimensional
latent would otherwise run for minutes and then die in the allocator with a traceback. Each
check compares what a size needs *at the least* (so nothing that could fit is refused) with
the memory there is: the machine's RAM, or the container's limit where that is lower.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

from lab.errors import ConfigError

# The memory limit of this process's cgroup (v2, then v1), where one is set.
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def memory_bytes() -> int:
    """The memory a process here can have: physical RAM, or the cgroup's limit or the
    process's address-space limit (`ulimit -v`) where one is lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    address_space, _ = resource.getrlimit(resource.RLIMIT_AS)
    if address_space != resource.RLIM_INFINITY:
        total = min(total, address_space)
    for file in _CGROUP_LIMITS:
        try:
            text = Path(file).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def refuse_if_too_large(needed: int, what: str, fix: str) -> None:
    """ConfigError unless `needed` bytes fit in memory: '`what` would need at least N, more
    than the M of memory here; `fix`.'"""
    available = memory_bytes()
    if needed > available:
        raise ConfigError(
            f"{what} would need at least {format_bytes(needed)}, more than the "
            f"{format_bytes(available)} of memory here; {fix}."
        )


def format_bytes(count: float) -> str:
    """1536 -> '1.5 KiB'."""
    unit = 0
    while count >= 1024 and unit < len(_UNITS) - 1:
        count /= 1024
        unit += 1
    return f"{count:.0f} bytes" if unit == 0 else f"{count:.1f} {_UNITS[unit]}"
