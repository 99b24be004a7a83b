"""A real `collapse-lab sweep` process: a second sweep into the same folder is refused while
the first runs."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.cli import main
from lab.rundir.directory import METRICS_FILE
from lab.sweeps.record import SWEEP_RECORD
from tests.run_processes import REPO, _default_interrupt
from tests.sweep_fixtures import write_sweep

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux signals")

# Cells of some 10-30 s on a busy 2-core machine (4 million draws a generation), committed
# every 10 generations, so a stop finds them mid-run wherever it lands.
SLOW_CELLS = ["model.chains=2000", "samples_per_generation=2000", "generations=120"]
# What a cell has finished before the sweep is stopped: past start-up, far from its end.
STARTED_GENERATIONS = 10


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
