"""`collapse-lab status RUN`: what a run directory holds and whether something is working on it.

Reads the manifest without taking the lock, so it is safe beside a running `collapse-lab run`.
A generation counts as done only while its files match their hashes, as `run` decides.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lab.domains.registry import facts_of
from lab.errors import RunDirError
from lab.rundir.directory import CONFIG_FILE, MANIFEST_FILE, read_manifest, read_stored_config
from lab.rundir.integrity import first_damage
from lab.rundir.locks import lock_holder
from lab.rundir.manifest import PREVIOUS_MANIFEST_FILE, previous_manifest

HELP = "show which generations of a run are done, damaged, in progress or failed"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN", help="a run directory")


def handle(args: argparse.Namespace) -> int:
    print(describe(args.run_dir))
    return 0


def describe(run_dir: Path) -> str:
    """A few lines: config, lock, per-generation state and time, last failure."""
    manifest = read_manifest(run_dir) if run_dir.is_dir() else None
    holder = lock_holder(run_dir) if run_dir.is_dir() else None
    lost = manifest is None and (run_dir / CONFIG_FILE).is_file()
    if lost:  # what `run` resumes from (lab/rundir/directory.py)
        manifest = previous_manifest(run_dir)
    if lost and manifest is None:
        raise RunDirError(
            f"'{run_dir}' has its {CONFIG_FILE} but neither {MANIFEST_FILE} nor "
            f"{PREVIOUS_MANIFEST_FILE}, so none of its generations can be vouched for; "
            "`collapse-lab run` on it says how to go on."
        )
    if manifest is None or not (run_dir / CONFIG_FILE).exists():
        if holder and manifest is None and not (run_dir / CONFIG_FILE).exists():
            return (
                f"run {run_dir}: setting up (lock: held by {holder}); the folder is bound to its "
                "config once the config has passed every check"
            )
        raise RunDirError(
            f"'{run_dir}' has no readable {MANIFEST_FILE} and {CONFIG_FILE}, so it is not a "
            "collapse-lab run directory; pass a folder written by `collapse-lab run`."
        )
    config = read_stored_config(run_dir)
    planned = config["generations"]
    records = manifest["generations"]
    damage = first_damage(run_dir, records)
    done = records if damage is None else records[: damage.generation]
    summary = f"{len(done)} of {planned} generations done"
    if damage is not None:
        summary += f" ({len(records) - len(done)} damaged or after a damaged one: to be redone)"
    lines = [
        f"run {run_dir} (experiment {manifest['name']}): {summary}",
        f"lock: held by {holder}" if holder else "lock: free (no process is running this run)",
    ]
    if lost:
        lines.append(
            f"{MANIFEST_FILE} is missing: `run` resumes from {PREVIOUS_MANIFEST_FILE} (shown "
            "here), keeping each generation while its files match their hashes"
        )
    lines += [f"{fact.label}: {fact.value}" for fact in facts_of(config, manifest) if fact.brief]
    lines.append(f"{'generation':>10}  {'state':<40}  {'wall time':>10}")
    for record in done:
        lines.append(
            f"{record['generation']:>10}  {'complete':<40}  {record['wall_time_s']:>9.1f}s"
        )
    if damage is not None:
        lines.append(f"{damage.generation:>10}  damaged ({damage.problem}): `run` redoes it")
        for record in records[damage.generation + 1 :]:
            state = f"trained on generation {damage.generation}'s data: redone too"
            lines.append(f"{record['generation']:>10}  {state}")
    for generation in range(len(records), planned):
        lines.append(f"{generation:>10}  {_pending_state(manifest, generation, holder):<40}")
    failure = manifest.get("last_failure")
    if failure:
        lines.append(
            f"last failure, during {failure.get('during')} at {failure.get('time')}: "
            f"{failure.get('error')}"
        )
    return "\n".join(lines)


def _pending_state(manifest: dict[str, Any], generation: int, holder: str | None) -> str:
    progress = manifest.get("in_progress")
    if not progress or progress["generation"] != generation:
        return "pending"
    if holder:
        return f"in progress since {progress.get('started')}"
    return f"interrupted (process {progress['pid']} stopped)"
