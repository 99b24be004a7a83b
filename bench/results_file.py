"""bench/RESULTS.md and bench/results.json hold every benchmark's latest results, one section
per (benchmark, machine), so rerunning one benchmark on one card replaces its own section and
keeps the others (the PRDC benchmark on a CPU beside the speed tables of several cards)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

TITLE = "# Benchmarks"
INTRO = (
    "Each section is written by the command it names and replaced when that command runs "
    "again on the same machine; sections of other benchmarks and other machines stay."
)


def _markers(key: str) -> tuple[str, str]:
    return f"<!-- begin {key} -->", f"<!-- end {key} -->"


def write_section(path: Path, key: str, text: str) -> None:
    """Put `text` into `path` as the section named `key`, replacing that section if present
    and appending it otherwise. Text outside sections (an older layout) is kept after the
    title."""
    begin, end = _markers(key)
    block = f"{begin}\n{text.strip()}\n{end}"
    existing = path.read_text() if path.is_file() else f"{TITLE}\n\n{INTRO}\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(existing):
        updated = pattern.sub(lambda _: block, existing)
    else:
        updated = existing.rstrip("\n") + f"\n\n{block}\n"
    _write(path, updated if updated.endswith("\n") else updated + "\n")


def remove_section(path: Path, key: str) -> None:
    """Drop the section named `key` from `path`, if both exist (a placeholder a measurement
    replaces, such as the note that a card's figures are not measured yet)."""
    if not path.is_file():
        return
    begin, end = _markers(key)
    pattern = re.compile(r"\n*" + re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.DOTALL)
    existing = path.read_text()
    updated = pattern.sub("\n", existing)
    if updated != existing:
        _write(path, updated)


def update_json(path: Path, key: str, value: Any) -> None:
    """Set `key` in the JSON object stored at `path` (created if absent), keeping other keys."""
    stored = json.loads(path.read_text()) if path.is_file() else {}
    stored[key] = value
    _write(path, json.dumps(stored, indent=2, sort_keys=True) + "\n")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_text(text)
    os.replace(temporary, path)
