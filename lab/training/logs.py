"""Training logs of each generation: Lightning loggers that write under RUN/logs/gen_NNN/.

The logs are a record for people (the report's loss curves, TensorBoard), not run outputs:
they are not in the manifest, and a redone generation starts its logs afresh, so they never
affect the byte-identical resume of metrics.csv, samples and grids.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lab.experiment import LoggingConfig

if TYPE_CHECKING:
    from lightning.pytorch.loggers import Logger

log = logging.getLogger("collapse_lab")

LOGS_DIR = "logs"
CSV_SUBDIR = "csv"
TENSORBOARD_SUBDIR = "tensorboard"
_EPOCH_SUFFIX = "_epoch"
_STEP_SUFFIX = "_step"
_BOOKKEEPING_COLUMNS = ("epoch", "step")


def generation_log_dir(run_dir: Path, generation: int) -> Path:
    return run_dir / LOGS_DIR / f"gen_{generation:03d}"


def generation_loggers(run_dir: Path, generation: int, config: LoggingConfig) -> list[Logger]:
    """Fresh loggers for one generation; earlier logs of the same generation are removed.
    (Lightning is imported here, so reading logs for a report does not load it.)"""
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    directory = generation_log_dir(run_dir, generation)
    shutil.rmtree(directory, ignore_errors=True)
    where = {"save_dir": directory.parent, "name": directory.name}
    loggers: list[Logger] = []
    if config.csv:
        loggers.append(CSVLogger(**where, version=CSV_SUBDIR))
    if config.tensorboard:
        if tensorboard_installed():
            loggers.append(
                TensorBoardLogger(**where, version=TENSORBOARD_SUBDIR, default_hp_metric=False)
            )
        else:
            _warn_no_tensorboard()
    return loggers


def tensorboard_installed() -> bool:
    return any(importlib.util.find_spec(name) for name in ("tensorboard", "tensorboardX"))


@functools.cache
def _warn_no_tensorboard() -> None:
    log.warning(
        "logging.tensorboard is true but neither tensorboard nor tensorboardX is installed; "
        "writing CSV logs only (pip install tensorboard to get TensorBoard logs)."
    )


@dataclass(frozen=True)
class Curve:
    """One logged quantity of one generation: x is the epoch (1-based) or the step."""

    name: str
    x_label: str
    x: list[float]
    y: list[float]


def read_curves(run_dir: Path, generation: int) -> list[Curve]:
    """The curves in a generation's CSV log, per epoch where the model logged epoch means
    (smoother, one point per pass over the data), else per logged step; [] without a log."""
    path = generation_log_dir(run_dir, generation) / CSV_SUBDIR / "metrics.csv"
    try:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError:
        return []
    columns = list(rows[0]) if rows else []
    names = []
    for column in columns:
        base = column.removesuffix(_EPOCH_SUFFIX).removesuffix(_STEP_SUFFIX)
        if column not in _BOOKKEEPING_COLUMNS and base not in names:
            names.append(base)
    curves = []
    for name in names:
        if name + _EPOCH_SUFFIX in columns:
            column, x_column, x_label, offset = name + _EPOCH_SUFFIX, "epoch", "epoch", 1
        else:
            column = name + _STEP_SUFFIX if name + _STEP_SUFFIX in columns else name
            x_column, x_label, offset = "step", "step", 0
        points = [
            (float(row[x_column]) + offset, float(row[column]))
            for row in rows
            if row.get(column) not in (None, "") and row.get(x_column) not in (None, "")
        ]
        if points:
            xs, ys = zip(*points, strict=True)
            curves.append(Curve(name, x_label, list(xs), list(ys)))
    return curves
