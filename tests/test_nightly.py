"""The nightly suite on tiny fake nights: the index lists every night, the regression flag is
raised when a final metric moves past its tolerance and not otherwise, and a night that
fails part-way still says what finished and why the rest did not."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from lab.cli import main
from lab.config import load_config
from lab.errors import ConfigError, Interrupted, RunDirError
from lab.nightly.index import INDEX_FILE, changes, night_problems, read_nights, write_index
from lab.nightly.night import NIGHT_FILE, run_night
from lab.nightly.prune import PRUNED_FOLDERS, prune_nights
from lab.nightly.suite import NightlySuite, load_suite
from lab.rundir.locks import RunLock
from lab.sweeps.cells import Cell, Outcome, launch_cell
from lab.sweeps.local import LocalExecutor
from tests.fake_runs import make_run

TOLERANCE = {"fid": {"relative": 0.05}, "classes_covered": {"absolute": 0}}


def _suite(tmp_path: Path, entries: Sequence[dict], **extra) -> tuple[NightlySuite, Path]:
    path = tmp_path / "nightly.yaml"
    raw = {"output": str(tmp_path / "nightly"), "tolerance": TOLERANCE, "entries": list(entries)}
    path.write_text(yaml.safe_dump({**raw, **extra}))
    return load_suite(path), path


def _fake_runner(final_fid: dict[str, float], fail: Sequence[str] = ()) -> Callable:
    """A runner that writes a finished fake run (final FID as given) instead of training."""

    def run(cell: Cell, env: dict) -> Outcome:
        cell.log_file.parent.mkdir(parents=True, exist_ok=True)
        cell.log_file.write_text("fake\n")
        if cell.name in fail:
            make_run(cell.run_dir, _rows([90.0], [10]), config={"generations": 5}, grids=False)
            return Outcome(2, "out of memory in generation 1", 3.0)
        make_run(cell.run_dir, _rows([80.0, final_fid[cell.name]], [10, 9]), grids=False)
        return Outcome(0, "", 12.0)

    return run


def _rows(fids: Sequence[float], covered: Sequence[int]) -> list[dict]:
    return [
        {"generation": g, "fid": fid, "classes_covered": count}
        for g, (fid, count) in enumerate(zip(fids, covered, strict=True))
    ]


def _two_nights(tmp_path: Path, second_fid: float) -> tuple[Path, list[dict]]:
    suite, path = _suite(tmp_path, [{"name": "vae", "config": "vae.yaml"}])
    run_night(suite, path, "2026-11-25", runner=_fake_runner({"vae": 200.0}), echo=str)
    run_night(suite, path, "2026-11-26", runner=_fake_runner({"vae": second_fid}), echo=str)
    root = Path(suite.output)
    return write_index(root), read_nights(root)


def _links(index: Path) -> list[str]:
    class Links(HTMLParser):
        found: list[str] = []

        def handle_starttag(self, tag, attrs) -> None:  # noqa: ANN001
            if tag == "a":
                self.found.append(dict(attrs)["href"])

    parser = Links()
    parser.found = []
    parser.feed(index.read_text())
    return parser.found


@pytest.mark.parametrize(
    ("second_fid", "flagged"), [(209.0, False), (191.0, False), (211.0, True), (189.0, True)]
)
def test_flag_raised_past_the_tolerance_and_not_otherwise(tmp_path, second_fid, flagged):
    index, nights = _two_nights(tmp_path, second_fid)
    assert [night["date"] for night in nights] == ["2026-11-25", "2026-11-26"]
    found = changes(nights)
    assert night_problems(nights[0], found) == []  # the first night has nothing to compare to
    fid = next(c for c in found[("2026-11-26", "vae")] if c.metric == "fid")
    assert (fid.previous, fid.current, fid.allowed) == (200.0, second_fid, pytest.approx(10.0))
    assert fid.flagged is flagged
    problems = night_problems(nights[1], found)
    assert problems == ([f"vae fid moved {fid.describe()}"] if flagged else [])
    text = index.read_text()
    assert ("REGRESSION FLAG" in text) is flagged
    links = _links(index)
    for date in ("2026-11-25", "2026-11-26"):
        assert f"{date}/vae/report.html" in links and f"{date}/vae.log" in links
    for link in links:
        assert (index.parent / link).is_file(), link


def test_a_default_tolerance_the_entry_never_had_is_not_listed(tmp_path):
    """The suite's default tolerances name digit-class metrics, which a CelebA entry never has;
    a metric that only one of two nights has is still shown."""
    suite, path = _suite(
        tmp_path,
        [{"name": "vae", "config": "vae.yaml"}],
        tolerance={**TOLERANCE, "mean_log_variance": {"absolute": 0.05}},
    )
    run_night(suite, path, "2026-11-25", runner=_fake_runner({"vae": 200.0}), echo=str)
    run_night(suite, path, "2026-11-26", runner=_fake_runner({"vae": 201.0}), echo=str)
    found = changes(read_nights(Path(suite.output)))
    assert sorted(c.metric for c in found[("2026-11-26", "vae")]) == ["classes_covered", "fid"]
    second = json.loads((Path(suite.output) / "2026-11-26" / NIGHT_FILE).read_text())
    del second["entries"][0]["final"]["fid"]
    (Path(suite.output) / "2026-11-26" / NIGHT_FILE).write_text(json.dumps(second))
    listed = changes(read_nights(Path(suite.output)))[("2026-11-26", "vae")]
    fid = next(c for c in listed if c.metric == "fid")
    assert (fid.metric, fid.current, fid.describe()) == (
        "fid",
        None,
        "not in this night's metrics.csv",
    )


def test_a_flag_compares_with_the_last_night_the_entry_finished(tmp_path):
    suite, path = _suite(tmp_path, [{"name": "vae", "config": "vae.yaml"}])
    run_night(suite, path, "2026-11-24", runner=_fake_runner({"vae": 200.0}), echo=str)
    run_night(suite, path, "2026-11-25", runner=_fake_runner({}, fail=["vae"]), echo=str)
    run_night(suite, path, "2026-11-26", runner=_fake_runner({"vae": 230.0}), echo=str)
    nights = read_nights(Path(suite.output))
    fid = next(c for c in changes(nights)[("2026-11-26", "vae")] if c.metric == "fid")
    assert (fid.previous_date, fid.previous, fid.flagged) == ("2026-11-24", 200.0, True)


def test_a_failed_entry_does_not_stop_the_night(tmp_path):
    entries = [
        {"name": "first", "config": "a.yaml"},
        {"name": "broken", "config": "b.yaml"},
        {"name": "last", "config": "c.yaml"},
    ]
    suite, path = _suite(tmp_path, entries)
    runner = _fake_runner({"first": 100.0, "last": 120.0}, fail=["broken"])
    record = run_night(suite, path, "2026-11-26", runner=runner, echo=str)
    statuses = [(e["name"], e["status"], e["reason"]) for e in record["entries"]]
    assert statuses == [
        ("first", "finished", ""),
        ("broken", "failed", "out of memory in generation 1"),
        ("last", "finished", ""),
    ]
    broken = record["entries"][1]
    assert (broken["generations"], broken["planned_generations"]) == (1, 5)
    index = write_index(Path(suite.output))
    text = index.read_text()
    assert "broken failed: out of memory in generation 1" in text
    assert "2026-11-26/broken/report.html" in _links(index)  # what it finished is reported


def test_a_night_stopped_part_way_says_what_ran_and_what_did_not(tmp_path):
    entries = [{"name": n, "config": f"{n}.yaml"} for n in ("done", "killed", "never")]
    suite, path = _suite(tmp_path, entries)
    finished = _fake_runner({"done": 100.0})

    def runner(cell, env):  # noqa: ANN001
        if cell.name == "killed":
            raise KeyboardInterrupt  # the box went down, or someone pressed Ctrl-C
        return finished(cell, env)

    with pytest.raises(KeyboardInterrupt):
        run_night(suite, path, "2026-11-26", runner=runner, echo=str)
    record = json.loads((Path(suite.output) / "2026-11-26" / NIGHT_FILE).read_text())
    assert [(e["name"], e["status"]) for e in record["entries"]] == [
        ("done", "finished"),
        ("killed", "running"),
        ("never", "not run"),
    ]
    assert record["finished"] is None
    problems = night_problems(record, changes([record]))
    assert problems == [
        "killed running: the night stopped while this entry ran",
        "never not run: the night stopped before this entry started",
    ]
    assert "not recorded (stopped, or still running)" in write_index(Path(suite.output)).read_text()


def test_an_entry_that_exits_0_without_finishing_is_not_finished(tmp_path):
    suite, path = _suite(tmp_path, [{"name": "vae", "config": "vae.yaml"}])

    def stopped(cell, env):  # noqa: ANN001
        make_run(cell.run_dir, _rows([80.0], [10]), config={"generations": 6}, grids=False)
        return Outcome(0, "", 5.0)

    record = run_night(suite, path, "2026-11-26", runner=stopped, echo=str)
    (entry,) = record["entries"]
    assert entry["status"] == "failed"
    assert entry["reason"].startswith("exited with status 0 after 1 of 6 generations")


@pytest.mark.slow
def test_a_real_failing_entry_records_the_error_sentence(tmp_path, write_config):
    """The subprocess runner on an entry whose data is missing: exit 2 and the CLI's sentence."""
    config = write_config({"data": {"name": "mnist", "root": str(tmp_path / "no-data")}})
    cell = Cell("missing", config, (), tmp_path / "run", tmp_path / "missing.log")
    outcome = launch_cell(cell, {})
    assert outcome.exit_code == 2
    assert outcome.reason.startswith("MNIST is incomplete") and "no-data" in outcome.reason
    assert "$ " in (tmp_path / "missing.log").read_text().splitlines()[0]


def test_nightly_command_exit_codes(tmp_path, monkeypatch, capsys):
    suite, path = _suite(tmp_path, [{"name": "vae", "config": "vae.yaml"}])
    fids = iter([200.0, 201.0, 300.0])

    def runner(cell, env):  # noqa: ANN001
        return _fake_runner({"vae": next(fids)})(cell, env)

    monkeypatch.setattr("lab.nightly.night.launch_cell", runner)
    assert main(["nightly", str(path), "--date", "2026-11-24"]) == 0
    assert main(["nightly", str(path), "--date", "2026-11-25"]) == 0
    assert main(["nightly", str(path), "--date", "2026-11-26"]) == 1
    out = capsys.readouterr().out
    assert "FLAG 2026-11-26: vae fid moved +99 since 2026-11-25" in out
    assert (Path(suite.output) / INDEX_FILE).is_file()
    assert main(["nightly", str(path), "--date", "26-11-2026"]) == 2


def test_the_suite_file_is_validated(tmp_path):
    with pytest.raises(ConfigError, match=r"'tolerance.fid' must set exactly one"):
        _suite(
            tmp_path,
            [{"name": "a", "config": "a.yaml"}],
            tolerance={"fid": {"absolute": 1, "relative": 0.1}},
        )
    with pytest.raises(ConfigError, match=r"names 'a' twice"):
        _suite(tmp_path, [{"name": "a", "config": "a.yaml"}, {"name": "a", "config": "b.yaml"}])
    with pytest.raises(ConfigError, match=r"'entries\[0\].name' must be a folder name"):
        _suite(tmp_path, [{"name": "../up", "config": "a.yaml"}])
    with pytest.raises(ConfigError, match=r"'entries\[0\].confg' is not known.*did you mean"):
        _suite(tmp_path, [{"name": "a", "confg": "a.yaml"}])


def test_the_shipped_suite_lists_only_experiments_that_exist():
    root = Path(__file__).resolve().parents[1]
    suite = load_suite(root / "experiments" / "nightly.yaml")
    assert "mnist_vae" in [entry.name for entry in suite.entries]
    for entry in suite.entries:
        config = load_config(root / entry.config)  # exists and validates
        assert config.data.name != "mnist5k", f"{entry.name} is a CPU demo, not a nightly run"


def test_an_entry_with_seeds_runs_once_per_seed(tmp_path):
    suite, path = _suite(tmp_path, [{"name": "vae", "config": "vae.yaml", "seeds": [0, 1]}])
    seen = {}
    fake = _fake_runner({"vae/seed=0": 200.0, "vae/seed=1": 210.0})

    def runner(cell, env):  # noqa: ANN001
        seen[cell.name] = cell.overrides
        return fake(cell, env)

    record = run_night(suite, path, "2026-11-26", ["data.root=/d"], runner=runner, echo=str)
    assert seen == {
        "vae/seed=0": ("seed=0", "data.root=/d"),
        "vae/seed=1": ("seed=1", "data.root=/d"),
    }
    assert [(e["name"], e["status"]) for e in record["entries"]] == [
        ("vae/seed=0", "finished"),
        ("vae/seed=1", "finished"),
    ]
    links = _links(write_index(Path(suite.output)))
    assert "2026-11-26/vae/seed=1/report.html" in links and "2026-11-26/vae/seed=1.log" in links
    with pytest.raises(ConfigError, match="sets 'seed' and the entry lists seeds"):
        _suite(tmp_path, [{"name": "v", "config": "v.yaml", "seeds": [0], "set": ["seed=1"]}])


def test_entries_run_side_by_side_each_on_a_card(tmp_path):
    entries = [{"name": n, "config": f"{n}.yaml"} for n in ("a", "b", "c")]
    suite, path = _suite(tmp_path, entries)
    cards = {}
    fake = _fake_runner({"a": 1.0, "b": 2.0, "c": 3.0})

    def runner(cell, env):  # noqa: ANN001
        cards[cell.name] = env["CUDA_VISIBLE_DEVICES"]
        return fake(cell, env)

    executor = LocalExecutor(parallel=2, cards=("0", "1"))
    record = run_night(suite, path, "2026-11-26", runner=runner, echo=str, executor=executor)
    assert (cards["a"], cards["b"]) == ("0", "1") and cards["c"] in ("0", "1")
    assert [e["where"] for e in record["entries"]] == [f"card {cards[n]}" for n in "abc"]
    assert record["executor"] == "local, 2 at once on cards 0, 1"


def _night_with_samples(suite: NightlySuite, path: Path, date: str) -> None:
    fake = _fake_runner({"vae": 200.0})

    def runner(cell, env):  # noqa: ANN001
        outcome = fake(cell, env)
        for folder in (*PRUNED_FOLDERS, "grids"):
            (cell.run_dir / folder).mkdir()
            (cell.run_dir / folder / "gen_000.bin").write_bytes(b"x" * 1000)
        return outcome

    run_night(suite, path, date, runner=runner, echo=str)


def test_keep_samples_nights_prunes_only_older_finished_nights(tmp_path, monkeypatch):
    suite, path = _suite(tmp_path, [{"name": "vae", "config": "vae.yaml"}], keep_samples_nights=2)
    root = Path(suite.output)
    for date in ("2026-11-23", "2026-11-24", "2026-11-25"):
        _night_with_samples(suite, path, date)
    stopped = json.loads((root / "2026-11-23" / NIGHT_FILE).read_text())
    stopped["finished"] = None  # a night that stopped part-way keeps what it resumes from
    (root / "2026-11-23" / NIGHT_FILE).write_text(json.dumps(stopped))
    fake = _fake_runner({"vae": 201.0})
    monkeypatch.setattr("lab.nightly.night.launch_cell", fake)
    assert main(["nightly", str(path), "--date", "2026-11-26"]) == 0
    kept = {
        date: (root / date / "vae" / "samples").is_dir()
        for date in sorted(os.listdir(root))
        if date[0] == "2"
    }
    assert kept == {
        "2026-11-23": True,
        "2026-11-24": False,
        "2026-11-25": True,
        "2026-11-26": False,
    }
    pruned = root / "2026-11-24"
    assert not (pruned / "vae" / "checkpoints").exists()
    for kept_file in ("metrics.csv", "manifest.json", "report.html", "grids/gen_000.bin"):
        assert (pruned / "vae" / kept_file).is_file(), kept_file
    assert json.loads((pruned / NIGHT_FILE).read_text())["pruned"]["bytes"] == 2000
    for link in _links(root / INDEX_FILE):
        assert (root / link).is_file(), link
    assert prune_nights(root, 2, echo=str) == []  # pruned once; the others are kept
    with pytest.raises(ConfigError, match="was pruned by keep_samples_nights"):
        run_night(suite, path, "2026-11-24", runner=fake, echo=str)


def test_a_second_nightly_of_the_same_date_is_refused_while_one_runs(tmp_path):
    suite, path = _suite(tmp_path, [{"name": "vae", "config": "vae.yaml"}])
    night_dir = tmp_path / "nightly" / "2026-11-27"
    running = RunLock(night_dir)  # as the first nightly of that date holds it
    running.acquire()
    try:
        said = f"night folder '{night_dir}' is in use by process {os.getpid()} on "
        with pytest.raises(RunDirError, match=re.escape(said)):
            run_night(suite, path, "2026-11-27", runner=_fake_runner({"vae": 200.0}), echo=str)
    finally:
        running.release()
    assert not (night_dir / NIGHT_FILE).exists()


@pytest.fixture
def sigterm_survived() -> Iterator[None]:
    """SIGTERM does nothing unless the code under test catches it (not the default, which
    would end the whole test session)."""
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    yield
    signal.signal(signal.SIGTERM, previous)


def test_sigterm_stops_the_night_and_says_which_entries_it_cut_short(tmp_path, sigterm_survived):
    entries = [{"name": "vae", "config": "vae.yaml"}, {"name": "gan", "config": "gan.yaml"}]
    suite, path = _suite(tmp_path, entries)

    def stopped_by_hand(cell: Cell, env: dict) -> Outcome:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.5)  # the signal lands while this entry runs
        make_run(cell.run_dir, _rows([90.0], [10]), config={"generations": 5}, grids=False)
        return Outcome(143, "stopped by SIGTERM; run the same command again to resume.", 1.0)

    with pytest.raises(Interrupted) as stopped:
        run_night(suite, path, "2026-11-27", runner=stopped_by_hand, echo=str)
    assert stopped.value.exit_code == 143
    night = json.loads((tmp_path / "nightly" / "2026-11-27" / NIGHT_FILE).read_text())
    assert night["stopped"] == {**night["stopped"], "by": "SIGTERM", "interrupted": ["vae"]}
    assert night["finished"] is None
    vae, gan = night["entries"]
    assert (vae["status"], vae["exit_code"]) == ("failed", 143)
    assert gan["status"] == "not run"
    assert gan["reason"] == "the night was stopped by SIGTERM before this entry started"
