"""The Ray executor on a local 2-CPU Ray instance: the Gaussian sweep's cells as Ray tasks are
byte-identical to the same runs made one by one, a task whose worker dies is recorded with
Ray's reason while the others go on, and no Ray process outlives the sweep."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
import ray

from lab.cli import main
from lab.errors import Interrupted
from lab.rundir.directory import MANIFEST_FILE, METRICS_FILE
from lab.rundir.locks import lock_holder
from lab.sweeps.cells import Cell, Outcome, launch_cell
from lab.sweeps.ray_cells import RayExecutor
from lab.sweeps.record import SWEEP_RECORD
from lab.sweeps.runner import run_sweep
from lab.sweeps.sweep_file import load_sweep
from tests.sweep_fixtures import cell_name, outputs, runs_one_by_one, write_sweep

pytestmark = pytest.mark.slow  # whole loops: make test-fast skips this file

LOST = cell_name("accumulate", 2)


def launch_then_lose_the_worker(cell: Cell, env: dict[str, str]) -> Outcome:
    """The real cell; then, for one cell, its Ray worker dies as if its box were lost."""
    outcome = launch_cell(cell, env)
    if cell.name == LOST:
        os._exit(1)
    return outcome


def _ray_processes() -> set[int]:
    """Processes of this machine that run Ray's programs (its GCS, raylet, workers)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if b"/ray/" in command or b"ray::" in command:
                found.add(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ray_cells_equal_the_runs_made_one_by_one(tmp_path):
    one_by_one = runs_one_by_one(tmp_path / "one_by_one")
    sweep = load_sweep(write_sweep(tmp_path / "ray"))
    before = _ray_processes()
    executor = RayExecutor(
        address="local", init_options={"num_cpus": 2, "include_dashboard": False}
    )
    record = run_sweep(sweep, executor, launch=launch_then_lose_the_worker, echo=str)
    assert not ray.is_initialized()
    cells = {cell["name"]: cell for cell in record["cells"]}
    assert [name for name, cell in cells.items() if cell["status"] != "finished"] == [LOST]
    assert cells[LOST]["reason"].startswith("its Ray task failed (")
    assert "died" in cells[LOST]["reason"]
    for name, expected in one_by_one.items():  # the lost worker's cell had finished its run
        assert outputs(sweep.output / name) == expected, name
    assert all(cell["where"] for cell in cells.values() if cell["status"] == "finished")
    deadline = time.monotonic() + 30
    while _ray_processes() - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _ray_processes() - before == set(), "Ray processes outlived the sweep"


def test_without_ray_the_executor_is_one_sentence(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    assert main(["sweep", str(write_sweep(tmp_path)), "--executor", "ray"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'collapse-lab[ray]'" in err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_cancels_the_ray_tasks_and_their_runs_record_it(tmp_path):
    # Cells that cannot end before the stop (4 million draws a generation, 100,000 generations:
    # far longer than any test), however late the watcher below or the stop's handler runs on a
    # busy machine. With 120 and then 1,200 generations, under make test's two workers on a
    # loaded machine, seeds 0 and 1 were at times not recorded as interrupted (only seed=2 was),
    # most likely because they had ended first; the cost here is nil, since the stop ends them.
    slow = ["model.chains=2000", "samples_per_generation=2000", "generations=100000"]
    sweep = load_sweep(write_sweep(tmp_path, axes={"seed": [0, 1, 2]}, set=slow))
    before = _ray_processes()
    under_way = [sweep.output / "seed=0", sweep.output / "seed=1"]

    def stop_once_under_way() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if all(_finished_generations(run_dir) >= 10 for run_dir in under_way):
                break
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=stop_once_under_way, daemon=True).start()
    executor = RayExecutor(
        address="local", init_options={"num_cpus": 2, "include_dashboard": False}
    )
    with pytest.raises(Interrupted) as stopped:
        run_sweep(sweep, executor, echo=str)
    assert stopped.value.exit_code == 143
    record = json.loads((sweep.output / SWEEP_RECORD).read_text())
    assert record["stopped"]["by"] == "SIGTERM"
    assert record["stopped"]["interrupted"] == ["seed=0", "seed=1", "seed=2"]
    assert {cell["reason"] for cell in record["cells"]} == {
        "its Ray task was cancelled: the sweep was stopped"
    }
    for run_dir in under_way:  # each run was stopped politely, and said so
        failure = json.loads((run_dir / MANIFEST_FILE).read_text())["last_failure"]
        assert failure["error"] == "Interrupted: stopped by SIGTERM"
        assert lock_holder(run_dir) is None
    assert not (sweep.output / "seed=2" / MANIFEST_FILE).exists()  # it never started
    deadline = time.monotonic() + 30
    while _ray_processes() - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _ray_processes() - before == set(), "Ray processes outlived the sweep"


def _finished_generations(run_dir: Path) -> int:
    metrics = run_dir / METRICS_FILE
    return len(metrics.read_text().splitlines()) - 1 if metrics.is_file() else 0
