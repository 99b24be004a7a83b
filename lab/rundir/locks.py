"""One process per run directory, enforced with an flock on RUN/.lock.

The kernel releases an flock when its process exits, however it exits (SIGKILL and
power loss included), so a lock left behind by a killed run is simply free to take:
no PID-liveness guesses, no stale-lock timeouts. The file holds the owner's PID so
that a refused second run, and `collapse-lab status`, can say who holds it.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import socket
from pathlib import Path

from lab.errors import RunDirError

LOCK_FILE = ".lock"
log = logging.getLogger("collapse_lab")


class RunLock:
    """Held from `acquire` until `release` (or the process dies)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK_FILE
        self.fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RunDirError(
                f"cannot create the run directory '{self.path.parent}' ({err.strerror}); "
                "choose a writable --run-dir."
            ) from None
        try:
            # Never through a symbolic link: that would create or lock a file elsewhere.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise RunDirError(
                    f"the lock file '{self.path}' is a symbolic link, which the lab does not "
                    "follow (it would lock a file outside the run); remove the link, or choose "
                    "another --run-dir."
                ) from None
            raise RunDirError(
                f"cannot open the lock file '{self.path}' ({err.strerror}); it must be a "
                "writable file, so remove what is there or make the folder writable, or choose "
                "another --run-dir."
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(_read_owner(fd))
            os.close(fd)
            raise RunDirError(
                f"run directory '{self.path.parent}' is in use by {holder}; wait for it "
                "to finish (or stop it), then run the same command again."
            ) from None
        previous = _read_owner(fd)
        if previous:
            log.warning(
                "taking over the lock of %s, which stopped without releasing it (killed?)",
                _describe(previous),
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
        self.fd = fd

    def release(self) -> None:
        """Empty the file (a clean exit leaves no owner behind), then unlock."""
        if self.fd is None:
            return
        os.ftruncate(self.fd, 0)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None


def lock_holder(run_dir: Path) -> str | None:
    """'process PID on HOST' holding the run directory's lock, or None when it is free."""
    path = run_dir / LOCK_FILE
    if not path.is_file():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _describe(_read_owner(fd))
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_owner(fd: int) -> str:
    return os.pread(fd, 256, 0).decode(errors="replace").strip()


def _describe(owner: str) -> str:
    pid, _, host = owner.partition(" ")
    if not pid:
        return "an unknown process"
    return f"process {pid} on {host}" if host else f"process {pid}"
