"""Same outputs before and after a restructuring: run a fixed set of small jobs, then compare.

    python -m bench.identity run OUT          # every job below, into OUT/ (about 15 min, 2 cores)
    python -m bench.identity compare OLD NEW  # every file byte for byte; exit 1 on a difference

Run it on the old tree (a `git worktree` of the commit before, with this checkout's
environment and PYTHONPATH set to that worktree) and on the new one, then compare. Files
that hold times by design (manifests, training logs, report.html, the report's loss
curves) are compared with their times, versions and paths removed; everything else
(metrics.csv, samples, grids, checkpoints, provenance, plots, eval's JSON, compare's
tables) must be byte-identical. config.yaml is listed apart: a restructuring that changes a
run's resolved config on purpose says so.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# (run folder, experiment file, --set overrides): the image, text and vector domains, the
# regimes, the tiny CelebA and a folder of faces.
RUNS = (
    ("demo", "experiments/demo.yaml", ["generations=2"]),
    ("demo_gan", "experiments/demo_gan.yaml", ["generations=2"]),
    ("demo_text", "experiments/demo_text.yaml", ["generations=2"]),
    (
        "mnist5k_accumulate",
        "experiments/mnist5k_accumulate.yaml",
        ["generations=3", "train.max_epochs=3"],
    ),
    ("mnist5k_fresh", "experiments/mnist5k_fresh.yaml", ["generations=3", "train.max_epochs=3"]),
    (
        "text_fresh",
        "experiments/demo_text_fresh.yaml",
        ["generations=2", "train.max_epochs=1", "samples_per_generation=400"],
    ),
    ("celeba_tiny", "experiments/celeba_dcgan_tiny.yaml", ["data.root={out}/celeba-tiny"]),
    ("faces", "{out}/faces.yaml", ["judge.min_accuracy=0"]),
    ("gaussian", "experiments/gaussian.yaml", ["generations=301"]),
    ("gmm", "experiments/gmm.yaml", ["generations=151"]),
    ("gmm_accumulate", "experiments/gmm.yaml", ["generations=31", "regime=accumulate"]),
)
# Commands over finished runs: (output file, arguments); their standard output is kept.
READERS = (
    (
        "eval.json",
        [
            "eval",
            "{out}/runs/demo/samples/gen_001.npz",
            "--judge-config",
            "{out}/runs/demo/config.yaml",
            "--json",
        ],
    ),
    ("status_demo.txt", ["status", "{out}/runs/demo"]),
    ("check_demo.txt", ["check", "{out}/runs/demo"]),
    ("check_text.txt", ["check", "{out}/runs/demo_text"]),
    (
        "compare.txt",
        ["compare", "{out}/runs/demo", "{out}/runs/mnist5k_accumulate", "--out", "{out}/compare"],
    ),
    ("report_demo.txt", ["report", "{out}/runs/demo"]),
    ("report_text.txt", ["report", "{out}/runs/demo_text"]),
    ("report_gmm.txt", ["report", "{out}/runs/gmm"]),
)
# Folders of OUT that hold inputs and caches, not outputs: the judges and features (found by
# content), the CelebA fixture and its decoded-image cache (stamped with the files' times).
INPUTS = ("cache", "celeba-tiny")
# Compared without what changes from one run to the next by design.
TIMED = ("manifest.json", "manifest.prev.json", "report.html", "metrics.csv.log")
TIMED_FOLDERS = ("logs",)
_VOLATILE_KEYS = {"created", "started", "time", "wall_time_s", "versions", "pid"}


def run_all(out: Path) -> None:
    """Every job of RUNS and READERS into `out` (which must not exist yet)."""
    out.mkdir(parents=True)
    sys.path.insert(0, str(ROOT))
    from tests.celeba_fixtures import write_tiny_celeba

    write_tiny_celeba(out / "celeba-tiny")
    # The tiny CelebA experiment on its faces as a folder: a data section of its own keys.
    faces = yaml.safe_load((ROOT / "experiments" / "celeba_dcgan_tiny.yaml").read_text())
    faces["data"] = {"name": "faces", "root": str(out / "celeba-tiny/celeba/img_align_celeba")}
    (out / "faces.yaml").write_text(yaml.safe_dump(faces))
    lab = [sys.executable, "-m", "lab.cli"]
    for folder, experiment, overrides in RUNS:
        sets = [f"--set={item.format(out=out)}" for item in overrides]
        sets.append(f"--set=cache_dir={out}/cache")
        run_dir = str(out / "runs" / folder)
        command = [*lab, "run", experiment.format(out=out), "--run-dir", run_dir, *sets]
        print("$", " ".join(command), flush=True)
        subprocess.run(command, check=True, cwd=ROOT)
    for name, arguments in READERS:
        command = [*lab, *(item.format(out=out) for item in arguments)]
        print("$", " ".join(command), flush=True)
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        text = done.stdout.replace(str(out), "OUT") + f"exit {done.returncode}\n"
        (out / name).write_text(text)


def compare(old: Path, new: Path) -> int:
    """Print every file that differs (or exists on one side only); 1 if any does."""
    files = {p.relative_to(old) for p in old.rglob("*") if p.is_file()}
    files |= {p.relative_to(new) for p in new.rglob("*") if p.is_file()}
    different, configs, same = [], [], 0
    for relative in sorted(files):
        a, b = old / relative, new / relative
        if relative.parts[0] in INPUTS:
            continue  # what the runs read; what they computed from it is compared
        if not (a.is_file() and b.is_file()):
            different.append(f"only in {'old' if a.is_file() else 'new'}: {relative}")
            continue
        if _comparable(a, old) == _comparable(b, new):
            same += 1
        elif relative.name == "config.yaml":
            configs.append(str(relative))
        else:
            different.append(f"differs: {relative}")
    print(f"{same} files the same")
    for line in configs:
        print(f"resolved config differs (say why): {line}")
    for line in different:
        print(line)
    return 1 if different else 0


def _comparable(path: Path, out: Path) -> bytes | object:
    if path.name in TIMED or set(path.parts) & set(TIMED_FOLDERS):
        text = path.read_text(errors="replace").replace(str(out), "OUT")
        if path.suffix == ".json":
            return _without_volatile(json.loads(text))
        return re.sub(r"\d+(\.\d+)?", "N", text) if path.name != "report.html" else _page(text)
    if path.suffix in (".csv", ".txt", ".json", ".yaml"):
        return path.read_text(errors="replace").replace(str(out), "OUT")  # paths in tables
    return path.read_bytes()


def _page(html: str) -> str:
    """report.html without its times (generation wall times, the date it was written)."""
    return re.sub(r"\d{4}-\d\d-\d\dT[\d:+-]+|\d+(\.\d+)? ?s\b", "T", html)


def _without_volatile(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_volatile(v) for k, v in value.items() if k not in _VOLATILE_KEYS}
    if isinstance(value, list):
        return [_without_volatile(v) for v in value]
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run").add_argument("out", type=Path)
    both = commands.add_parser("compare")
    both.add_argument("old", type=Path)
    both.add_argument("new", type=Path)
    args = parser.parse_args()
    if args.command == "run":
        run_all(args.out.resolve())
        return 0
    return compare(args.old, args.new)


if __name__ == "__main__":
    sys.exit(main())
