"""`collapse-lab status RUN`: what a run directory holds and whether something is working on it.

Reads the manifest without taking the lock, so it is safe beside a running `collapse-lab run`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from lab.errors import RunDirError
from lab.rundir.directory import CONFIG_FILE, MANIFEST_FILE, read_manifest
from lab.rundir.locks import lock_holder

HELP = "show which generations of a run are done, in progress or failed"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN", help="a run directory")


def handle(args: argparse.Namespace) -> int:
    print(describe(args.run_dir))
    return 0


def describe(run_dir: Path) -> str:
    """A few lines: config, lock, per-generation state and time, last failure."""
    manifest = read_manifest(run_dir)
    config_path = run_dir / CONFIG_FILE
    if manifest is None or not config_path.is_file():
        raise RunDirError(
            f"'{run_dir}' has no readable {MANIFEST_FILE} and {CONFIG_FILE}, so it is not a "
            "collapse-lab run directory; pass a folder written by `collapse-lab run`."
        )
    planned = int(yaml.safe_load(config_path.read_text())["generations"])
    holder = lock_holder(run_dir)
    done = manifest["generations"]
    lines = [
        f"run {run_dir} (experiment {manifest['name']}): {len(done)} of {planned} generations done",
        f"lock: held by {holder}" if holder else "lock: free (no process is running this run)",
    ]
    judge = manifest.get("judge")
    if judge:
        lines.append(f"judge: {judge['heldout_accuracy']:.4f} accurate on the held-out set")
    lines.append(f"{'generation':>10}  {'state':<40}  {'wall time':>10}")
    for record in done:
        lines.append(
            f"{record['generation']:>10}  {'complete':<40}  {record['wall_time_s']:>9.1f}s"
        )
    for generation in range(len(done), planned):
        lines.append(f"{generation:>10}  {_pending_state(manifest, generation, holder):<40}")
    failure = manifest.get("last_failure")
    if failure:
        lines.append(
            f"last failure, during {failure['during']} at {failure['time']}: {failure['error']}"
        )
    return "\n".join(lines)


def _pending_state(manifest: dict[str, Any], generation: int, holder: str | None) -> str:
    progress = manifest.get("in_progress")
    if not progress or progress["generation"] != generation:
        return "pending"
    if holder:
        return f"in progress since {progress['started']}"
    return f"interrupted (process {progress['pid']} stopped)"
