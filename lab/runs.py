"""A run directory: its layout, its manifest, and writes that never leave half a file.

Layout (`runs/<name>/<timestamp>/`):
    config.yaml            the resolved config; a directory belongs to exactly one config
    manifest.json          per generation: status, metrics, file hashes, wall time (written last)
    metrics.csv            one row per finished generation, rebuilt from the manifest
    grids/gen_NNN.png      the fixed-noise grid of generation NNN
    samples/gen_NNN.npz    its uint8 samples and the judge's labels
    checkpoints/gen_NNN.pt its model weights

Every file goes to a temporary name, is fsynced and renamed over the old one, and the
manifest is written after a generation's files, so a run killed at any moment leaves
either a finished generation that verifies against its hashes or one that is redone.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import platform
import time
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from lab.errors import RunDirError
from lab.storage import sha256, sha256_file

log = logging.getLogger("collapse_lab")

CONFIG_FILE = "config.yaml"
MANIFEST_FILE = "manifest.json"
METRICS_FILE = "metrics.csv"
MANIFEST_FORMAT = 1
_VERSIONED_PACKAGES = ("torch", "torchvision", "lightning", "torchmetrics", "numpy", "collapse-lab")


def generation_files(generation: int) -> dict[str, str]:
    """Role -> path (relative to the run directory) of one generation's outputs."""
    stem = f"gen_{generation:03d}"
    return {
        "grid": f"grids/{stem}.png",
        "samples": f"samples/{stem}.npz",
        "checkpoint": f"checkpoints/{stem}.pt",
    }


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary sibling, fsync, rename: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class RunDirectory:
    """One run's folder; `open` creates it or checks it belongs to the same config."""

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest

    @classmethod
    def open(cls, path: Path, config: Mapping[str, Any], config_digest: str) -> RunDirectory:
        config_path = path / CONFIG_FILE
        if config_path.is_file():
            stored = yaml.safe_load(config_path.read_text())
            difference = _first_difference(stored, dict(config))
            if difference:
                raise RunDirError(
                    f"run directory '{path}' was made from a different config ({difference}); "
                    "use a new --run-dir, or run it with the config in its config.yaml."
                )
            run = cls(path, _read_manifest(path) or _new_manifest(config, config_digest))
            run.verify()
            return run
        if path.exists() and any(path.iterdir()):
            raise RunDirError(
                f"'{path}' is not empty and has no {CONFIG_FILE}, so it is not a collapse-lab run "
                "directory; choose a new or empty --run-dir."
            )
        try:
            path.mkdir(parents=True, exist_ok=True)
            write_atomic(config_path, yaml.safe_dump(dict(config), sort_keys=False).encode())
        except OSError as err:
            raise RunDirError(
                f"cannot write the run directory '{path}' ({err.strerror}); choose a writable "
                "--run-dir."
            ) from None
        run = cls(path, _new_manifest(config, config_digest))
        run.save_manifest()
        return run

    @property
    def generations(self) -> list[dict[str, Any]]:
        """Finished generations, in order."""
        return self.manifest["generations"]

    def verify(self) -> None:
        """Keep the finished generations whose files match their hashes, up to the first that
        does not: everything after it was trained on its samples and must be redone too."""
        kept = []
        for record in self.generations:
            problem = self._problem(record)
            if problem:
                log.warning("generation %d will be redone: %s", record["generation"], problem)
                break
            kept.append(record)
        if len(kept) != len(self.generations):
            self.manifest["generations"] = kept
            self.save_manifest()

    def _problem(self, record: Mapping[str, Any]) -> str | None:
        if record.get("status") != "complete":
            return f"its status is {record.get('status')!r}"
        for relative, digest in record["files"].items():
            file = self.path / relative
            if not file.is_file():
                return f"{relative} is missing"
            if sha256_file(file) != digest:
                return f"{relative} does not match the hash in {MANIFEST_FILE}"
        return None

    def commit_generation(
        self,
        generation: int,
        files: Mapping[str, bytes],
        metrics: Mapping[str, float | int],
        wall_time_s: float,
        notes: Mapping[str, Any] | None = None,
    ) -> None:
        """Write a generation's files, then metrics.csv, then the manifest that vouches for them.
        `notes` (e.g. why training diverged) are kept in the generation's manifest record."""
        if generation != len(self.generations):
            raise ValueError(f"generation {generation} committed after {len(self.generations)}")
        for relative, data in files.items():
            write_atomic(self.path / relative, data)
        record = {
            "generation": generation,
            "status": "complete",
            "metrics": dict(metrics),
            "files": {relative: sha256(data) for relative, data in files.items()},
            "wall_time_s": round(wall_time_s, 3),
            **(notes or {}),
        }
        self.generations.append(record)
        write_atomic(
            self.path / METRICS_FILE, metrics_csv([r["metrics"] for r in self.generations])
        )
        self.save_manifest()

    def record(self, key: str, value: Any) -> None:
        """Store run-level facts (e.g. the judge's accuracy) in the manifest."""
        self.manifest[key] = value
        self.save_manifest()

    def save_manifest(self) -> None:
        text = json.dumps(self.manifest, indent=2, sort_keys=False) + "\n"
        write_atomic(self.path / MANIFEST_FILE, text.encode())


def metrics_csv(rows: list[Mapping[str, float | int]]) -> bytes:
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
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": _versions(),
        "generations": [],
    }


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((path / MANIFEST_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if manifest.get("format") != MANIFEST_FORMAT:
        return None
    return manifest


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
