"""A sweep or a night stopped by SIGTERM or Ctrl-C stops its cells within seconds.

While cells run, the first SIGTERM or SIGINT is passed on to every cell process this process
started (each a `collapse-lab run`, which records the interruption in its manifest and exits
143 or 130), no further cell starts, and the executor returns once the running cells have
ended, so the record says how each one ended and which the stop interrupted. The caller then
raises Interrupted: the command exits as `run` does, and running it again resumes. A second
signal ends this process at once (its cells get SIGTERM as they die with it, see
lab/sweeps/cells.py). Cells run in process groups of their own, so a terminal's Ctrl-C
reaches each of them once, passed on from here, not twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from lab.errors import EXIT_SIGINT, EXIT_SIGTERM, Interrupted

# How each signal is said, and the exit status it ends a run (and the sweep) with.
_STOPS = {signal.SIGTERM: ("SIGTERM", EXIT_SIGTERM), signal.SIGINT: ("Ctrl-C", EXIT_SIGINT)}


class CellProcesses:
    """The cell processes of this process that have not ended yet. Once a stop is passed on,
    a cell whose launch was already under way gets the signal as soon as it starts."""

    def __init__(self) -> None:
        # Reentrant: the signal handler runs in the main thread, whatever it was doing.
        self._guard = threading.RLock()
        self._running: set[subprocess.Popen] = set()
        self._passing_on: int | None = None

    def add(self, process: subprocess.Popen) -> None:
        with self._guard:
            self._running.add(process)
            if self._passing_on is not None:
                process.send_signal(self._passing_on)

    def remove(self, process: subprocess.Popen) -> None:
        with self._guard:
            self._running.discard(process)

    def pass_on(self, signum: int | None) -> None:
        """Send `signum` to every running cell and every cell that starts from now on
        (None: stop doing so)."""
        with self._guard:
            self._passing_on = signum
            if signum is None:
                return
            for process in list(self._running):
                process.send_signal(signum)


CELL_PROCESSES = CellProcesses()


@dataclass
class Stop:
    """Whether (and by which signal) the cells were told to stop, and which cells it cut
    short. Executors start no cell once `requested`."""

    # The signal as the record says it ("SIGTERM", "Ctrl-C"), once one came, and its status.
    by: str | None = None
    exit_code: int | None = None
    at: str | None = None
    interrupted: list[str] = field(default_factory=list)
    # The handlers to put back when the cells are done (the command's own).
    _previous: dict[int, Any] = field(default_factory=dict)

    @property
    def requested(self) -> bool:
        return self.by is not None

    def ended(self, name: str, finished: bool) -> None:
        """Note a cell that ended after the stop without finishing: the stop cut it short."""
        if self.requested and not finished:
            self.interrupted.append(name)

    def record(self, order: list[str]) -> dict[str, Any]:
        """What sweep.json (or night.json) keeps of the stop, cells in `order`."""
        interrupted = [name for name in order if name in self.interrupted]
        return {"by": self.by, "at": self.at, "interrupted": interrupted}

    def interruption(self) -> Interrupted:
        """What the caller raises, once requested and recorded: the CLI exits 143 or 130."""
        return Interrupted(self.by, self.exit_code)

    def listen(self) -> None:
        """Catch SIGTERM and SIGINT from now on (again after a library took SIGTERM over,
        as ray.init does). Only the main thread can; a signal started ignored stays so."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in _STOPS:
            current = signal.getsignal(signum)
            if current is signal.SIG_IGN or current == self._handle:
                continue
            self._previous.setdefault(signum, current)
            signal.signal(signum, self._handle)

    @contextmanager
    def catching(self) -> Iterator[None]:
        """Listen while the cells run; then put the command's own handlers back."""
        self.listen()
        try:
            yield
        finally:
            for signum, previous in self._previous.items():
                signal.signal(signum, signal.SIG_DFL if previous is None else previous)
            self._previous.clear()
            CELL_PROCESSES.pass_on(None)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:  # a second signal: end now, as `collapse-lab run` does
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        self.by, self.exit_code = _STOPS[signum]
        self.at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        CELL_PROCESSES.pass_on(signum)
