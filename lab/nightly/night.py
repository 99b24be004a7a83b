"""One night: run every entry of the suite into <output>/<date>/<entry>/ and record it.

Each entry runs as its own `collapse-lab run` process, so a crash, an out-of-memory kill or
a timeout ends that entry only; the night goes on with the next one. The night's record
(<date>/night.json) is rewritten after every entry, so a night stopped part-way still says
what finished, what failed and why, and which entry was running when it stopped.
Running the same date again resumes: finished runs say "nothing to do", the rest resume.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.nightly.suite import NightlySuite, SuiteEntry
from lab.report.writer import REPORT_FILE, write_report
from lab.rundir.atomic import write_atomic
from lab.rundir.results import read_run

NIGHT_FILE = "night.json"
FINISHED, FAILED, RUNNING, NOT_RUN = "finished", "failed", "running", "not run"
_TAIL_BYTES = 20_000


@dataclass(frozen=True)
class Outcome:
    """How an entry's process ended: exit code (None: it did not end by itself) and why."""

    exit_code: int | None
    reason: str
    wall_time_s: float


Runner = Callable[[SuiteEntry, Path, Path, Sequence[str]], Outcome]


def run_entry(entry: SuiteEntry, run_dir: Path, log_file: Path, extra: Sequence[str]) -> Outcome:
    """`collapse-lab run` in a child process, its output in `log_file`."""
    command = [sys.executable, "-m", "lab.cli", "run", entry.config, "--run-dir", str(run_dir)]
    for override in (*entry.set, *extra):
        command += ["--set", override]
    timeout = entry.timeout_minutes * 60 if entry.timeout_minutes else None
    began = time.perf_counter()
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "wb") as log:
        log.write(("$ " + " ".join(command) + "\n").encode())
        log.flush()
        try:
            process = subprocess.run(
                command, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            seconds = time.perf_counter() - began
            return Outcome(
                None, f"stopped after its timeout of {entry.timeout_minutes:g} minutes", seconds
            )
    seconds = time.perf_counter() - began
    code = process.returncode
    if code == 0:
        return Outcome(0, "", seconds)
    if code < 0:
        return Outcome(
            code, f"killed by signal {-code} (out of memory, or stopped by hand?)", seconds
        )
    return Outcome(code, failure_reason(log_file) or f"exited with status {code}", seconds)


def failure_reason(log_file: Path) -> str:
    """The `error:` sentence of a failed run, or else the last line it printed."""
    with open(log_file, "rb") as handle:
        handle.seek(0, 2)
        handle.seek(max(0, handle.tell() - _TAIL_BYTES))
        lines = [line.strip() for line in handle.read().decode(errors="replace").splitlines()]
    lines = [line for line in lines if line]
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or [""])[-1].removeprefix("error:").strip()


def run_night(
    suite: NightlySuite,
    suite_path: Path,
    date: str,
    extra: Sequence[str] = (),
    runner: Runner | None = None,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run every entry (with `runner`, by default `run_entry`) and return the night's record
    (also saved as <date>/night.json)."""
    runner = runner or run_entry
    night_dir = Path(suite.output) / date
    record: dict[str, Any] = {
        "date": date,
        "suite": str(suite_path),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "finished": None,
        "host": platform.node(),
        "commit": _git_commit(),
        "overrides": list(extra),
        "entries": [
            {
                "name": entry.name,
                "config": entry.config,
                "status": NOT_RUN,
                "reason": "the night stopped before this entry started",
                "tolerance": {m: asdict(t) for m, t in suite.tolerances(entry).items()},
                "headline": list(suite.headline),
            }
            for entry in suite.entries
        ],
    }
    save_night(night_dir, record)
    for entry, item in zip(suite.entries, record["entries"], strict=True):
        item.update(status=RUNNING, reason="the night stopped while this entry ran")
        save_night(night_dir, record)
        echo(f"nightly {date}: running {entry.name} ({entry.config})")
        outcome = runner(entry, night_dir / entry.name, night_dir / f"{entry.name}.log", extra)
        item.update(_entry_result(night_dir, entry, outcome))
        save_night(night_dir, record)
        echo(
            f"nightly {date}: {entry.name} {item['status']}"
            + (f": {item['reason']}" if item["reason"] else "")
        )
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    save_night(night_dir, record)
    return record


def _entry_result(night_dir: Path, entry: SuiteEntry, outcome: Outcome) -> dict[str, Any]:
    """What the index needs about a finished or failed entry: status, reason, final metrics,
    and links to its report and log (relative to the night's folder)."""
    result: dict[str, Any] = {
        "status": FINISHED if outcome.exit_code == 0 else FAILED,
        "reason": outcome.reason,
        "exit_code": outcome.exit_code,
        "wall_time_s": round(outcome.wall_time_s, 1),
        "log": f"{entry.name}.log",
        "run_dir": entry.name,
        "generations": 0,
        "planned_generations": None,
        "final": {},
        "report": None,
    }
    run_dir = night_dir / entry.name
    try:
        results = read_run(run_dir)
        result.update(
            generations=len(results.rows), planned_generations=results.planned_generations
        )
        result["final"] = results.final()
        if results.rows:
            write_report(run_dir)
            result["report"] = f"{entry.name}/{REPORT_FILE}"
        planned = results.planned_generations
        if outcome.exit_code == 0 and planned is not None and len(results.rows) < planned:
            # Lightning turns SIGTERM into a SystemExit with status 0 (e.g. at shutdown).
            result.update(
                status=FAILED,
                reason=f"exited with status 0 after {len(results.rows)} of {planned} "
                "generations (stopped by SIGTERM?)",
            )
    except LabError as err:
        if outcome.exit_code == 0:
            result.update(status=FAILED, reason=f"finished, but its run cannot be read: {err}")
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
