"""The folders `sweep`, `nightly` and `compare` write into, checked before anything is
written: a file at (or above) such a path cannot hold their files, and a run directory's files
belong to its run (resume, `check` and the hashes of its manifest read them), so nothing of
another command goes into one or any folder inside it."""

from __future__ import annotations

from pathlib import Path

from lab.errors import ConfigError
from lab.rundir.directory import CONFIG_FILE
from lab.rundir.locks import LOCK_FILE
from lab.rundir.manifest import MANIFEST_FILE


def refuse_unusable_folder(folder: Path, named: str, purpose: str) -> None:
    """One sentence when `folder` cannot take the output: it starts with `named` (how the
    user gave the folder, e.g. "--out 'x'") and says which folder to give (`purpose`)."""
    problem = _problem(folder)
    if problem:
        raise ConfigError(
            f"{named} {problem}; give {purpose}, outside any run directory (it is created "
            "when missing)."
        )


def _problem(folder: Path) -> str | None:
    """What is wrong with `folder`, in words that follow its name; None when nothing is."""
    for place in (folder, *folder.parents):
        inside = "" if place == folder else "inside "
        if place.exists() and not place.is_dir():
            return "is a file, not a folder" if place == folder else f"is inside '{place}', a file"
        if is_run_directory(place):
            return f"is {inside}the run directory '{place}', whose files belong to that run"
    return None


def is_run_directory(folder: Path) -> bool:
    """A collapse-lab run's folder: its manifest, or its config beside its lock (a run never
    removes its lock file), so a stray config.yaml elsewhere does not count."""
    if (folder / MANIFEST_FILE).is_file():
        return True
    return (folder / CONFIG_FILE).is_file() and (folder / LOCK_FILE).is_file()
