"""The Ray executor: every cell a Ray task asking for `num_gpus` (and `num_cpus`), so one
sweep runs on a multi-GPU box or on a cluster of boxes that share a file system.

The task runs the same child `collapse-lab run` as the local executor (lab/sweeps/cells.py),
in the directory the sweep was started from: every box must see the sweep's folder, the
experiment files and the data at the same paths. Ray pins each task to its cards through the
worker's environment (the variable lab/device.py names), which the child inherits, and sets
OMP_NUM_THREADS to the CPUs the task asked for. A task whose worker dies (out of memory, a
node lost) is recorded with Ray's reason and not retried here: running the sweep again
resumes it. A stopped sweep cancels its tasks: a waiting one never starts, a running one
sends its run SIGTERM (lab/sweeps/cells.py), which the run records.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

from lab.errors import ExecutorError
from lab.sweeps.cells import Cell, Launcher, Outcome
from lab.sweeps.local import Ended, Started
from lab.sweeps.stopping import Stop

INSTALL_HINT = "pip install 'collapse-lab[ray]'"
_REASON_CHARS = 300
# How often the waiting sweep looks whether it was told to stop.
_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class RayExecutor:
    """`address` None: an instance this process finds or starts (`ray.init()`); otherwise
    the cluster at that address. `gpus_per_cell` None: 1 when the cluster has GPUs, else 0.
    `init_options` go to `ray.init` as they are (the tests start a 2-CPU instance)."""

    address: str | None = None
    gpus_per_cell: float | None = None
    cpus_per_cell: float = 1.0
    init_options: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        where = self.address or "a local Ray instance"
        gpus = "1 GPU per cell if it has GPUs" if self.gpus_per_cell is None else None
        gpus = gpus or f"{self.gpus_per_cell:g} GPUs per cell"
        return f"ray on {where}, {gpus}, {self.cpus_per_cell:g} CPUs per cell"

    def run(
        self, cells: Sequence[Cell], launch: Launcher, started: Started, ended: Ended, stop: Stop
    ) -> None:
        """Submit every cell at once; Ray starts each when a node has its resources. Once
        `stop` is requested every task is cancelled: a waiting one never starts, a running
        one stops its run with SIGTERM (lab/sweeps/cells.py), and this returns when all
        have ended."""
        ray = import_ray()
        owned = not ray.is_initialized()
        if owned:
            ray.init(address=self.address, **self.init_options)
            stop.listen()  # ray.init made SIGTERM exit the process at once
        try:
            task = ray.remote(_run_on_worker).options(
                num_cpus=self.cpus_per_cell, num_gpus=self._gpus(ray), max_retries=0
            )
            submitted = {}
            for order, cell in enumerate(cells):
                if stop.requested:
                    break
                submitted[task.remote(launch, cell)] = (order, cell)
                started(cell, "Ray (it starts when a node has the resources)")
            cancelled = False
            while submitted:
                if stop.requested and not cancelled:
                    for ref in submitted:
                        ray.cancel(ref)
                    cancelled = True
                done, _ = ray.wait(list(submitted), num_returns=1, timeout=_POLL_SECONDS)
                for ref in done:
                    _, cell = submitted.pop(ref)
                    ended(cell, _outcome(ray, ref))
        finally:
            if owned:
                ray.shutdown()

    def _gpus(self, ray: ModuleType) -> float:
        available = float(ray.cluster_resources().get("GPU", 0))
        if self.gpus_per_cell is None:
            return 1.0 if available >= 1 else 0.0
        if self.gpus_per_cell > available:
            raise ExecutorError(
                f"--gpus-per-cell {self.gpus_per_cell:g} asks each cell for more GPUs than the "
                f"Ray cluster has ({available:g}), so no cell could start; lower it, or join "
                "a cluster with GPUs (--address)."
            )
        return self.gpus_per_cell


def import_ray() -> ModuleType:
    """The ray package, or one sentence saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ExecutorError(
            f"--executor ray needs the ray package, which is not installed; install it with "
            f"{INSTALL_HINT} (or pip install ray), or use --executor local."
        ) from None
    return ray


def _run_on_worker(launch: Launcher, cell: Cell) -> Outcome:
    """A Ray task: run the cell's child here; say which box and cards it ran on."""
    import ray

    outcome = launch(cell, {})
    gpus = ray.get_gpu_ids()
    where = platform.node() + (f", GPUs {', '.join(map(str, gpus))}" if gpus else "")
    return replace(outcome, where=where)


def _outcome(ray: ModuleType, ref: Any) -> Outcome:
    try:
        return ray.get(ref)
    except ray.exceptions.TaskCancelledError:
        return Outcome(None, "its Ray task was cancelled: the sweep was stopped", 0.0)
    except ray.exceptions.RayError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        reason = f"its Ray task failed ({type(err).__name__}: {first[:_REASON_CHARS]})"
        return Outcome(None, reason, 0.0)
