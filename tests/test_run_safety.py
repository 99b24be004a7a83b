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
from lab.errors import RunDirError
from lab.rundir.directory import MANIFEST_FILE, METRICS_FILE, generation_files
from lab.rundir.locks import lock_holder
from lab.rundir.storage import sha256_file
from tests.conftest import TINY_EXPERIMENT

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


def test_corrupted_sample_file_is_detected_and_redone(finished, tmp_path, caplog) -> None:
    config, original = finished
    run_dir = _copy(original, tmp_path / "run")
    samples = run_dir / generation_files(1)["samples"]
    data = bytearray(samples.read_bytes())
    data[len(data) // 2] ^= 0xFF
    samples.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="collapse_lab"):
        assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    assert "generation 1 will be redone: samples/gen_001.npz does not match" in caplog.text
    assert samples.read_bytes() == (original / generation_files(1)["samples"]).read_bytes()
    assert (run_dir / METRICS_FILE).read_bytes() == (original / METRICS_FILE).read_bytes()


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
