"""Writes that never leave half a file: a reader sees the old bytes or the new ones.

Every file of a run directory (and every cache file) goes through `write_atomic`, so a run
killed at any moment, or a full disk, never corrupts what was there before.
"""

from __future__ import annotations

import os
from pathlib import Path

from lab.errors import RunDirError
from lab.rundir import faults


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary sibling, fsync, rename: readers see the old file or the new one.

    A failed write (disk full, permissions) removes the temporary file and raises one
    RunDirError sentence; the file it would have replaced is untouched.
    """
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
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
        temporary.unlink(missing_ok=True)
