"""Run directories written without training, in the real on-disk layout (lab.rundir.directory), for
tests of what reads runs: report, check, nightly. Metrics are whatever a test needs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import yaml

from lab.domains.images.files import image_files
from lab.domains.images.grids import grid_png
from lab.rundir.directory import (
    CONFIG_FILE,
    MANIFEST_FILE,
    METRICS_FILE,
    metrics_csv,
)
from lab.rundir.storage import sha256_file

GRID_ROWS = 3
CELL = 8


def make_run(
    path: Path,
    rows: Sequence[Mapping[str, float | int]],
    *,
    config: Mapping[str, Any] | None = None,
    reference: Mapping[str, float] | None = None,
    grids: bool = True,
) -> Path:
    """A finished run of len(rows) generations with `rows` as metrics.csv."""
    path.mkdir(parents=True, exist_ok=True)
    resolved = {"name": "fake", "generations": len(rows), "sampling": {"grid_rows": GRID_ROWS}}
    resolved.update(config or {})
    (path / CONFIG_FILE).write_text(yaml.safe_dump(resolved, sort_keys=False))
    records = []
    for index, row in enumerate(rows):
        generation = int(row.get("generation", index))
        files = {}
        if grids:
            noise = torch.Generator().manual_seed(generation)
            images = torch.randint(0, 256, (GRID_ROWS**2, 1, CELL, CELL), generator=noise)
            relative = image_files(generation)["grid"]
            (path / relative).parent.mkdir(parents=True, exist_ok=True)
            (path / relative).write_bytes(grid_png(images.to(torch.uint8), GRID_ROWS))
            files[relative] = sha256_file(path / relative)
        records.append(
            {
                "generation": generation,
                "status": "complete",
                "metrics": dict(row),
                "files": files,
                "wall_time_s": 1.5,
            }
        )
    manifest = {"format": 1, "name": resolved["name"], "generations": records}
    if reference is not None:
        manifest["reference"] = dict(reference)
    (path / MANIFEST_FILE).write_text(json.dumps(manifest))
    if rows:
        (path / METRICS_FILE).write_bytes(metrics_csv(list(rows)))
    return path


def mnist_rows(fids: Sequence[float], covered: Sequence[int]) -> list[dict[str, float | int]]:
    """metrics.csv rows shaped like an MNIST run's (share_<c> columns included)."""
    rows = []
    for generation, (fid, count) in enumerate(zip(fids, covered, strict=True)):
        shares = {f"share_{c}": (0.1 if c < count else 0.0) for c in range(10)}
        total = sum(shares.values())
        shares = {name: share / total for name, share in shares.items()}
        rows.append({"generation": generation, "fid": fid, "classes_covered": count, **shares})
    return rows
