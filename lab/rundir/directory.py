"""A run directory: its layout, its manifest, and writes that never leave half a file.

Layout (`runs/<name>/<timestamp>/`):
    config.yaml            the resolved config; a directory belongs to exactly one config
    manifest.json          per generation: status, metrics, file hashes, wall time (written last)
    metrics.csv            one row per finished generation, rebuilt from the manifest
    <folder>/gen_NNN.<ext> the files of generation NNN, named by lab/rundir/layout.py; which
                           ones is its domain's layout (an image generation: its grid,
                           samples, checkpoint and provenance)

Every file goes to a temporary name, is fsynced and renamed over the old one, and the
manifest is written after a generation's files, so a run killed at any moment leaves
either a finished generation that verifies against its hashes or one that is redone.

Generations are committed in blocks: one generation at a time for image models, many for
the vector models, whose generations take well under a millisecond each (rewriting the
manifest and metrics.csv after each of 2,000 of them would cost O(G^2) and thousands of
fsyncs). The generations of a block stand or fall together: each lists every file of its
block, so a damaged block file sends the whole block back to be redone.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from lab.errors import LabError, RunDirError
from lab.rundir import faults
from lab.rundir.atomic import (
    is_temporary,
    is_temporary_of,
    remove,
    remove_temporaries,
    write_atomic,
)
from lab.rundir.integrity import first_damage
from lab.rundir.locks import LOCK_FILE, RunLock
from lab.rundir.manifest import (
    MANIFEST_FILE,
    MANIFEST_FORMAT,
    PREVIOUS_MANIFEST_FILE,
    keep_previous,
    previous_manifest,
    read_manifest,
)
from lab.rundir.storage import sha256

log = logging.getLogger("collapse_lab")

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.csv"
_VERSIONED_PACKAGES = ("torch", "torchvision", "lightning", "torchmetrics", "numpy", "collapse-lab")


@dataclass(frozen=True)
class FinishedGeneration:
    """One generation ready to commit: its metrics.csv row (None for an empty cell), its
    wall time, and facts kept in its manifest record (training set, divergence)."""

    generation: int
    metrics: Mapping[str, float | int | None]
    wall_time_s: float
    details: Mapping[str, Any] = field(default_factory=dict)


class RunDirectory:
    """One run's folder, held under an exclusive lock from `open` until `close`.

    `open` creates the folder or checks that it belongs to the same config, then drops
    finished generations whose files no longer match their hashes. A new folder is bound to
    its config (config.yaml and the manifest written) only by `bind`, which the loop calls
    once the config has passed every check, so a config refused on the way (a batch size
    the data cannot fill) leaves the folder free for the corrected one.
    """

    def __init__(
        self, path: Path, manifest: dict[str, Any], lock: RunLock, unbound_config: bytes = b""
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.lock = lock
        # config.yaml's bytes while the folder is not bound yet; empty once it is.
        self._unbound_config = unbound_config

    @classmethod
    def open(
        cls,
        path: Path,
        config: Mapping[str, Any],
        config_digest: str,
        observers: tuple[str, ...] = (),
        resolve: Callable[[dict[str, Any]], Mapping[str, Any]] | None = None,
    ) -> RunDirectory:
        """`observers`: top-level config sections that may change between resumes (they are
        updated in config.yaml) because they do not change what the run computes.
        `resolve`: a stored config as this version of the lab reads it, the defaults of keys
        added since it was written filled in (raises LabError if it no longer validates), so
        a new key left at its default does not make an older folder refuse its own config."""
        refuse_foreign_folder(path)
        lock = RunLock(path)
        lock.acquire()
        try:
            return cls._open_locked(path, config, config_digest, observers, resolve, lock)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _open_locked(
        cls,
        path: Path,
        config: Mapping[str, Any],
        config_digest: str,
        observers: tuple[str, ...],
        resolve: Callable[[dict[str, Any]], Mapping[str, Any]] | None,
        lock: RunLock,
    ) -> RunDirectory:
        _remove_temporaries(path)
        config_path = path / CONFIG_FILE
        config_text = yaml.safe_dump(dict(config), sort_keys=False).encode()
        if not config_path.exists():
            refuse_foreign_folder(path)  # what it held may have changed before the lock
            return cls(path, _new_manifest(config, config_digest), lock, config_text)
        manifest = read_manifest(path)
        stored, problem = _read_stored_config(config_path)
        if problem is not None:
            if manifest is None or manifest.get("config_digest") != config_digest:
                raise RunDirError(
                    f"'{config_path}' is damaged ({problem}), and this config is not the one "
                    f"whose digest {MANIFEST_FILE} records, so the folder's config cannot be "
                    "restored from it; run the experiment file that made this run, or use a new "
                    "--run-dir."
                )
            log.warning(
                "'%s' was damaged (%s); restored from this config, whose digest is the one in %s",
                config_path,
                problem,
                MANIFEST_FILE,
            )
            stored = {}
        else:
            difference = _config_difference(stored, config, observers, resolve)
            if difference:
                raise RunDirError(
                    f"run directory '{path}' was made from a different config ({difference}); "
                    "use a new --run-dir, or run it with the config in its config.yaml."
                )
        if manifest is None:
            manifest = _lost_manifest(path) or _new_manifest(config, config_digest)
        run = cls(path, manifest, lock)
        if stored != dict(config):
            write_atomic(config_path, config_text)
            manifest["config_digest"] = config_digest
            run.save_manifest()
        elif not (path / MANIFEST_FILE).exists():
            run.save_manifest()
        run.verify()
        return run

    @property
    def bound(self) -> bool:
        """Whether config.yaml and the manifest are on disk (see `bind`)."""
        return not self._unbound_config

    def bind(self) -> None:
        """Tie a new folder to its config: write config.yaml, then the manifest. Until then
        the folder holds only its lock, and run-level facts wait in memory."""
        if self.bound:
            return
        write_atomic(self.path / CONFIG_FILE, self._unbound_config)
        self._unbound_config = b""
        self.save_manifest()

    def close(self) -> None:
        self.lock.release()

    def __enter__(self) -> RunDirectory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def generations(self) -> list[dict[str, Any]]:
        """Finished generations, in order."""
        return self.manifest["generations"]

    def verify(self) -> None:
        """Keep the finished generations whose files match their hashes, up to the first that
        does not: everything after it was trained on its samples and must be redone too.
        metrics.csv is rebuilt when it disagrees with the manifest (e.g. killed between the two).
        """
        damage = first_damage(self.path, self.generations)
        kept = self.generations if damage is None else self.generations[: damage.generation]
        if damage is not None:
            log.warning("generation %d will be redone: %s", damage.generation, damage.problem)
            self.manifest["generations"] = kept
            self.save_manifest()
        metrics_path = self.path / METRICS_FILE
        expected = metrics_csv([r["metrics"] for r in kept]) if kept else None
        current = metrics_path.read_bytes() if metrics_path.is_file() else None
        if expected != current:
            if expected is None:
                remove(metrics_path)
            else:
                write_atomic(metrics_path, expected)

    def begin_generation(self, generation: int) -> None:
        """Mark `generation` as in progress, so `status` can tell a killed run from a done one."""
        self.manifest["in_progress"] = {
            "generation": generation,
            "started": _now(),
            "pid": os.getpid(),
        }
        self.save_manifest()

    def record_failure(self, during: str, error: BaseException) -> None:
        """Remember what stopped the run and why; `status` shows it."""
        self.manifest.pop("in_progress", None)
        self.manifest["last_failure"] = {
            "during": during,
            "time": _now(),
            "error": f"{type(error).__name__}: {error}",
        }
        self.save_manifest()

    def commit_generations(
        self, finished: Sequence[FinishedGeneration], files: Mapping[str, bytes]
    ) -> None:
        """Write a block's files, then metrics.csv, then the manifest that vouches for them.

        `finished` are consecutive generations starting at the first unfinished one (a
        single generation for image models); `files` are all the block's outputs."""
        first = len(self.generations)
        numbers = [done.generation for done in finished]
        if numbers != list(range(first, first + len(finished))) or not numbers:
            raise ValueError(f"generations {numbers} committed after {first}")
        for relative, data in files.items():
            write_atomic(self.path / relative, data)
            faults.reached(f"wrote:{relative}")
        hashes = {relative: sha256(data) for relative, data in files.items()}
        records = [
            {
                "generation": done.generation,
                "status": "complete",
                "metrics": dict(done.metrics),
                "files": hashes,
                "wall_time_s": round(done.wall_time_s, 3),
                **done.details,
            }
            for done in finished
        ]
        rows = [r["metrics"] for r in self.generations + records]
        write_atomic(self.path / METRICS_FILE, metrics_csv(rows))
        faults.reached(f"wrote:{METRICS_FILE}:{numbers[-1]}")
        self.generations.extend(records)
        self.manifest.pop("in_progress", None)
        self.save_manifest()

    def read_generation_file(self, generation: int, relative: str) -> bytes:
        """A finished generation's file, checked against the sha256 its manifest record
        gives; RunDirError (one sentence) when it is gone or no longer matches."""
        digest = self.generations[generation]["files"].get(relative)
        file = self.path / relative
        if digest is None:
            raise RunDirError(
                f"generation {generation} of '{self.path}' lists no file {relative} in "
                f"{MANIFEST_FILE}; the run was made by another kind of experiment."
            )
        try:
            data = file.read_bytes()
        except OSError as err:
            raise RunDirError(
                f"'{file}' cannot be read ({err.strerror or err}); run the same command again "
                f"to redo generation {generation} and the ones after it."
            ) from None
        if sha256(data) != digest:
            raise RunDirError(
                f"'{file}' changed after it was checked: it no longer matches its sha256 in "
                f"{MANIFEST_FILE}; run the same command again to redo generation {generation} "
                "and the ones after it."
            )
        return data

    def record(self, key: str, value: Any) -> None:
        """Store run-level facts of the domain's (e.g. a judge's accuracy) in the manifest."""
        self.manifest[key] = value
        self.save_manifest()

    def save_manifest(self) -> None:
        """Write the manifest, keeping the one it replaces (manifest.prev.json); nothing
        reaches the disk before the folder is bound."""
        if not self.bound:
            return
        keep_previous(self.path)
        write_atomic(self.path / MANIFEST_FILE, manifest_text(self.manifest).encode())


def manifest_text(manifest: Mapping[str, Any]) -> str:
    """Indented JSON with one generation record per line: readable and diffable, and fast to
    write for thousands of generations (json's C encoder only runs without `indent`)."""
    lines = []
    for key, value in manifest.items():
        if key == "generations" and value:
            records = ",\n".join(f"    {json.dumps(record)}" for record in value)
            text = f"[\n{records}\n  ]"
        else:
            text = json.dumps(value, indent=2).replace("\n", "\n  ")
        lines.append(f"  {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def metrics_csv(rows: list[Mapping[str, float | int | None]]) -> bytes:
    """One row per generation; columns in order of first appearance."""
    columns: list[str] = []
    for row in rows:
        columns += [name for name in row if name not in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([format_value(row.get(name)) for name in columns])
    return buffer.getvalue().encode()


def format_value(value: float | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _new_manifest(config: Mapping[str, Any], config_digest: str) -> dict[str, Any]:
    return {
        "format": MANIFEST_FORMAT,
        "name": config["name"],
        "config_digest": config_digest,
        "created": _now(),
        "versions": _versions(),
        "generations": [],
    }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in _VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _first_difference(stored: Any, current: Any, prefix: str = "") -> str | None:
    """'key: A there, B here' for the first key whose values differ, else None."""
    if isinstance(stored, dict) and isinstance(current, dict):
        for key in list(current) + [k for k in stored if k not in current]:
            dotted = f"{prefix}.{key}" if prefix else str(key)
            if key not in stored or key not in current:
                return (
                    f"'{dotted}' is only in {'this config' if key in current else 'the stored one'}"
                )
            difference = _first_difference(stored[key], current[key], dotted)
            if difference:
                return difference
        return None
    if stored != current:
        return f"'{prefix}' is {stored!r} there and {current!r} here"
    return None


def read_stored_config(path: Path) -> dict[str, Any]:
    """A run directory's config.yaml; RunDirError (one sentence) when it is damaged."""
    config_path = path / CONFIG_FILE
    stored, problem = _read_stored_config(config_path)
    if problem is not None:
        raise RunDirError(
            f"'{config_path}' is damaged ({problem}); `collapse-lab run` with the experiment "
            "file that made this run restores it."
        )
    return stored


def _read_stored_config(config_path: Path) -> tuple[dict[str, Any], str | None]:
    """(the stored config, None), or ({}, what is wrong with it)."""
    try:
        stored = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        return {}, "it is not UTF-8 text"
    except OSError as err:
        return {}, f"it cannot be read: {err.strerror or err}"
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        return {}, f"it is not valid YAML{where}"
    if stored is None:
        return {}, "it is empty"
    if not isinstance(stored, dict) or not isinstance(stored.get("generations"), int):
        return {}, "it is not a mapping with the run's keys (name, generations, ...)"
    return stored, None


def _config_difference(
    stored: dict[str, Any],
    config: Mapping[str, Any],
    observers: tuple[str, ...],
    resolve: Callable[[dict[str, Any]], Mapping[str, Any]] | None,
) -> str | None:
    """The first difference that matters between the stored config and this one: sections
    that only observe a run do not count, and neither does a key the stored config lacks
    when this one holds its default (it was added to the lab after the folder was made)."""

    def computed(raw: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in raw.items() if k not in observers}

    difference = _first_difference(computed(stored), computed(config))
    if difference is None or resolve is None:
        return difference
    try:
        completed = resolve(stored)
    except LabError:  # it no longer validates: the plain difference says what changed
        return difference
    return _first_difference(computed(completed), computed(config))


def _lost_manifest(path: Path) -> dict[str, Any] | None:
    """What a bound folder without manifest.json still proves: manifest.prev.json (its
    generations kept while their files match their hashes, `verify`), or nothing when the
    folder holds nothing but its config (bound, then stopped before the manifest). Files of
    generations that no manifest vouches for are refused, never silently started over."""
    previous = previous_manifest(path)
    if previous is not None:
        log.warning(
            "'%s' is missing; resuming from %s, whose generations are kept while their files "
            "match their hashes",
            path / MANIFEST_FILE,
            PREVIOUS_MANIFEST_FILE,
        )
        return previous
    leftovers = sorted(
        entry.name
        for entry in path.iterdir()
        if entry.name not in (CONFIG_FILE, LOCK_FILE) and not is_temporary(entry.name)
    )
    if leftovers:
        raise RunDirError(
            f"'{path}' has no {MANIFEST_FILE} and no {PREVIOUS_MANIFEST_FILE} to vouch for what "
            f"its generations left ({', '.join(leftovers)}), so no generation can count as "
            f"finished; restore {MANIFEST_FILE} from a backup, or move those away to run the "
            "experiment again from generation 0 (or use a new --run-dir)."
        )
    return None


def refuse_foreign_folder(path: Path) -> None:
    """Nothing in a folder is touched (no lock taken, no temporary file removed) before it is
    known to be a run of the lab: one with config.yaml, or one that holds only what a run
    stopped before its folder was bound leaves behind (its lock, a temporary config.yaml)."""
    if not path.is_dir() or (path / CONFIG_FILE).exists():
        return
    foreign = sorted(
        entry.name
        for entry in path.iterdir()
        if entry.name != LOCK_FILE and not is_temporary_of(entry.name, CONFIG_FILE)
    )
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise RunDirError(
            f"'{path}' holds {foreign[0]}{more} and no {CONFIG_FILE}, so it is not a collapse-lab "
            "run directory and nothing in it was touched; choose a new or empty --run-dir."
        )


def _remove_temporaries(path: Path) -> None:
    """Temporary files of writes a killed process never renamed (as large as the file
    each was writing: gigabytes for a CelebA generation's samples) go before a run starts."""
    count, size = remove_temporaries(path)
    if count:
        log.warning(
            "removed %d temporary file%s (%.1f MB) left in '%s' by a stopped process",
            count,
            "s" * (count != 1),
            size / 1e6,
            path,
        )
