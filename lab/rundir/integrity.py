"""Whether a run's files are still what its manifest vouches for, by their sha256.

One answer for everyone who asks: `run` (which redoes the first damaged generation and every
one after it, since they trained on its samples), `status` (which must not call a damaged
generation done) and the readers of a finished run (report, compare).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lab.rundir.manifest import MANIFEST_FILE
from lab.rundir.storage import sha256_file

# Below this many bytes to hash, no progress bar: it would only flicker.
PROGRESS_MIN_BYTES = 1 << 30


@dataclass(frozen=True)
class Damage:
    """The first finished generation whose files do not match, and why."""

    generation: int
    problem: str


def first_damage(path: Path, records: Sequence[Mapping[str, Any]]) -> Damage | None:
    """The first record (in order) that is not complete or whose files are missing or do
    not match their hashes; None when every one holds. Each file is hashed once, however
    many records of a block list it; a bar shows the progress of a long check."""
    sizes = {
        relative: (path / relative).stat().st_size if (path / relative).is_file() else 0
        for record in records
        for relative in record.get("files", {})
    }
    hashes: dict[str, str | None] = {}
    total = sum(sizes.values())
    with tqdm(
        total=total,
        desc="checking hashes",
        unit="B",
        unit_scale=True,
        leave=False,
        disable=True if total < PROGRESS_MIN_BYTES else None,
    ) as bar:
        for record in records:
            problem = _problem(path, record, hashes, sizes, bar)
            if problem:
                return Damage(int(record["generation"]), problem)
    return None


def _problem(
    path: Path,
    record: Mapping[str, Any],
    hashes: dict[str, str | None],
    sizes: Mapping[str, int],
    bar: tqdm,
) -> str | None:
    if record.get("status") != "complete":
        return f"its status is {record.get('status')!r}"
    for relative, digest in record["files"].items():
        if relative not in hashes:
            hashes[relative] = _hash(path / relative)
            bar.update(sizes[relative])
        if hashes[relative] is None:
            return f"{relative} is missing or unreadable"
        if hashes[relative] != digest:
            return f"{relative} does not match the hash in {MANIFEST_FILE}"
    return None


def _hash(file: Path) -> str | None:
    try:
        return sha256_file(file)
    except OSError:  # missing, a folder, or unreadable
        return None
