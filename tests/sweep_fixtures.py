"""Gaussian sweeps for the tests of lab/sweeps: 2 regimes x 3 seeds of a Gaussian refitted to
its own samples, small enough that a cell is mostly the start-up of its process."""

from __future__ import annotations

import itertools
from pathlib import Path

import yaml

from lab.cli import main
from lab.rundir.directory import METRICS_FILE

BASE = {
    "name": "chains",
    "generations": 30,
    "samples_per_generation": 20,
    "seed": 0,
    "regime": "replace",
    "data": {"name": "gaussian", "dim": 1},
    "model": {"kind": "gaussian", "chains": 200, "estimator": "unbiased", "commit_every": 10},
}
AXES = {"regime": ["replace", "accumulate"], "seed": [0, 1, 2]}


def write_sweep(root: Path, axes: dict | None = None, **extra) -> Path:
    """base.yaml and sweep.yaml in `root`; the sweep writes to root/sweep."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "base.yaml").write_text(yaml.safe_dump(BASE, sort_keys=False))
    sweep = {"experiment": "base.yaml", "output": str(root / "sweep"), "axes": axes or AXES}
    path = root / "sweep.yaml"
    path.write_text(yaml.safe_dump({**sweep, **extra}, sort_keys=False))
    return path


def cell_name(regime: str, seed: int) -> str:
    return f"regime={regime},seed={seed}"


def outputs(run_dir: Path) -> dict[str, bytes]:
    """The files that must be byte-identical: metrics.csv and the fits of every generation."""
    files = [run_dir / METRICS_FILE, *sorted(run_dir.glob("fits/*.npz"))]
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in files}


def runs_one_by_one(root: Path) -> dict[str, dict[str, bytes]]:
    """Every cell of AXES made by hand, `collapse-lab run base.yaml --set ...` one after
    another: cell name -> its outputs, in the sweep's order of cells."""
    root.mkdir(parents=True, exist_ok=True)
    base = root / "base.yaml"
    base.write_text(yaml.safe_dump(BASE, sort_keys=False))
    found = {}
    for regime, seed in itertools.product(AXES["regime"], AXES["seed"]):
        name = cell_name(regime, seed)
        run_dir = root / name
        overrides = ["--set", f"regime={regime}", "--set", f"seed={seed}"]
        assert main(["run", str(base), "--run-dir", str(run_dir), *overrides]) == 0
        found[name] = outputs(run_dir)
    return found
