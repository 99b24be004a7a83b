"""Sweeps on the local executor: cells run two at a time are byte-identical to the same runs
made one by one, a sweep killed with SIGKILL and run again ends identical, a failing cell does
not stop the others, each cell would get a card of its own on a box with 4, and the intervals
`compare` gives equal scipy's t-intervals computed here from the cells' own metrics.csv."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from scipy import stats

from lab.analysis.compare import compare
from lab.cli import main
from lab.errors import ConfigError, ExecutorError
from lab.rundir.directory import METRICS_FILE
from lab.rundir.locks import RunLock, lock_holder
from lab.sweeps.cells import Cell, Outcome
from lab.sweeps.local import local_executor
from lab.sweeps.record import SWEEP_RECORD
from lab.sweeps.runner import run_sweep
from lab.sweeps.sweep_file import load_sweep
from tests.conftest import TINY_EXPERIMENT
from tests.fake_runs import make_run
from tests.sweep_fixtures import AXES, cell_name, outputs, runs_one_by_one, write_sweep

REPO = Path(__file__).resolve().parents[1]
CONFIDENCE = 0.95


@pytest.fixture(scope="module")
def one_by_one(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    return runs_one_by_one(tmp_path_factory.mktemp("one_by_one"))


@pytest.fixture(scope="module")
def two_at_a_time(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2 x 3 Gaussian sweep run through the CLI, two cells at once: its folder."""
    root = tmp_path_factory.mktemp("two_at_a_time")
    assert main(["sweep", str(write_sweep(root)), "--parallel", "2"]) == 0
    return root / "sweep"


def _record(folder: Path) -> dict:
    return json.loads((folder / SWEEP_RECORD).read_text())


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_cells_run_two_at_a_time_equal_the_runs_made_one_by_one(two_at_a_time, one_by_one):
    cells = _record(two_at_a_time)["cells"]
    assert [cell["name"] for cell in cells] == list(one_by_one)
    assert [cell["status"] for cell in cells] == ["finished"] * 6
    for name, expected in one_by_one.items():
        assert outputs(two_at_a_time / name) == expected, name
    # Two at a time: the second cell started before the first ended, the third after.
    assert cells[1]["started"] <= cells[0]["ended"]
    assert cells[2]["started"] >= min(cells[0]["ended"], cells[1]["ended"])


def _seed_values(folder: Path, regime: str) -> dict[int, dict[int, dict[str, str]]]:
    """seed -> generation -> that cell's metrics.csv row."""
    found = {}
    for seed in AXES["seed"]:
        rows = _csv(folder / cell_name(regime, seed) / METRICS_FILE)
        found[seed] = {int(row["generation"]): row for row in rows}
    return found


def _scipy_interval(values: list[float]) -> tuple[float, float, float]:
    mean = float(np.mean(values))
    sem = stats.sem(values)
    if sem == 0:  # scipy needs a positive scale; every seed agreeing is a zero-width interval
        return mean, mean, mean
    low, high = stats.t.interval(CONFIDENCE, len(values) - 1, loc=mean, scale=sem)
    return mean, float(low), float(high)


def _assert_rows_match(rows: list[dict[str, str]], expected: dict[tuple[int, str], tuple]):
    got = {(int(r["generation"]), r["metric"]): r for r in rows}
    assert set(got) == set(expected)
    for key, (mean, low, high) in expected.items():
        row = got[key]
        assert row["seeds"] == "3", key
        for name, value in (("mean", mean), ("low", low), ("high", high)):
            assert float(row[name]) == pytest.approx(value, rel=1e-5, abs=1e-9), (key, name)


@pytest.mark.slow
def test_intervals_equal_scipy_t_intervals_from_the_cells_metrics(two_at_a_time, tmp_path):
    out = tmp_path / "compare"
    assert main(["compare", str(two_at_a_time), "--out", str(out)]) == 0
    columns = [c for c in _csv(two_at_a_time / cell_name("replace", 0) / METRICS_FILE)[0]]
    metrics = [c for c in columns if c != "generation"]
    by_regime = {regime: _seed_values(two_at_a_time, regime) for regime in AXES["regime"]}
    groups = _csv(out / "seeds.csv")
    for regime, seeds in by_regime.items():
        expected = {
            (g, m): _scipy_interval([float(seeds[s][g][m]) for s in AXES["seed"]])
            for g in seeds[0]
            for m in metrics
        }
        _assert_rows_match([r for r in groups if r["group"] == f"regime={regime}"], expected)
    replace, accumulate = by_regime["replace"], by_regime["accumulate"]
    paired = {
        (g, m): _scipy_interval(
            [float(accumulate[s][g][m]) - float(replace[s][g][m]) for s in AXES["seed"]]
        )
        for g in replace[0]
        for m in metrics
    }
    differences = _csv(out / "differences.csv")
    assert {r["difference"] for r in differences} == {"regime: accumulate - replace"}
    _assert_rows_match(differences, paired)
    # Same seed, same generation 0: the paired difference there is exactly nothing.
    assert paired[0, "mean_log_variance"] == (0.0, 0.0, 0.0)
    # Accumulating keeps the variance: its log variance ends higher on every seed (by 1.71,
    # 1.55, 1.35 on seeds 0, 1, 2); the interval's low end is 1.10, that far above 0.
    last = max(replace[0])
    assert paired[last, "mean_log_variance"][1] > 0
    for metric in ("mean_log_variance", "fraction_collapsed"):
        assert (out / "plots" / f"{metric}.png").stat().st_size > 0


@pytest.mark.slow
def test_a_group_of_one_seed_shows_no_interval(two_at_a_time, tmp_path):
    runs = [two_at_a_time / cell_name("replace", 0)]
    runs += [two_at_a_time / cell_name("accumulate", seed) for seed in AXES["seed"]]
    table = compare(runs, tmp_path)
    rows = _csv(tmp_path / "seeds.csv")
    single = [r for r in rows if r["group"] == "regime=replace"]
    assert single and all(r["seeds"] == "1" for r in single)
    assert all(r["std"] == r["low"] == r["high"] == "" for r in single)
    assert all(r["low"] and r["seeds"] == "3" for r in rows if r["group"] == "regime=accumulate")
    lines = {line.split()[0]: line for line in table.splitlines() if line.startswith("regime")}
    assert "±" not in lines["regime=replace"] and "±" in lines["regime=accumulate"]
    assert all(r["seeds"] == "1" and r["low"] == "" for r in _csv(tmp_path / "differences.csv"))


@pytest.mark.slow
def test_a_killed_sweep_run_again_ends_identical(one_by_one, tmp_path):
    path = write_sweep(tmp_path, axes={"regime": ["replace"], "seed": AXES["seed"]})
    replaced = {name: files for name, files in one_by_one.items() if "replace" in name}
    folder = tmp_path / "sweep"
    command = [sys.executable, "-m", "lab.cli", "sweep", str(path), "--parallel", "2"]
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 240
    statuses: list[str] = []
    while time.monotonic() < deadline and process.poll() is None:
        if (folder / SWEEP_RECORD).is_file():
            statuses = [cell["status"] for cell in _record(folder)["cells"]]
            if "finished" in statuses and "running" in statuses:
                break
        time.sleep(0.1)
    process.kill()  # SIGKILL: the sweep gets no chance to stop its cells
    process.wait()
    assert "finished" in statuses and "running" in statuses, statuses
    # The cells it was running died with it: no run directory is left locked.
    cells = [folder / name for name in replaced]
    deadline = time.monotonic() + 30
    while any(lock_holder(cell) for cell in cells) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [lock_holder(cell) for cell in cells] == [None] * len(cells)
    assert main(["sweep", str(path), "--parallel", "2"]) == 0
    for name, expected in replaced.items():
        assert outputs(folder / name) == expected, name


@pytest.mark.slow
def test_a_failing_cell_does_not_stop_the_others(tmp_path, capsys):
    path = write_sweep(tmp_path, axes={"seed": [0, 1]})
    folder = tmp_path / "sweep"
    blocked = RunLock(folder / "seed=1")  # another process is running that cell
    blocked.acquire()
    try:
        assert main(["sweep", str(path), "--parallel", "2"]) == 1
    finally:
        blocked.release()
    cells = {cell["name"]: cell for cell in _record(folder)["cells"]}
    assert [cells[name]["status"] for name in ("seed=0", "seed=1")] == ["finished", "failed"]
    assert "in use by process" in cells["seed=1"]["reason"]
    assert "FAILED seed=1: run directory" in capsys.readouterr().out
    finished = outputs(folder / "seed=0")
    assert main(["sweep", str(path), "--parallel", "2"]) == 0
    assert [c["status"] for c in _record(folder)["cells"]] == ["finished"] * 2
    assert outputs(folder / "seed=0") == finished  # not redone: its run had nothing to do
    last_attempt = (folder / "logs" / "seed=0.log").read_text().rpartition("\n$ ")[2]
    assert "complete; nothing to do." in last_attempt


def test_each_local_cell_gets_a_card_of_its_own_on_a_box_with_four(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    sweep = load_sweep(write_sweep(tmp_path))
    busy: set[str] = set()
    given: dict[str, dict[str, str]] = {}
    guard = threading.Lock()

    def pretend(cell: Cell, env: dict[str, str]) -> Outcome:
        card = env["CUDA_VISIBLE_DEVICES"]
        with guard:
            assert card not in busy, f"{cell.name} got card {card}, which is in use"
            busy.add(card)
            given[cell.name] = dict(env)
        time.sleep(0.05 * (1 + len(given) % 3))
        make_run(cell.run_dir, [{"generation": 0, "mean_variance": 1.0}], grids=False)
        with guard:
            busy.remove(card)
        return Outcome(0, "", 0.1)

    executor = local_executor(None)  # one cell per card
    assert (executor.parallel, executor.cards) == (4, ("0", "1", "2", "3"))
    record = run_sweep(sweep, executor, launch=pretend, echo=str)
    names = [cell.name for cell in sweep.cells]
    assert [given[name] for name in names[:4]] == [{"CUDA_VISIBLE_DEVICES": c} for c in "0123"]
    assert all(list(env) == ["CUDA_VISIBLE_DEVICES"] for env in given.values())
    for cell in record["cells"]:
        assert cell["where"] == f"card {given[cell['name']]['CUDA_VISIBLE_DEVICES']}"
        assert cell["status"] == "finished"
    given.clear()
    run_sweep(sweep, local_executor(2), launch=pretend, echo=str)
    assert {env["CUDA_VISIBLE_DEVICES"] for env in given.values()} == {"0", "1"}
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")  # the box's scheduler gave us these
    assert local_executor(None).cards == ("4", "5", "6", "7")
    with pytest.raises(ExecutorError, match="has 4 GPU cards and each cell gets one"):
        local_executor(5)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    assert local_executor(3).environments() == [{}, {}, {}]  # no cards: nothing pinned


@pytest.mark.slow
def test_cell_names_and_overrides_follow_the_axes(tmp_path, cache_dir):
    base = tmp_path / "tiny.yaml"
    base.write_text(yaml.safe_dump({**TINY_EXPERIMENT, "cache_dir": str(cache_dir)}))
    axes = {"train.lr": [0.001, 1e-05], "model.channels": [[16, 32]], "regime": ["replace"]}
    path = tmp_path / "lr.yaml"
    raw = {"experiment": "tiny.yaml", "axes": axes, "set": ["seed=3"]}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    sweep = load_sweep(path, overrides=["generations=2"])
    assert sweep.output == Path("runs/sweeps/lr")
    assert [cell.name for cell in sweep.cells] == [
        "train.lr=0.001,model.channels=16-32,regime=replace",
        "train.lr=1.0e-05,model.channels=16-32,regime=replace",
    ]
    assert sweep.cells[1].overrides == (
        "seed=3",
        "generations=2",
        "train.lr=1.0e-05",
        "model.channels=[16, 32]",
        "regime=replace",
    )


@pytest.mark.parametrize(
    ("sweep", "words"),
    [
        ({"axes": {"regim": ["replace"]}}, "cell 'regim=replace': --set 'regim=replace': key"),
        ({"axes": {"seed": [0, "x"]}}, "key 'seed' must be an integer"),
        ({"axes": {}}, "'axes' must name at least one config key"),
        ({"axes": {"seed": [1, 1]}}, "'axes.seed' lists the value 1 twice"),
        ({"axes": {"seed": [1]}, "set": ["seed=2"]}, "'axes.seed' is also given in 'set'"),
        ({"axes": {"seed": [1]}, "experiment": "nope.yaml"}, "'nope.yaml', but"),
        ({"axis": {"seed": [1]}}, "did you mean 'axes'"),
        ({"axes": {"regime": ["replace", "'replace'"]}}, "two cells get the folder name"),
        (
            {"axes": {"sampling.temperature": [1, 1.0]}},
            "axis 'sampling.temperature' lists 1 and 1.0, which give the same run",
        ),
        (
            {"axes": {"seed": [0, 1], "name": ["a", "b"]}},
            "axis 'name' lists a and b, but 'name' does not change what a run computes",
        ),
        (
            {"axes": {"logging.every_n_steps": [10, 20]}},
            "axis 'logging.every_n_steps' lists 10 and 20, but 'logging' does not change",
        ),
        ({"axes": {"cache_dir": ["c1", "c2"]}}, "but 'cache_dir' does not change"),
    ],
)
def test_the_sweep_file_is_validated(tmp_path, sweep, words):
    path = write_sweep(tmp_path)
    raw = {"experiment": "base.yaml", **sweep}
    path.write_text(json.dumps(raw))
    with pytest.raises(ConfigError, match="sweep.yaml: ") as error:
        load_sweep(path)
    assert words in str(error.value)


def test_options_of_the_other_executor_are_refused(tmp_path, capsys):
    path = write_sweep(tmp_path)
    assert main(["sweep", str(path), "--address", "auto"]) == 2
    assert "--address applies to --executor ray only" in capsys.readouterr().err
    assert main(["sweep", str(path), "--executor", "ray", "--parallel", "2"]) == 2
    assert "--parallel applies to --executor local" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="an axis of"):
        load_sweep(path, overrides=["seed=3"])
    assert not (tmp_path / "sweep").exists()  # nothing ran


def test_an_out_folder_inside_a_run_is_refused_even_from_within_it(tmp_path, monkeypatch, capsys):
    run = make_run(tmp_path / "run", [{"generation": 0, "mean_variance": 1.0}], grids=False)
    before = sorted(run.rglob("*"))
    monkeypatch.chdir(run)  # `--out comparison` is then a folder of the run
    assert main(["compare", str(run), "--out", "comparison"]) == 2
    assert f"is inside the run directory '{run}'" in capsys.readouterr().err
    assert sorted(run.rglob("*")) == before
