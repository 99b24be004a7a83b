"""Shared fixtures: a tiny mnist5k experiment, one judge cache and one tiny pretrained OPT
folder for the whole session.

Under pytest-xdist (`make test`), each worker is one process on one core: torch and the
`collapse-lab` processes the tests start keep to one thread, so two workers share two cores
without oversubscribing them, and every worker reads the one judge cache the first trains."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

from lab.rundir.directory import format_value

WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if WORKER:
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = "1"
    import torch

    torch.set_num_threads(1)


TINY_EXPERIMENT = {
    "name": "tiny",
    "generations": 3,
    "samples_per_generation": 1000,
    "seed": 7,
    "regime": "replace",
    "data": {"name": "mnist5k"},
    "model": {"kind": "vae", "latent_dim": 8, "channels": [16, 32]},
    "train": {"max_steps": 120, "batch_size": 64, "lr": 0.002},
}

# Gaussian chains in two blocks of three generations, finished in well under a second: the
# run that tests damage, kill and resume when the kind of model does not matter.
SMALL_CHAINS_EXPERIMENT = {
    "name": "chains",
    "generations": 6,
    "samples_per_generation": 20,
    "seed": 0,
    "data": {"name": "gaussian"},
    "model": {"kind": "gaussian", "chains": 10, "commit_every": 3},
}


@pytest.fixture(scope="session")
def tiny_opt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny OPT and its BPE tokenizer in a save_pretrained folder, written once per session
    (tests/hf_fixtures.py): what `model.pretrained` names in the tests, with no hub."""
    from tests.hf_fixtures import write_tiny_opt

    return write_tiny_opt(tmp_path_factory.mktemp("tiny_opt"))


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One judge cache per test session: the tiny experiment's judge trains once, in the first
    worker that asks, and every run of every worker reuses it."""
    shared = tmp_path_factory.getbasetemp()
    if WORKER:
        shared = shared.parent  # the folder all workers' temporary folders are made in
    path = shared / "cache"
    with FileLock(str(shared / "cache.lock")):
        path.mkdir(exist_ok=True)
        config = shared / "judge.yaml"
        config.write_text(yaml.safe_dump({**TINY_EXPERIMENT, "cache_dir": str(path)}))
        _tiny_judge(config)  # trained here once, found by every later call
    return path


def _tiny_judge(config_path: Path):
    """(config, real data, judge) of a tiny experiment file; the judge trained into its
    cache_dir unless it is there already."""
    from lab.config import load_config
    from lab.device import plan_device
    from lab.domains.images.judging import load_or_train_judge

    config = load_config(config_path)
    real = config.data.load()
    judge, _ = load_or_train_judge(config, real, plan_device("cpu", "32-true", deterministic=True))
    return config, real, judge


@pytest.fixture
def write_config(tmp_path: Path, cache_dir: Path):
    """Write a tiny experiment YAML (with optional changes) and return its path."""

    def write(changes: dict | None = None, name: str = "tiny.yaml") -> Path:
        config = {**TINY_EXPERIMENT, "cache_dir": str(cache_dir)}
        for key, value in (changes or {}).items():
            config[key] = value
        path = tmp_path / name
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    return write


@pytest.fixture(scope="session")
def tiny_config(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    """The tiny experiment's YAML written once per session, for module-scoped fixtures."""
    path = tmp_path_factory.mktemp("tiny_config") / "tiny.yaml"
    path.write_text(yaml.safe_dump({**TINY_EXPERIMENT, "cache_dir": str(cache_dir)}))
    return path


@pytest.fixture(scope="module")
def mnist(tiny_config: Path):
    """(config, real data, judge) of the tiny experiment; the judge is the session's cached one."""
    return _tiny_judge(tiny_config)


def assert_matches_row(measured: dict, row: dict[str, str]) -> None:
    """eval's numbers are the row's, as metrics.csv writes them; the row only adds what the
    loop knows (generation, training set, steps, divergence), and copy_fraction unless eval
    was given the training set (--train)."""
    loop_only = {"generation", "synthetic_fraction", "train_steps", "diverged"}
    if "copy_fraction" not in measured:
        loop_only.add("copy_fraction")
    assert set(measured) == set(row) - loop_only
    for name, value in measured.items():
        assert ("nan" if value is None else format_value(value)) == row[name], name
