"""<sweep output>/sweep.json: the sweep's cells, their axis values and how each one ended.

Written by lab/sweeps/runner.py whenever a cell starts or ends; read by `compare` to find a
sweep's run directories in the order of its axes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lab.errors import RunDirError
from lab.rundir.atomic import write_atomic

SWEEP_RECORD = "sweep.json"


def save_record(output: Path, record: dict[str, Any]) -> None:
    text = json.dumps(record, indent=2, default=str) + "\n"
    write_atomic(output / SWEEP_RECORD, text.encode())


def cell_dirs(folder: Path) -> list[Path] | None:
    """The run directories of the sweep in `folder`, in the order of its axes, or None when
    `folder` holds no sweep record."""
    file = folder / SWEEP_RECORD
    if not file.is_file():
        return None
    try:
        record = json.loads(file.read_text())
        return [folder / item["run_dir"] for item in record["cells"]]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise RunDirError(
            f"'{file}' cannot be read ({type(err).__name__}); run the sweep again to rewrite it."
        ) from None
