"""Reading a finished (or partly finished) run directory: what report, check and nightly see.

Everything here is generic over metrics.csv's columns, because they depend on the dataset
and on the metrics measured (class shares for MNIST, attribute prevalence for CelebA, other
columns for other experiments). A column whose every value is a number is a metric.

Nothing is trusted as it lies on disk: the numbers are the manifest's (metrics.csv, which
people open and edit, must agree with them cell for cell), and a generation's file is read
through `read_file`, which checks it against the sha256 the manifest gives it. A damaged
generation is named in one sentence with the way to redo it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from lab.errors import RunDirError
from lab.experiment import config_digest
from lab.rundir.directory import (
    CONFIG_FILE,
    MANIFEST_FILE,
    METRICS_FILE,
    format_value,
    read_manifest,
    read_stored_config,
)
from lab.rundir.storage import sha256, sha256_file

GENERATION_COLUMN = "generation"
# 1 in a generation whose training (or sampling) failed, 0 otherwise: its numbers mean nothing.
DIVERGED_COLUMN = "diverged"


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

    def diverged_generations(self) -> list[int]:
        """The generations whose `diverged` cell is 1 (none for a run without the column)."""
        flags = self.series(DIVERGED_COLUMN) if DIVERGED_COLUMN in self.columns else []
        return [g for g, flag in zip(self.generations, flags, strict=False) if flag == 1]

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

    def generation_paths(self, relative_of: Callable[[int], str]) -> list[tuple[int, str]]:
        """(generation, path relative to the run) of each finished generation that has the
        file `relative_of(generation)` names (its domain's layout), each checked against its
        hash (RunDirError naming a damaged one)."""
        found = []
        for generation in self.generations:
            relative = relative_of(generation)
            if relative in self._files:
                self.read_file(relative)
                found.append((generation, relative))
        return found

    def read_file(self, relative: str) -> bytes:
        """The bytes of a file the manifest lists, checked against its sha256 there."""
        digest, generations = self._files[relative]
        file = self.path / relative
        try:
            data = file.read_bytes()
        except OSError as err:
            problem = "is missing" if isinstance(err, FileNotFoundError) else "cannot be read"
            raise _damaged(file, generations, f"{problem} ({err.strerror or err})") from None
        if sha256(data) != digest:
            raise _damaged(file, generations, f"does not match its sha256 in {MANIFEST_FILE}")
        return data

    @cached_property
    def _files(self) -> dict[str, tuple[str, list[int]]]:
        """Every file of a finished generation -> (its sha256, the generations listing it)."""
        files: dict[str, tuple[str, list[int]]] = {}
        for record in self.manifest["generations"]:
            if record["status"] == "complete":
                for relative, digest in record["files"].items():
                    files.setdefault(relative, (digest, []))[1].append(record["generation"])
        return files

    def wall_times(self) -> dict[int, float]:
        return {
            int(record["generation"]): float(record["wall_time_s"])
            for record in self.manifest.get("generations", [])
            if "wall_time_s" in record
        }


def read_run(path: Path) -> RunResults:
    """Read `path` as a run directory; RunDirError (one sentence) if it is not one, or if
    its metrics.csv disagrees with its manifest."""
    if not path.is_dir():
        raise RunDirError(
            f"'{path}' is not a directory; pass a run directory such as runs/<name>/<timestamp>."
        )
    for required in (CONFIG_FILE, MANIFEST_FILE):
        if not (path / required).exists():
            raise RunDirError(
                f"'{path}' has no {required}, so it is not a collapse-lab run directory; pass "
                "the folder that `collapse-lab run` wrote (runs/<name>/<timestamp>)."
            )
    manifest = read_manifest(path)
    config = read_stored_config(path)
    _check_config_digest(path, config, manifest)
    columns, rows = _manifest_rows(manifest)
    _check_metrics_file(path, columns, rows)
    return RunResults(path=path, config=config, manifest=manifest, columns=columns, rows=rows)


def _check_config_digest(
    path: Path, config: Mapping[str, Any], manifest: Mapping[str, Any]
) -> None:
    """config.yaml must be the config the run was made with (the digest its manifest
    records), else a run copied and edited would be read as another experiment or seed."""
    recorded = manifest.get("config_digest")
    if recorded is not None and config_digest(config) != recorded:
        raise RunDirError(
            f"'{path / CONFIG_FILE}' is not the config this run was made with: it does not "
            f"match the config digest in {MANIFEST_FILE} (it was edited after the run); put "
            "back the config the run was made with (`collapse-lab run` with its experiment "
            "file rewrites it)."
        )


def verify_run_file(file: Path) -> None:
    """If `file` lies in a run directory whose manifest lists it, it must match its sha256
    there (a swapped or edited sample file is not scored as what it claims to be)."""
    resolved = file.resolve()
    for folder in resolved.parents:
        if (folder / MANIFEST_FILE).is_file() and (folder / CONFIG_FILE).is_file():
            relative = resolved.relative_to(folder).as_posix()
            records = read_manifest(folder)["generations"]
            digests = {r["files"][relative] for r in records if relative in r["files"]}
            if digests and sha256_file(resolved) not in digests:
                raise RunDirError(
                    f"'{file}' does not match its sha256 in '{folder / MANIFEST_FILE}': it "
                    "changed after the run wrote it; `collapse-lab run` on that run folder "
                    "redoes the generation."
                )
            return


def _manifest_rows(manifest: Mapping[str, Any]) -> tuple[list[str], list[dict[str, str]]]:
    """The metrics of the finished generations as metrics.csv writes them: columns in order
    of first appearance, every value formatted as in the file."""
    metrics = [r["metrics"] for r in manifest["generations"] if r["status"] == "complete"]
    columns: list[str] = []
    for row in metrics:
        columns += [name for name in row if name not in columns]
    rows = [{name: format_value(row.get(name)) for name in columns} for row in metrics]
    return columns, rows


def _check_metrics_file(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    """metrics.csv must hold the manifest's numbers for every finished generation (it may
    hold a row more: a run commits metrics.csv just before the manifest)."""
    file = path / METRICS_FILE
    if not file.is_file():
        if rows:
            raise RunDirError(
                f"'{path}' has finished generations in {MANIFEST_FILE} but no {METRICS_FILE}; "
                f"{_REBUILD}."
            )
        return
    try:
        with open(file, newline="", encoding="utf-8") as handle:
            on_disk = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise RunDirError(f"'{file}' cannot be read as CSV ({err}); {_REBUILD}.") from None
    for index, row in enumerate(rows):
        label = row.get(GENERATION_COLUMN) or str(index)
        stored = on_disk[index] if index < len(on_disk) else None
        if stored is None:
            raise RunDirError(
                f"'{file}' has no row for generation {label}, which {MANIFEST_FILE} records as "
                f"finished; {_REBUILD}."
            )
        for name in [*columns, *(k for k in stored if k is not None and k not in columns)]:
            there, truth = (stored.get(name) or ""), row.get(name, "")
            if there != truth:
                raise RunDirError(
                    f"'{file}' does not match {MANIFEST_FILE} at generation {label}: "
                    f"{name} is {there or 'empty'} there and {truth or 'empty'} in the "
                    f"manifest, so the file was edited or damaged; {_REBUILD}."
                )


# How to get a run directory's metrics.csv back: `run` rebuilds it from the manifest.
_REBUILD = (
    "running the experiment again with this --run-dir rewrites it from the manifest (a "
    "finished run then does nothing else)"
)


def _damaged(file: Path, generations: list[int], problem: str) -> RunDirError:
    span = (
        f"generation {generations[0]}"
        if len(generations) == 1
        else f"generations {generations[0]}-{generations[-1]}"
    )
    return RunDirError(
        f"'{file}' {problem}, so {span} of this run {'is' if len(generations) == 1 else 'are'} "
        "damaged; running the experiment again with this --run-dir redoes "
        f"{'it' if len(generations) == 1 else 'them'}."
    )


def _is_number(text: str | None) -> bool:
    if not text:
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True
