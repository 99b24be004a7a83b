"""Run a sweep's cells on an executor and keep <output>/sweep.json up to date.

sweep.json is rewritten whenever a cell starts or ends, so a sweep stopped anywhere (Ctrl-C,
SIGKILL, a reboot) still says which cells finished, which failed and why, which were running
and which never started. Running the sweep again runs every cell again: a finished cell's
`collapse-lab run` says "nothing to do" at once, an unfinished one resumes at its first
unfinished generation, so only what is unfinished is redone. SIGTERM or Ctrl-C stops the
running cells within seconds and is recorded as `stopped` (lab/sweeps/stopping.py); the sweep
folder's lock keeps a second sweep out of it meanwhile.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from typing import Any, Protocol

from tqdm.auto import tqdm

from lab.sweeps.cells import (
    FINISHED,
    NOT_RUN,
    RUNNING,
    Cell,
    Launcher,
    Outcome,
    launch_cell,
    settle,
)
from lab.sweeps.folders import hold_folder
from lab.sweeps.record import save_record
from lab.sweeps.stopping import Stop
from lab.sweeps.sweep_file import Sweep


class Executor(Protocol):
    """Runs cells (lab/sweeps/local.py, lab/sweeps/ray_cells.py), starting none once `stop`
    is requested and returning when the started ones have ended."""

    def describe(self) -> str: ...

    def run(
        self,
        cells: list[Cell],
        launch: Launcher,
        started: Callable[[Cell, str], None],
        ended: Callable[[Cell, Outcome], None],
        stop: Stop,
    ) -> None: ...


def run_sweep(
    sweep: Sweep,
    executor: Executor,
    launch: Launcher = launch_cell,
    echo: Callable[[str], None] = tqdm.write,
) -> dict[str, Any]:
    """Run every cell of `sweep` and return the sweep's record (also in sweep.json), holding
    the sweep folder's lock throughout. SIGTERM or Ctrl-C stops the running cells
    (lab/sweeps/stopping.py); the record then says so and Interrupted is raised."""
    lock = hold_folder(sweep.output, "sweep folder")
    try:
        return _run_cells(sweep, executor, launch, echo)
    finally:
        lock.release()


def _run_cells(
    sweep: Sweep, executor: Executor, launch: Launcher, echo: Callable[[str], None]
) -> dict[str, Any]:
    record = _new_record(sweep, executor)
    items = {item["name"]: item for item in record["cells"]}
    save_record(sweep.output, record)
    echo(
        f"sweep {sweep.name}: {len(sweep.cells)} cells into {sweep.output} ({executor.describe()})"
    )
    bar = tqdm(total=len(sweep.cells), desc=f"sweep {sweep.name}", unit="cell", disable=None)
    stop = Stop()

    def started(cell: Cell, where: str) -> None:
        items[cell.name].update(
            status=RUNNING,
            reason="the sweep stopped while this cell ran",
            where=where,
            started=_now(),
        )
        save_record(sweep.output, record)
        echo(f"{cell.name}: on {where}")

    def ended(cell: Cell, outcome: Outcome) -> None:
        item = items[cell.name]
        item.update(settle(cell.run_dir, outcome), ended=_now())
        if outcome.where:
            item["where"] = outcome.where
        stop.ended(cell.name, item["status"] == FINISHED)
        save_record(sweep.output, record)
        bar.update(1)
        reason = f": {item['reason']}" if item["reason"] else ""
        echo(f"{cell.name}: {item['status']} in {outcome.wall_time_s:.1f}s{reason}")

    cells = [sweep.executable(cell) for cell in sweep.cells]
    try:
        with stop.catching():
            executor.run(cells, launch, started, ended, stop)
    finally:
        bar.close()
    if stop.requested:
        _record_stop(record, stop)
        save_record(sweep.output, record)
        raise stop.interruption()
    record["finished"] = _now()
    save_record(sweep.output, record)
    return record


def _new_record(sweep: Sweep, executor: Executor) -> dict[str, Any]:
    """sweep.json before any cell starts: every cell not run yet."""
    return {
        "sweep": str(sweep.path),
        "name": sweep.name,
        "experiment": str(sweep.experiment),
        "axes": {key: list(values) for key, values in sweep.axes.items()},
        "executor": executor.describe(),
        "host": platform.node(),
        "started": _now(),
        "finished": None,
        "cells": [
            {
                "name": cell.name,
                "values": cell.values,
                "overrides": list(cell.overrides),
                "run_dir": cell.name,
                "log": str(sweep.log_file(cell).relative_to(sweep.output)),
                "status": NOT_RUN,
                "reason": "the sweep stopped before this cell started",
            }
            for cell in sweep.cells
        ],
    }


def _record_stop(record: dict[str, Any], stop: Stop) -> None:
    """Which signal stopped the sweep and which cells it cut short; the cells it kept from
    starting say so."""
    record["stopped"] = stop.record([item["name"] for item in record["cells"]])
    for item in record["cells"]:
        if item["status"] == NOT_RUN:
            item["reason"] = (
                f"the sweep was stopped by {record['stopped']['by']} before this cell started"
            )


def failed_cells(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in record["cells"] if item["status"] != FINISHED]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
