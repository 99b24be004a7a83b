"""A real `collapse-lab sweep` process stopped from outside: SIGTERM and Ctrl-C stop its
running cells within seconds (each cell's run records the interruption), sweep.json says the
sweep was stopped and which cells were interrupted, and running the sweep again resumes; a
second sweep into the same folder is refused while the first runs."""

from __future__ import annotations

import contextlib
import io
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.cli import main
from lab.rundir.directory import MANIFEST_FILE, METRICS_FILE
from lab.rundir.locks import lock_holder
from lab.sweeps.record import SWEEP_RECORD
from tests.run_processes import REPO, _default_interrupt
from tests.sweep_fixtures import write_sweep

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux signals"),
    pytest.mark.slow,  # whole sweeps: make test-fast skips this file
]

# Cells of some 10-30 s on a busy 2-core machine (4 million draws a generation), committed
# every 10 generations, so a stop finds them mid-run wherever it lands.
SLOW_CELLS = ["model.chains=2000", "samples_per_generation=2000", "generations=120"]
# What a cell has finished before the sweep is stopped: past start-up, far from its end.
STARTED_GENERATIONS = 10
# A stopped sweep must have ended by then; its cells had most of their generations to go.
STOP_SECONDS = 10


def _start(path: Path, *options: str) -> subprocess.Popen:
    """`collapse-lab sweep PATH OPTIONS` in the background, Ctrl-C reaching it as in a
    terminal."""
    command = [sys.executable, "-m", "lab.cli", "sweep", str(path), *options]
    return subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_interrupt,
    )


def _record(folder: Path) -> dict:
    return json.loads((folder / SWEEP_RECORD).read_text())


def _finished_generations(run_dir: Path) -> int:
    metrics = run_dir / METRICS_FILE
    return len(metrics.read_text().splitlines()) - 1 if metrics.is_file() else 0


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            _, err = process.communicate()
            pytest.fail(f"the sweep ended (or never got there) first: {err}")
        time.sleep(0.1)


def _cells_under_way(folder: Path, names: list[str]) -> Callable[[], bool]:
    """True once sweep.json says `names` run and each has finished a few generations."""

    def under_way() -> bool:
        if not (folder / SWEEP_RECORD).is_file():
            return False
        status = {cell["name"]: cell["status"] for cell in _record(folder)["cells"]}
        return all(
            status[name] == "running"
            and _finished_generations(folder / name) >= STARTED_GENERATIONS
            for name in names
        )

    return under_way


def _stop(process: subprocess.Popen, signum: int) -> tuple[float, str]:
    """Send `signum`; the seconds until the sweep exited, and its stderr."""
    sent = time.monotonic()
    process.send_signal(signum)
    _, err = process.communicate(timeout=300)
    return time.monotonic() - sent, err


def _last_failure(run_dir: Path) -> dict:
    return json.loads((run_dir / MANIFEST_FILE).read_text())["last_failure"]


def test_sigterm_stops_the_running_cells_within_seconds_and_a_rerun_resumes(tmp_path):
    path = write_sweep(tmp_path, axes={"seed": [0, 1]}, set=SLOW_CELLS)
    folder = tmp_path / "sweep"
    process = _start(path, "--parallel", "2")
    _wait_for(_cells_under_way(folder, ["seed=0", "seed=1"]), process, 240)
    seconds, err = _stop(process, signal.SIGTERM)
    assert process.returncode == 143, err
    assert "stopped by SIGTERM; run the same command again to resume." in err
    assert seconds < STOP_SECONDS, f"the sweep took {seconds:.1f}s to stop"
    record = _record(folder)
    assert record["stopped"]["by"] == "SIGTERM"
    assert record["stopped"]["interrupted"] == ["seed=0", "seed=1"]
    assert record["finished"] is None
    for cell in record["cells"]:
        assert (cell["status"], cell["exit_code"]) == ("failed", 143), cell
        assert "stopped by SIGTERM" in cell["reason"]
        run_dir = folder / cell["name"]
        assert _last_failure(run_dir)["error"] == "Interrupted: stopped by SIGTERM"
        assert lock_holder(run_dir) is None
        assert 0 < cell["generations"] < 120
    assert main(["sweep", str(path), "--parallel", "2"]) == 0
    record = _record(folder)
    assert "stopped" not in record
    assert [cell["generations"] for cell in record["cells"]] == [120, 120]
    for name in ("seed=0", "seed=1"):
        last_attempt = (folder / "logs" / f"{name}.log").read_text().rpartition("\n$ ")[2]
        assert "resuming at generation" in last_attempt


def test_ctrl_c_stops_the_running_cell_and_starts_no_other(tmp_path):
    path = write_sweep(tmp_path, axes={"seed": [0, 1]}, set=SLOW_CELLS)
    folder = tmp_path / "sweep"
    process = _start(path)  # one cell at a time
    _wait_for(_cells_under_way(folder, ["seed=0"]), process, 240)
    seconds, err = _stop(process, signal.SIGINT)
    assert process.returncode == 130, err
    assert "stopped by Ctrl-C; run the same command again to resume." in err
    assert seconds < STOP_SECONDS, f"the sweep took {seconds:.1f}s to stop"
    record = _record(folder)
    assert record["stopped"]["by"] == "Ctrl-C"
    assert record["stopped"]["interrupted"] == ["seed=0"]
    first, second = record["cells"]
    assert (first["status"], first["exit_code"]) == ("failed", 130)
    assert _last_failure(folder / "seed=0")["error"] == "Interrupted: stopped by Ctrl-C"
    assert second["status"] == "not run"
    assert "stopped by Ctrl-C before this cell started" in second["reason"]
    assert not (folder / "seed=1").exists()


def test_a_second_sweep_into_the_same_folder_is_refused_while_the_first_runs(tmp_path):
    path = write_sweep(tmp_path, axes={"seed": [0]}, set=SLOW_CELLS)
    folder = tmp_path / "sweep"
    first = _start(path)
    try:
        _wait_for(_cells_under_way(folder, ["seed=0"]), first, 240)
        before = (folder / SWEEP_RECORD).read_bytes()
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            assert main(["sweep", str(path)]) == 2
        said = err.getvalue()
        assert f"sweep folder '{folder}' is in use by process {first.pid} on " in said
        assert said.count("\n") == 1
        assert (folder / SWEEP_RECORD).read_bytes() == before
    finally:
        first.kill()
        first.communicate()
