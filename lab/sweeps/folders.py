"""The folders `sweep`, `nightly` and `compare` write into, checked before anything is
written: a file at (or above) such a path cannot hold their files, and a run directory's files
belong to its run (resume, `check` and the hashes of its manifest read them), so nothing of
another command goes into one or any folder inside it."""

from __future__ import annotations

from pathlib import Path

from lab.errors import ConfigError, RunDirError
from lab.rundir.directory import CONFIG_FILE
from lab.rundir.locks import LOCK_FILE, RunLock, lock_holder
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
    """What is wrong with `folder`, in words that follow its name; None when nothing is.
    The folders above it are those of its absolute path: a relative one given from inside
    a run is inside that run."""
    for place in (folder, *folder.absolute().parents):
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


def hold_folder(folder: Path, holds: str) -> RunLock:
    """Take the lock of a sweep's (or a night's) folder, as a run takes its own
    (lab/rundir/locks.py): a second process into the same folder would rewrite its record
    under the first. `holds` names the folder in the refusal, e.g. "sweep folder"."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunDirError(
            f"cannot create the {holds} '{folder}' ({err.strerror}); give a folder this user "
            "can write to."
        ) from None
    lock = RunLock(folder)
    try:
        lock.acquire()
    except RunDirError:
        holder = lock_holder(folder)
        if holder is None:  # not a second process: the lock file itself is unusable
            raise
        raise RunDirError(
            f"{holds} '{folder}' is in use by {holder}; wait for it to finish (or stop it), "
            "then run the same command again."
        ) from None
    return lock
