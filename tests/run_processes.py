"""`collapse-lab run` as a child process, optionally killed by itself at a named point
(lab/rundir/faults.py): how the resume tests stop a real run anywhere."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from lab.rundir.faults import KILL_AT_VARIABLE, SIGNAL_VARIABLE

REPO = Path(__file__).resolve().parents[1]


def launch_run(
    config: Path,
    run_dir: Path,
    kill_at: str | None = None,
    signal_name: str = "KILL",
    overrides: Sequence[str] = (),
) -> subprocess.Popen:
    """Start `collapse-lab run CONFIG --run-dir RUN_DIR [--set OVERRIDE ...]`; with
    `kill_at`, the process sends itself SIG`signal_name` on reaching that point."""
    env = {key: value for key, value in os.environ.items() if key != KILL_AT_VARIABLE}
    env[SIGNAL_VARIABLE] = signal_name
    if kill_at:
        env[KILL_AT_VARIABLE] = kill_at
    command = [sys.executable, "-m", "lab.cli", "run", str(config), "--run-dir", str(run_dir)]
    command += [f"--set={override}" for override in overrides]
    return subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_interrupt,
    )


def _default_interrupt() -> None:
    """Ctrl-C as in a terminal: a suite started in the background (`make test &`, nohup) has
    SIGINT ignored, which its children would inherit, and Python then never raises
    KeyboardInterrupt, so the tests of Ctrl-C would fail for how they were started."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
