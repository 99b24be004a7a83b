"""Reading a run's manifest back: its shape checked, and the one before it kept.

The manifest is what makes a generation count as finished, so a damaged one must never be
read as "no manifest" (that would start the run over and throw every finished generation
away) nor crash whoever reads it. Reading one returns None only when the file is absent;
anything else wrong is one sentence naming the file, what is wrong, and the way back:
every write keeps the manifest it replaces as manifest.prev.json (a hard link to the old
file, so it costs no copy), which is at most one write behind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lab.errors import RunDirError
from lab.rundir.atomic import discard, temporary_path

MANIFEST_FILE = "manifest.json"
PREVIOUS_MANIFEST_FILE = "manifest.prev.json"
MANIFEST_FORMAT = 1

# What every generation record holds (RunDirectory.commit_generations writes them).
_RECORD_FIELDS: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("status", str),
    ("metrics", dict),
    ("files", dict),
    ("wall_time_s", (int, float)),
)
# Run-level facts of the engine's that `status` and the report read, when present (a domain
# reads back its own, e.g. the judge's accuracy, leaving out what it cannot read).
_SECTIONS = ("in_progress", "last_failure", "reference", "versions")


class DamagedManifest(RunDirError):
    """manifest.json is there but cannot be used; the message offers the way back."""


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest of the run directory `path`, or None when it has none; DamagedManifest
    when it is unreadable, not JSON, of another format or of the wrong shape."""
    file = path / MANIFEST_FILE
    if not file.exists():
        return None
    manifest, problem = _load(file)
    if problem is None:
        return manifest
    raise DamagedManifest(f"'{file}' is damaged ({problem}); {_way_back(path)}.")


def manifest_problem(manifest: Any) -> str | None:
    """What is wrong with the shape of a parsed manifest, or None."""
    if not isinstance(manifest, dict):
        return f"it holds {_kind(manifest)} instead of a mapping"
    if manifest.get("format") != MANIFEST_FORMAT:
        return (
            f"its format is {manifest.get('format')!r}, not {MANIFEST_FORMAT}, so this "
            "version of collapse-lab did not write it"
        )
    generations = manifest.get("generations")
    if not isinstance(generations, list):
        return "it has no list of 'generations'"
    if not isinstance(manifest.get("name"), str):
        return "it has no 'name'"
    for index, record in enumerate(generations):
        problem = _record_problem(index, record)
        if problem:
            return problem
    for section in _SECTIONS:
        if section in manifest and not isinstance(manifest[section], dict):
            return f"its '{section}' is {_kind(manifest[section])}, not a mapping"
    progress = manifest.get("in_progress", {})
    if progress and not all(isinstance(progress.get(k), int) for k in ("generation", "pid")):
        return "its 'in_progress' has no generation and pid"
    return None


def keep_previous(path: Path) -> None:
    """Keep the current manifest as manifest.prev.json before it is replaced. A hard link:
    the atomic write that follows gives manifest.json a new file and leaves this one alone.
    Best effort: nothing is kept before the first manifest, or where links are not allowed."""
    link = temporary_path(path / PREVIOUS_MANIFEST_FILE)
    try:
        discard(link)
        os.link(path / MANIFEST_FILE, link)
        os.replace(link, path / PREVIOUS_MANIFEST_FILE)
    except OSError:
        discard(link)


def previous_manifest(path: Path) -> dict[str, Any] | None:
    """The run directory's manifest.prev.json when it is there and sound, else None."""
    file = path / PREVIOUS_MANIFEST_FILE
    if not file.is_file():
        return None
    manifest, problem = _load(file)
    return manifest if problem is None else None


def _load(file: Path) -> tuple[Any, str | None]:
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None, "it is not UTF-8 text"
    except OSError as err:
        return None, f"it cannot be read: {err.strerror or err}"
    if not text.strip():
        return None, "it is empty"
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as err:
        return None, f"it is not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})"
    return manifest, manifest_problem(manifest)


def _way_back(path: Path) -> str:
    start_over = (
        f"or delete {MANIFEST_FILE} to start the run over from generation 0 (or use a new "
        "--run-dir)"
    )
    previous, problem = _load(path / PREVIOUS_MANIFEST_FILE)
    if (path / PREVIOUS_MANIFEST_FILE).is_file() and problem is None:
        count = sum(r["status"] == "complete" for r in previous["generations"])
        return (
            f"'{path / PREVIOUS_MANIFEST_FILE}' is the manifest before the last write "
            f"({count} finished generation{'s' * (count != 1)}): copy it over {MANIFEST_FILE} "
            f"to resume from there, {start_over}"
        )
    return f"no earlier manifest is kept, so restore it from a backup {start_over}"


def _record_problem(index: int, record: Any) -> str | None:
    if not isinstance(record, dict):
        return f"generation record {index} is {_kind(record)}, not a mapping"
    number = record.get("generation")
    if number != index or isinstance(number, bool):
        return (
            f"record {index} is for generation {number!r}; records must be for generations "
            "0, 1, 2, ... in order"
        )
    for name, kind in _RECORD_FIELDS:
        if not isinstance(record.get(name), kind) or isinstance(record.get(name), bool):
            return f"generation {index}'s record has no valid '{name}'"
    files = record["files"]
    if not all(isinstance(name, str) and isinstance(h, str) for name, h in files.items()):
        return f"generation {index}'s 'files' are not file names with their sha256"
    values = record["metrics"].values()
    if not all(v is None or isinstance(v, (int, float)) for v in values):
        return f"generation {index}'s 'metrics' are not all numbers"
    return None


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"{type(value).__name__} {value!r}"[:60]
