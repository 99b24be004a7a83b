"""Named points where a test can make the process kill itself, to prove resume is exact.

`COLLAPSE_LAB_KILL_AT=<point>` makes the process send itself SIGKILL when it reaches that
point, the way the OOM killer or a preempted node would stop it: no cleanup, no atexit.
Points are named `<step>:<generation>` (e.g. `trained:1`, `wrote:samples/gen_001.npz`), so
a test can stop a run exactly between two writes. Unset, this costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

KILL_AT_VARIABLE = "COLLAPSE_LAB_KILL_AT"


def reached(point: str) -> None:
    """Die here, uncleanly, if the environment asks for it."""
    if os.environ.get(KILL_AT_VARIABLE) == point:
        os.kill(os.getpid(), signal.SIGKILL)
