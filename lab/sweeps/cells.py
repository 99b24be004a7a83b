"""One cell: an ordinary `collapse-lab run` in a child process, and how it ended.

A cell is the unit every executor runs (lab/sweeps/local.py, lab/sweeps/ray_cells.py) and the
nightly suite runs its entries as cells too. Running each in its own process means a crash,
an out-of-memory kill or a timeout ends that cell alone, and resuming stays what `collapse-lab
run` already does per run directory: a finished cell says "nothing to do", an unfinished one
resumes at its first unfinished generation.
"""

from __future__ import annotations

import ctypes
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.rundir.results import read_run
from lab.sweeps.stopping import CELL_PROCESSES

FINISHED, FAILED, RUNNING, NOT_RUN = "finished", "failed", "running", "not run"
_TAIL_BYTES = 20_000
# Linux's prctl option that signals a child when the thread that started it dies.
_PR_SET_PDEATHSIG = 1
# How often a waiting thread wakes (to take an exception), and how long a run stopped that
# way gets to record its interruption before it is killed.
_POLL_SECONDS = 0.5
_GRACE_SECONDS = 60


@dataclass(frozen=True)
class Cell:
    """`collapse-lab run CONFIG --run-dir RUN_DIR --set ...`, run in `cwd`; paths may be
    relative to `cwd`, which is how a cell runs the same on any box that mounts it there."""

    name: str
    config: Path
    overrides: tuple[str, ...]
    run_dir: Path
    log_file: Path
    timeout_minutes: float | None = None
    cwd: Path = field(default_factory=Path.cwd)

    def command(self) -> list[str]:
        """The child's command line, with the Python of the machine that runs it."""
        command = [sys.executable, "-m", "lab.cli", "run", str(self.config)]
        command += ["--run-dir", str(self.run_dir)]
        for override in self.overrides:
            command += ["--set", override]
        return command


@dataclass(frozen=True)
class Outcome:
    """How a cell's process ended: exit code (None: it did not end by itself) and why."""

    exit_code: int | None
    reason: str
    wall_time_s: float
    # Where it ran, when the executor learns it only then (a Ray task: its box and GPUs).
    where: str | None = None


# Runs one cell with extra environment variables (e.g. its card) and says how it ended.
Launcher = Callable[[Cell, Mapping[str, str]], Outcome]


def launch_cell(cell: Cell, env: Mapping[str, str]) -> Outcome:
    """Run `cell` in a child process, its output appended to its log file (a rerun keeps the
    earlier attempts' output above its own). The child dies with the process that started
    it, so a sweep killed outright leaves no run behind holding a cell's lock, and a stopped
    sweep passes its signal on to it (lab/sweeps/stopping.py)."""
    command = cell.command()
    log_file = cell.cwd / cell.log_file
    log_file.parent.mkdir(parents=True, exist_ok=True)
    start = log_file.stat().st_size if log_file.is_file() else 0
    began = time.perf_counter()
    with open(log_file, "ab") as log:
        log.write(("$ " + " ".join(command) + "\n").encode())
        log.flush()
        process = subprocess.Popen(
            command,
            cwd=cell.cwd,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_child_setup(),
        )
        CELL_PROCESSES.add(process)
        try:
            code = _wait(process, cell.timeout_minutes)
        finally:
            CELL_PROCESSES.remove(process)
    seconds = time.perf_counter() - began
    if code is None:
        return Outcome(
            None, f"stopped after its timeout of {cell.timeout_minutes:g} minutes", seconds
        )
    if code == 0:
        return Outcome(0, "", seconds)
    if code < 0:
        return Outcome(
            code, f"killed by signal {-code} (out of memory, or stopped by hand?)", seconds
        )
    return Outcome(code, failure_reason(log_file, start) or f"exited with status {code}", seconds)


def _wait(process: subprocess.Popen, timeout_minutes: float | None) -> int | None:
    """The child's exit status, or None when it ran past its timeout (then it is killed).
    Waits in short polls, so that an exception sent to this thread (Ray's cancel raises
    KeyboardInterrupt in its task) is raised at once; the child is then stopped with SIGTERM,
    which its run records, rather than left running."""
    deadline = time.monotonic() + timeout_minutes * 60 if timeout_minutes else math.inf
    try:
        while (left := deadline - time.monotonic()) > 0:
            try:
                return process.wait(timeout=min(left, _POLL_SECONDS))
            except subprocess.TimeoutExpired:
                continue
        process.kill()
        process.wait()
        return None
    except BaseException:
        process.terminate()
        try:
            process.wait(timeout=_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
        raise


def failure_reason(log_file: Path, start: int = 0) -> str:
    """The `error:` sentence of a failed run, or else the last line it printed, read from
    `start` on (where this attempt's output begins)."""
    with open(log_file, "rb") as handle:
        handle.seek(0, 2)
        handle.seek(max(start, handle.tell() - _TAIL_BYTES))
        lines = [line.strip() for line in handle.read().decode(errors="replace").splitlines()]
    lines = [line for line in lines if line and not line.startswith("$ ")]
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or [""])[-1].removeprefix("error:").strip()


def settle(run_dir: Path, outcome: Outcome) -> dict[str, Any]:
    """A cell's record from its outcome and what its run directory holds: status, reason,
    generations done and planned, and the last generation's metrics."""
    result: dict[str, Any] = {
        "status": FINISHED if outcome.exit_code == 0 else FAILED,
        "reason": outcome.reason,
        "exit_code": outcome.exit_code,
        "wall_time_s": round(outcome.wall_time_s, 1),
        "generations": 0,
        "planned_generations": None,
        "final": {},
    }
    try:
        results = read_run(run_dir)
    except LabError as err:
        if outcome.exit_code == 0:
            result.update(status=FAILED, reason=f"finished, but its run cannot be read: {err}")
        return result
    planned = results.planned_generations
    result.update(generations=len(results.rows), planned_generations=planned)
    result["final"] = results.final()
    if outcome.exit_code == 0 and planned is not None and len(results.rows) < planned:
        # Lightning turns SIGTERM into a SystemExit with status 0 (e.g. at shutdown).
        result.update(
            status=FAILED,
            reason=f"exited with status 0 after {len(results.rows)} of {planned} "
            "generations (stopped by SIGTERM?)",
        )
    return result


def _child_setup() -> Callable[[], None]:
    """A pre-exec hook: the child gets a process group of its own (a terminal's Ctrl-C then
    reaches it once, passed on by the sweep) and, on Linux, SIGTERM when its parent dies (at
    once if the parent died before the hook ran)."""
    parent = os.getpid()
    linux = sys.platform.startswith("linux")
    prctl = ctypes.CDLL(None, use_errno=True).prctl if linux else None

    def hook() -> None:
        os.setpgid(0, 0)
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGTERM)

    return hook
