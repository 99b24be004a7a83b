"""keep_samples_nights: delete samples/ and checkpoints/ of older finished nights.

A night's samples and checkpoints are most of its disk (the CelebA entry alone keeps about
20 GB of samples a night) and are needed only to resume it or to look at its images again;
its metrics, grids, reports, logs and night.json are kept for good, so the index, `report`,
`check` and `compare` keep working on every night. Only nights that finished are pruned (a
night stopped part-way keeps what it needs to resume), and a pruned night is marked in its
night.json so that running its date again is refused rather than silently redone from
generation 0.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab.nightly.index import read_nights
from lab.nightly.night import PRUNED_KEY, save_night

PRUNED_FOLDERS = ("samples", "checkpoints")


def prune_nights(root: Path, keep: int, echo: Callable[[str], None] = print) -> list[str]:
    """Prune every finished night under `root` but the `keep` newest; return their dates."""
    finished = [night for night in read_nights(root) if night.get("finished")]
    older = finished[: len(finished) - keep] if keep else finished
    pruned = []
    for night in older:
        if night.get(PRUNED_KEY):
            continue
        night_dir = root / str(night["date"])
        freed = sum(_remove(folder) for folder in _prunable(night_dir, night))
        night[PRUNED_KEY] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "folders": list(PRUNED_FOLDERS),
            "bytes": freed,
        }
        save_night(night_dir, night)
        echo(
            f"pruned {night['date']}: deleted {', '.join(PRUNED_FOLDERS)} of its runs "
            f"({freed / 2**20:,.1f} MiB), keeping the {keep} newest finished nights' samples"
        )
        pruned.append(str(night["date"]))
    return pruned


def _prunable(night_dir: Path, night: dict[str, Any]) -> list[Path]:
    """The samples/ and checkpoints/ folders of the night's run directories."""
    folders = []
    for entry in night.get("entries", []):
        run_dir = entry.get("run_dir")
        if not isinstance(run_dir, str):
            continue
        for name in PRUNED_FOLDERS:
            folder = night_dir / run_dir / name
            if folder.is_dir() and not folder.is_symlink():
                folders.append(folder)
    return folders


def _remove(folder: Path) -> int:
    """Delete `folder`; return the bytes its files held."""
    size = sum(file.stat().st_size for file in folder.rglob("*") if file.is_file())
    shutil.rmtree(folder)
    return size
