"""Writes that never leave half a file: a reader sees the old bytes or the new ones.

Every file of a run directory (and every cache file) goes through `write_atomic`, so a run
killed at any moment, or a full disk, never corrupts what was there before. A process
killed between writing its temporary file and renaming it leaves that file behind
(`.NAME.tmp-PID`, as large as the file it was writing); `remove_temporaries` clears them.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from lab.errors import RunDirError
from lab.rundir import faults

_TEMPORARY = re.compile(r"\..+\.tmp-(\d+)")


def temporary_path(path: Path) -> Path:
    """Where `path`'s new bytes are written before the rename: a hidden sibling named after
    the writing process, so two processes never share one."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary sibling, fsync, rename: readers see the old file or the new one.

    A failed write (disk full, permissions, a read-only file system) removes the temporary
    file where it can and raises one RunDirError sentence; the file it would have replaced
    is untouched.
    """
    temporary = temporary_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        faults.reached(f"before-rename:{path.name}")
        os.replace(temporary, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as err:
        raise RunDirError(
            f"could not write '{path}' ({err.strerror or err}); free space or fix permissions, "
            "then run the same command again to resume."
        ) from None
    finally:
        discard(temporary)


def remove(path: Path) -> None:
    """Delete a file that is no longer wanted; one RunDirError sentence when the folder
    refuses (permissions, a read-only file system)."""
    try:
        path.unlink(missing_ok=True)
    except OSError as err:
        raise RunDirError(
            f"could not remove '{path}' ({err.strerror or err}); fix permissions, then run "
            "the same command again."
        ) from None


def discard(temporary: Path) -> None:
    """Remove a temporary file if it is there. Cleaning up never hides the error that made
    it necessary: on a read-only file system even removing a missing file fails (EROFS)."""
    with contextlib.suppress(OSError):
        temporary.unlink(missing_ok=True)


def is_temporary(name: str) -> bool:
    """Whether the file `name` is the temporary of an atomic write (`.NAME.tmp-PID`)."""
    return _TEMPORARY.fullmatch(name) is not None


def is_temporary_of(name: str, target: str) -> bool:
    """Whether the file `name` is a temporary of a write to `target` (a file name)."""
    return is_temporary(name) and name.startswith(f".{target}.tmp-")


def remove_temporaries(folder: Path) -> tuple[int, int]:
    """Remove the temporary files under `folder` whose writer is no longer running (a live
    writer, e.g. `collapse-lab report` beside a run, keeps its file); (count, bytes) removed."""
    count = size = 0
    for file in folder.rglob(".*.tmp-*"):
        match = _TEMPORARY.fullmatch(file.name)
        if match is None or not file.is_file() or _running(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            length = file.stat().st_size
            file.unlink()
            count, size = count + 1, size + length
    return count, size


def _running(pid: int) -> bool:
    """Whether another live process has this PID (this process's own leftovers, from a
    killed process that had the same PID, are not in use)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process (or no such PID at all)
        return False
    except PermissionError:  # alive, under another user
        return True
    return True
