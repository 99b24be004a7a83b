"""Finished generations are never damaged, damaged ones are redone, one process per run."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lab.cli import main
from lab.commands.status import describe
from lab.domains.images.files import image_files
from lab.errors import RunDirError
from lab.rundir.directory import MANIFEST_FILE, METRICS_FILE
from lab.rundir.locks import lock_holder
from lab.rundir.storage import sha256_file
from tests.conftest import SMALL_CHAINS_EXPERIMENT, TINY_EXPERIMENT
from tests.fake_runs import make_run, mnist_rows

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("safety")
    config = root / "tiny.yaml"
    small = {"generations": 2, "samples_per_generation": 400}
    config.write_text(yaml.safe_dump({**TINY_EXPERIMENT, **small, "cache_dir": str(cache_dir)}))
    run_dir = root / "run"
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    return config, run_dir


def _copy(run_dir: Path, target: Path) -> Path:
    shutil.copytree(run_dir, target)
    return target


@pytest.mark.slow
def test_corrupted_sample_file_is_detected_and_redone(finished, tmp_path, caplog) -> None:
    config, original = finished
    run_dir = _copy(original, tmp_path / "run")
    samples = run_dir / image_files(1)["samples"]
    data = bytearray(samples.read_bytes())
    data[len(data) // 2] ^= 0xFF
    samples.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="collapse_lab"):
        assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    assert "generation 1 will be redone: samples/gen_001.npz does not match" in caplog.text
    assert samples.read_bytes() == (original / image_files(1)["samples"]).read_bytes()
    assert (run_dir / METRICS_FILE).read_bytes() == (original / METRICS_FILE).read_bytes()


@pytest.mark.slow
def test_disk_full_mid_write_leaves_finished_generations_intact(
    finished, tmp_path, monkeypatch, capsys
) -> None:
    config, original = finished
    run_dir = _copy(original, tmp_path / "run")
    manifest = json.loads((run_dir / MANIFEST_FILE).read_text())
    manifest["generations"].pop()
    (run_dir / MANIFEST_FILE).write_text(json.dumps(manifest))
    real_fsync = os.fsync

    def fsync_failing_on_samples(fd: int) -> None:
        if "gen_001.npz" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_failing_on_samples)
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "could not write" in err and "gen_001.npz" in err and "No space left" in err
    assert not list(run_dir.rglob(".*.tmp-*")), "a temporary file was left behind"
    after = json.loads((run_dir / MANIFEST_FILE).read_text())
    assert len(after["generations"]) == 1
    for relative, digest in after["generations"][0]["files"].items():
        assert sha256_file(run_dir / relative) == digest
    assert "could not write" in after["last_failure"]["error"]
    assert "generation 1" in after["last_failure"]["during"]
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    assert (run_dir / METRICS_FILE).read_bytes() == (original / METRICS_FILE).read_bytes()


def _hold_lock(run_dir: Path) -> subprocess.Popen:
    """Another process that takes the run directory's lock and keeps it until killed."""
    script = (
        "import sys, time; from pathlib import Path; from lab.rundir.locks import RunLock; "
        "RunLock(Path(sys.argv[1])).acquire(); print('locked', flush=True); time.sleep(600)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(run_dir)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


@pytest.mark.slow
def test_second_process_is_refused_then_stale_lock_is_taken_over(
    finished, tmp_path, capsys, caplog
) -> None:
    config, original = finished
    run_dir = _copy(original, tmp_path / "run")
    holder = _hold_lock(run_dir)
    try:
        assert lock_holder(run_dir).startswith(f"process {holder.pid} on ")
        assert main(["run", str(config), "--run-dir", str(run_dir)]) == 2
        err = capsys.readouterr().err
        assert f"is in use by process {holder.pid}" in err
        assert f"lock: held by process {holder.pid}" in describe(run_dir)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert lock_holder(run_dir) is None
    with caplog.at_level(logging.WARNING, logger="collapse_lab"):
        assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    assert f"taking over the lock of process {holder.pid}" in caplog.text


@pytest.mark.slow
def test_status_tells_done_interrupted_and_failed(finished, tmp_path, capsys) -> None:
    config, original = finished
    run_dir = _copy(original, tmp_path / "run")
    text = describe(run_dir)
    assert "2 of 2 generations done" in text and "lock: free" in text
    manifest = json.loads((run_dir / MANIFEST_FILE).read_text())
    manifest["generations"].pop()
    manifest["in_progress"] = {"generation": 1, "started": "2026-01-01T00:00:00", "pid": 4242}
    manifest["last_failure"] = {"during": "generation 1", "time": "t", "error": "DataError: x"}
    (run_dir / MANIFEST_FILE).write_text(json.dumps(manifest))
    assert main(["status", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "1 of 2 generations done" in out
    assert "interrupted (process 4242 stopped)" in out
    assert "last failure, during generation 1" in out and "DataError: x" in out


def test_status_of_a_folder_that_is_not_a_run(tmp_path) -> None:
    with pytest.raises(RunDirError, match="is not a collapse-lab run directory"):
        describe(tmp_path)


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(experiment file, finished run) of SMALL_CHAINS_EXPERIMENT; tests work on copies."""
    root = tmp_path_factory.mktemp("chains")
    config = root / "chains.yaml"
    config.write_text(yaml.safe_dump(SMALL_CHAINS_EXPERIMENT, sort_keys=False))
    assert main(["run", str(config), "--run-dir", str(root / "run")]) == 0
    return config, root / "run"


@pytest.mark.slow
def test_temporary_files_of_a_killed_write_are_removed_when_a_run_opens(
    chains, tmp_path, caplog
) -> None:
    config, original = chains
    run_dir = _copy(original, tmp_path / "run")
    dead = 2**22 + 1  # above the kernel's largest PID: no process has it
    leftovers = [run_dir / "fits" / f".gen_0003-0005.npz.tmp-{dead}", run_dir / f".x.tmp-{dead}"]
    for file in leftovers:
        file.write_bytes(b"\0" * 1000)
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    in_use = run_dir / f".report.html.tmp-{writer.pid}"  # a live `report` beside the run
    in_use.write_bytes(b"")
    try:
        with caplog.at_level(logging.WARNING, logger="collapse_lab"):
            assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    finally:
        writer.kill()
        writer.wait()
    assert not any(file.exists() for file in leftovers)
    assert in_use.exists()
    assert "removed 2 temporary files (0.0 MB)" in caplog.text


def test_a_config_refused_by_a_size_check_does_not_bind_the_folder(chains, tmp_path) -> None:
    config, _ = chains
    run_dir = tmp_path / "run"
    too_few = tmp_path / "too_few.yaml"
    too_few.write_text(yaml.safe_dump({**SMALL_CHAINS_EXPERIMENT, "samples_per_generation": 1}))
    assert main(["run", str(too_few), "--run-dir", str(run_dir)]) == 2
    assert [p.name for p in run_dir.iterdir()] == [".lock"]
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    assert len(json.loads((run_dir / MANIFEST_FILE).read_text())["generations"]) == 6


def test_a_key_added_since_the_folder_was_made_counts_only_when_changed(
    chains, tmp_path, capsys
) -> None:
    config, original = chains
    run_dir = _copy(original, tmp_path / "run")
    stored = yaml.safe_load((run_dir / "config.yaml").read_text())
    del stored["data"]["collapsed_fraction"]  # as if the folder predated the key
    (run_dir / "config.yaml").write_text(yaml.safe_dump(stored, sort_keys=False))
    changed = ["--set", "data.collapsed_fraction=0.2"]
    assert main(["run", str(config), "--run-dir", str(run_dir), *changed]) == 2
    assert "'data.collapsed_fraction' is 0.1 there and 0.2 here" in capsys.readouterr().err
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    assert "all 6 generations are complete" in capsys.readouterr().out
    restored = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert restored["data"]["collapsed_fraction"] == 0.1


def test_an_emptied_config_is_restored_by_the_experiment_that_made_the_run(
    chains, tmp_path, caplog
) -> None:
    config, original = chains
    run_dir = _copy(original, tmp_path / "run")
    (run_dir / "config.yaml").write_text("")
    with caplog.at_level(logging.WARNING, logger="collapse_lab"):
        assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    assert "restored from this config" in caplog.text
    assert (run_dir / "config.yaml").read_bytes() == (original / "config.yaml").read_bytes()
    assert (run_dir / METRICS_FILE).read_bytes() == (original / METRICS_FILE).read_bytes()


def test_a_truncated_manifest_is_refused_and_the_kept_one_resumes(chains, tmp_path, capsys) -> None:
    config, original = chains
    run_dir = _copy(original, tmp_path / "run")
    manifest = run_dir / MANIFEST_FILE
    manifest.write_bytes(manifest.read_bytes()[:-700])
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 2
    assert "copy it over manifest.json" in capsys.readouterr().err
    after = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    assert after == before, "a refused run changed its folder"
    shutil.copy(run_dir / "manifest.prev.json", manifest)
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    assert "resuming at generation 3 of 6" in capsys.readouterr().out
    assert (run_dir / METRICS_FILE).read_bytes() == (original / METRICS_FILE).read_bytes()


@pytest.mark.slow
def test_status_and_readers_name_a_damaged_generation(chains, tmp_path, capsys) -> None:
    _, original = chains
    run_dir = _copy(original, tmp_path / "run")
    fits = run_dir / "fits" / "gen_0003-0005.npz"
    data = bytearray(fits.read_bytes())
    data[len(data) // 2] ^= 0xFF
    fits.write_bytes(bytes(data))
    text = describe(run_dir)
    assert "3 of 6 generations done (3 damaged or after a damaged one" in text
    assert "3  damaged (fits/gen_0003-0005.npz does not match the hash" in text
    assert main(["report", str(run_dir)]) == 2
    assert "generations 3-5 of this run are damaged" in capsys.readouterr().err
    grids = make_run(tmp_path / "images", mnist_rows([80.0, 90.0], [10, 10]))
    (grids / image_files(1)["grid"]).write_bytes(b"not the grid")
    assert main(["compare", str(run_dir), str(grids), "--out", str(tmp_path / "out")]) == 2
    assert "grids/gen_001.png' does not match its sha256" in capsys.readouterr().err


def test_a_closed_pipe_ends_the_output_quietly(chains) -> None:
    _, run_dir = chains
    reader = subprocess.Popen(
        [sys.executable, "-m", "lab.cli", "status", str(run_dir)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    reader.stdout.close()  # as `| head` does, long before the command prints
    err = reader.stderr.read().decode()
    assert reader.wait(timeout=120) == 141, err
    assert "Traceback" not in err and "Exception ignored" not in err
