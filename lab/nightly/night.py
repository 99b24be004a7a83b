"""One night: run every entry of the suite into <output>/<date>/<entry>/ and record it.

Each entry runs as its own `collapse-lab run` process (a cell, lab/sweeps/cells.py), so a
crash, an out-of-memory kill or a timeout ends that entry only; the night goes on with the
others. The entries run on the same executors as a sweep: one after another by default, side
by side on a box's cards with `--parallel`, or as Ray tasks. An entry with several seeds runs
once per seed, into <date>/<entry>/seed=<s>/. The night's record (<date>/night.json) is
rewritten whenever an entry starts or ends, so a night stopped part-way still says what
finished, what failed and why, and which entries were running when it stopped; a night
stopped by SIGTERM or Ctrl-C stops its entries too and says so (lab/sweeps/stopping.py).
Running the same date again resumes: finished runs say "nothing to do", the rest resume.
The night's folder is locked while it runs, so a second nightly of the same date is refused.
"""

from __future__ import annotations

import json
import platform
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lab.errors import ConfigError, LabError
from lab.nightly.suite import NightlySuite, NightRun
from lab.report.writer import REPORT_FILE, write_report
from lab.rundir.atomic import write_atomic
from lab.sweeps.cells import (
    FAILED,
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
from lab.sweeps.local import LocalExecutor
from lab.sweeps.runner import Executor
from lab.sweeps.stopping import Stop

NIGHT_FILE = "night.json"
# Set in night.json when keep_samples_nights deleted the night's samples (lab/nightly/prune.py).
PRUNED_KEY = "pruned"


def run_night(
    suite: NightlySuite,
    suite_path: Path,
    date: str,
    extra: Sequence[str] = (),
    runner: Launcher | None = None,
    echo: Callable[[str], None] = print,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Run every entry on `executor` (by default one after another on this machine), each
    with `runner` (by default a `collapse-lab run` process), and return the night's record
    (also saved as <date>/night.json)."""
    night_dir = Path(suite.output) / date
    _refuse_pruned(night_dir)
    lock = hold_folder(night_dir, "night folder")
    try:
        return _run_entries(
            suite, suite_path, night_dir, extra, runner or launch_cell, echo, executor
        )
    finally:
        lock.release()


def _run_entries(
    suite: NightlySuite,
    suite_path: Path,
    night_dir: Path,
    extra: Sequence[str],
    launch: Launcher,
    echo: Callable[[str], None],
    executor: Executor | None,
) -> dict[str, Any]:
    executor = executor or LocalExecutor()
    date = night_dir.name
    runs = suite.runs()
    record: dict[str, Any] = {
        "date": date,
        "suite": str(suite_path),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "finished": None,
        "host": platform.node(),
        "commit": _git_commit(),
        "overrides": list(extra),
        "executor": executor.describe(),
        "entries": [
            {
                "name": run.name,
                "config": run.entry.config,
                "status": NOT_RUN,
                "reason": "the night stopped before this entry started",
                "tolerance": {m: asdict(t) for m, t in suite.tolerances(run.entry).items()},
                "headline": list(suite.headline),
            }
            for run in runs
        ],
    }
    items = {item["name"]: item for item in record["entries"]}
    save_night(night_dir, record)
    stop = Stop()

    def started(cell: Cell, where: str) -> None:
        items[cell.name].update(
            status=RUNNING, reason="the night stopped while this entry ran", where=where
        )
        save_night(night_dir, record)
        echo(f"nightly {date}: running {cell.name} ({cell.config}) on {where}")

    def ended(cell: Cell, outcome: Outcome) -> None:
        item = items[cell.name]
        item.update(_entry_result(night_dir, cell.name, outcome))
        if outcome.where:
            item["where"] = outcome.where
        stop.ended(cell.name, item["status"] == FINISHED)
        save_night(night_dir, record)
        echo(
            f"nightly {date}: {cell.name} {item['status']}"
            + (f": {item['reason']}" if item["reason"] else "")
        )

    cells = [_cell(night_dir, run, extra) for run in runs]
    with stop.catching():
        executor.run(cells, launch, started, ended, stop)
    if stop.requested:
        _record_stop(record, stop)
        save_night(night_dir, record)
        raise stop.interruption()
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    save_night(night_dir, record)
    return record


def _record_stop(record: dict[str, Any], stop: Stop) -> None:
    """Which signal stopped the night and which entries it cut short; the entries it kept
    from starting say so."""
    record["stopped"] = stop.record([item["name"] for item in record["entries"]])
    for item in record["entries"]:
        if item["status"] == NOT_RUN:
            said = record["stopped"]["by"]
            item["reason"] = f"the night was stopped by {said} before this entry started"


def _cell(night_dir: Path, run: NightRun, extra: Sequence[str]) -> Cell:
    return Cell(
        name=run.name,
        config=Path(run.entry.config),
        overrides=(*run.overrides, *extra),
        run_dir=night_dir / run.name,
        log_file=night_dir / f"{run.name}.log",
        timeout_minutes=run.entry.timeout_minutes,
    )


def _refuse_pruned(night_dir: Path) -> None:
    """A pruned night has lost the samples its runs would resume from: never rerun it."""
    try:
        night = json.loads((night_dir / NIGHT_FILE).read_text())
    except (OSError, ValueError):
        return
    if isinstance(night, dict) and night.get(PRUNED_KEY):
        raise ConfigError(
            f"night '{night_dir}' was pruned by keep_samples_nights (its samples/ and "
            "checkpoints/ are deleted), so its runs cannot resume; run another --date."
        )


def _entry_result(night_dir: Path, name: str, outcome: Outcome) -> dict[str, Any]:
    """What the index needs about a finished or failed entry: status, reason, final metrics,
    and links to its report and log (relative to the night's folder)."""
    run_dir = night_dir / name
    result = settle(run_dir, outcome)
    result.update(log=f"{name}.log", run_dir=name, report=None)
    if result["generations"]:
        try:
            write_report(run_dir)
        except LabError as err:
            if result["status"] == FINISHED:
                result.update(status=FAILED, reason=f"finished, but its run cannot be read: {err}")
        else:
            result["report"] = f"{name}/{REPORT_FILE}"
    return result


def save_night(night_dir: Path, record: dict[str, Any]) -> None:
    write_atomic(night_dir / NIGHT_FILE, (json.dumps(record, indent=2) + "\n").encode())


def _git_commit() -> str | None:
    """The code's commit, so a flagged night can be traced to a change in the code."""
    try:
        process = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return process.stdout.strip() or None
