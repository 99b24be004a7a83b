"""Named points where a test can make the process kill itself, to prove resume is exact.

`COLLAPSE_LAB_KILL_AT=<point>` makes the process send itself SIGKILL when it reaches that
point, the way the OOM killer or a preempted node would stop it: no cleanup, no atexit.
Points are named like `trained:1`, `wrote:samples/gen_001.npz`, inside training
`step:<label>:<n>`, or in a text generation's sampling `continued:<generation>` (after the
samples, before the shown prompts), `curated:<generation>` (a curator has chosen, nothing of
the generation is written yet), so a test can stop a run exactly between two writes.
`COLLAPSE_LAB_KILL_SIGNAL=TERM` sends SIGTERM instead (a scheduler's polite stop).
Unset, this costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

KILL_AT_VARIABLE = "COLLAPSE_LAB_KILL_AT"
SIGNAL_VARIABLE = "COLLAPSE_LAB_KILL_SIGNAL"


def reached(point: str) -> None:
    """Die here (or get SIGTERM) if the environment asks for it."""
    if os.environ.get(KILL_AT_VARIABLE) == point:
        name = os.environ.get(SIGNAL_VARIABLE, "KILL")
        os.kill(os.getpid(), getattr(signal, f"SIG{name}"))
