"""Reading a finished (or partly finished) run directory: what report, check and nightly see.

Everything here is generic over metrics.csv's columns, because they depend on the dataset
and on the metrics measured (class shares for MNIST, attribute prevalence for CelebA, other
columns for other experiments). A column whose every value is a number is a metric.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lab.errors import RunDirError
from lab.rundir.directory import CONFIG_FILE, MANIFEST_FILE, METRICS_FILE, generation_files

GENERATION_COLUMN = "generation"


@dataclass(frozen=True)
class RunResults:
    """A run directory's config, manifest and metrics table, as read from disk."""

    path: Path
    config: dict[str, Any]
    manifest: dict[str, Any]
    columns: list[str]
    rows: list[dict[str, str]]

    @property
    def name(self) -> str:
        return str(self.manifest.get("name") or self.config.get("name") or self.path.name)

    @property
    def generations(self) -> list[int]:
        """The generation of each row of metrics.csv, in order."""
        if GENERATION_COLUMN not in self.columns:
            return list(range(len(self.rows)))
        return [int(float(row[GENERATION_COLUMN])) for row in self.rows]

    @property
    def metric_columns(self) -> list[str]:
        """Columns (other than `generation`) whose every value is a number or empty."""
        return [
            column
            for column in self.columns
            if column != GENERATION_COLUMN
            and any(row.get(column) for row in self.rows)
            and all(_is_number(row.get(column, "")) for row in self.rows)
        ]

    def series(self, column: str) -> list[float | None]:
        """One value per row; None where the cell is empty."""
        return [float(row[column]) if row.get(column) else None for row in self.rows]

    def final(self) -> dict[str, float]:
        """The last generation's metrics (empty cells left out)."""
        if not self.rows:
            return {}
        last = self.rows[-1]
        return {column: float(last[column]) for column in self.metric_columns if last.get(column)}

    @property
    def reference(self) -> dict[str, float]:
        """The real held-out set's value of metric columns that have one (may be empty)."""
        return {str(k): float(v) for k, v in (self.manifest.get("reference") or {}).items()}

    @property
    def planned_generations(self) -> int | None:
        planned = self.config.get("generations")
        return planned if isinstance(planned, int) else None

    def grid_paths(self) -> list[tuple[int, str]]:
        """(generation, grid path relative to the run) for each row whose grid exists."""
        found = []
        for generation in self.generations:
            relative = generation_files(generation)["grid"]
            if (self.path / relative).is_file():
                found.append((generation, relative))
        return found

    def wall_times(self) -> dict[int, float]:
        return {
            int(record["generation"]): float(record["wall_time_s"])
            for record in self.manifest.get("generations", [])
            if "wall_time_s" in record
        }


def read_run(path: Path) -> RunResults:
    """Read `path` as a run directory; RunDirError (one sentence) if it is not one."""
    if not path.is_dir():
        raise RunDirError(
            f"'{path}' is not a directory; pass a run directory such as runs/<name>/<timestamp>."
        )
    for required in (CONFIG_FILE, MANIFEST_FILE):
        if not (path / required).is_file():
            raise RunDirError(
                f"'{path}' has no {required}, so it is not a collapse-lab run directory; pass "
                "the folder that `collapse-lab run` wrote (runs/<name>/<timestamp>)."
            )
    manifest = _read_structured(path / MANIFEST_FILE, json.loads)
    config = _read_structured(path / CONFIG_FILE, yaml.safe_load)
    columns, rows = _read_metrics(path, manifest)
    return RunResults(path=path, config=config, manifest=manifest, columns=columns, rows=rows)


def _read_structured(file: Path, parse: Any) -> dict[str, Any]:
    try:
        data = parse(file.read_text())
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as err:
        raise RunDirError(
            f"'{file}' cannot be read ({type(err).__name__}); the run directory is damaged, "
            "so run the experiment again into a new --run-dir."
        ) from None
    if not isinstance(data, dict):
        raise RunDirError(f"'{file}' does not hold a mapping; the run directory is damaged.")
    return data


def _read_metrics(path: Path, manifest: dict[str, Any]) -> tuple[list[str], list[dict[str, str]]]:
    """metrics.csv's columns and rows, keeping only generations the manifest vouches for (a
    generation being redone after a failed hash check may still have a row there)."""
    finished = {
        record.get("generation")
        for record in manifest.get("generations", [])
        if record.get("status") == "complete"
    }
    file = path / METRICS_FILE
    if not file.is_file():
        if finished:
            raise RunDirError(
                f"'{path}' has finished generations in {MANIFEST_FILE} but no {METRICS_FILE}; "
                "the run directory is damaged."
            )
        return [], []
    try:
        with open(file, newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            columns = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise RunDirError(f"'{file}' cannot be read as CSV ({err}).") from None
    if GENERATION_COLUMN in columns:
        try:
            rows = [row for row in rows if int(float(row[GENERATION_COLUMN])) in finished]
        except (TypeError, ValueError):
            raise RunDirError(
                f"'{file}' has a '{GENERATION_COLUMN}' column that is not all whole numbers; "
                "the run directory is damaged."
            ) from None
    return columns, rows


def _is_number(text: str | None) -> bool:
    if not text:
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True
