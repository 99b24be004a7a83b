"""A sweep file: a base experiment and axes of config keys, every combination one cell.

```yaml
experiment: ../mnist5k_replace.yaml   # relative to this file, like `base:`
axes:                                 # any config keys; every combination is a cell
  regime: [replace, accumulate]
  seed: [0, 1, 2]
set: [generations=3]                  # overrides for every cell (optional)
output: runs/sweeps/demo_seeds        # default runs/sweeps/<name>; relative to where it runs
```

Each cell is the base experiment with its axis values given as `--set` overrides, so a cell
is exactly the run `collapse-lab run EXPERIMENT --set regime=accumulate --set seed=1` would
make, and every cell's config is validated like one (before any cell starts), as is the
sweep's folder; two cells that would compute the same run are refused then too. A cell's folder
is named by its axis values (`regime=accumulate,seed=1`), so adding a seed to an axis later
keeps the existing cells' names, and rerunning the sweep resumes them.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from lab.analysis.seeds import IGNORED_SECTIONS
from lab.config import load_config, parse_override, read_yaml
from lab.errors import ConfigError
from lab.experiment import ExperimentConfig
from lab.schema import SchemaError, bounds, build
from lab.sweeps.cells import Cell
from lab.sweeps.folders import refuse_unusable_folder

DEFAULT_OUTPUT = Path("runs") / "sweeps"
LOGS_DIR = "logs"
_FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


@dataclass(frozen=True)
class SweepFile:
    """The YAML as written; `load_sweep` turns it into cells."""

    experiment: str
    axes: dict[str, tuple[Any, ...]]
    # The sweep's name: its default output folder. Default: the file's name without .yaml.
    name: str | None = None
    output: str | None = None
    # --set overrides for every cell, e.g. [generations=3].
    set: tuple[str, ...] = ()
    timeout_minutes: float | None = field(default=None, metadata=bounds(gt=0))

    def check(self, prefix: str) -> None:
        if not self.axes:
            raise SchemaError(
                "axes", "must name at least one config key with its values, e.g. {seed: [0, 1]}"
            )
        for key, values in self.axes.items():
            if not values:
                raise SchemaError(f"axes.{key}", "must list at least one value")
            texts = [value_text(value) for value in values]
            for text in texts:
                if texts.count(text) > 1:
                    raise SchemaError(f"axes.{key}", f"lists the value {text} twice")
        if self.name is not None and not _FOLDER_NAME.fullmatch(self.name):
            raise SchemaError("name", "must be a folder name (letters, digits, '_', '-', '.')")


@dataclass(frozen=True)
class SweepCell:
    """One combination of axis values: its folder name and its --set overrides."""

    name: str
    values: dict[str, Any]
    overrides: tuple[str, ...]


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: where it writes, and every cell in the order of its axes."""

    path: Path
    name: str
    experiment: Path
    output: Path
    axes: dict[str, tuple[Any, ...]]
    cells: tuple[SweepCell, ...]
    timeout_minutes: float | None

    def run_dir(self, cell: SweepCell) -> Path:
        return self.output / cell.name

    def log_file(self, cell: SweepCell) -> Path:
        return self.output / LOGS_DIR / f"{cell.name}.log"

    def executable(self, cell: SweepCell) -> Cell:
        """The cell as an executor runs it: `collapse-lab run` in this directory."""
        return Cell(
            name=cell.name,
            config=self.experiment,
            overrides=cell.overrides,
            run_dir=self.run_dir(cell),
            log_file=self.log_file(cell),
            timeout_minutes=self.timeout_minutes,
        )


def load_sweep(path: Path, output: Path | None = None, overrides: Sequence[str] = ()) -> Sweep:
    """Read and validate a sweep file and every cell's config; any problem is one ConfigError
    sentence naming the sweep file (and the cell, when a cell's config is refused).
    `overrides` (the command's --set) apply to every cell after the file's `set`."""
    try:
        spec = build(SweepFile, read_yaml(path))
    except SchemaError as err:
        raise ConfigError(f"{path}: {err}.") from None
    for text in overrides:
        key = parse_override(text)[0]
        if key in spec.axes:
            raise ConfigError(
                f"--set '{text}' sets '{key}', an axis of {path}; change the axis in the file "
                "instead, since every cell takes its own value of it."
            )
    spec = replace(spec, set=(*spec.set, *overrides))
    experiment = path.parent / spec.experiment
    if not experiment.is_file():
        raise ConfigError(
            f"{path}: key 'experiment' names '{spec.experiment}', but '{experiment}' is not a "
            f"file; give the path of an experiment file relative to '{path.parent}'."
        )
    try:
        common = [parse_override(text)[0] for text in spec.set]
    except ConfigError as err:
        raise ConfigError(f"{path}: key 'set': {err}") from None
    for key in spec.axes:
        if key in common:
            raise ConfigError(
                f"{path}: key 'axes.{key}' is also given in 'set'; a key is either an axis or "
                "the same for every cell, so remove one of them."
            )
    name = spec.name or path.stem
    folder = _output_folder(path, spec, name, output)
    cells = _cells(spec)
    _check_cells(path, experiment, cells)
    return Sweep(
        path=path,
        name=name,
        experiment=experiment,
        output=folder,
        axes=spec.axes,
        cells=tuple(cells),
        timeout_minutes=spec.timeout_minutes,
    )


def _output_folder(path: Path, spec: SweepFile, name: str, given: Path | None) -> Path:
    """--out, else the file's `output`, else runs/sweeps/<name>; refused in one sentence
    naming where it came from when it cannot be the sweep's folder (lab/sweeps/folders.py)."""
    if given is not None:
        folder, named = given, f"--out '{given}'"
    elif spec.output:
        folder = Path(spec.output)
        named = f"{path}: key 'output' names '{folder}', which"
    else:
        folder = DEFAULT_OUTPUT / name
        named = f"{path}: the sweep's default folder '{folder}' (key 'output' is not set)"
    refuse_unusable_folder(folder, named, "a folder of its own for the sweep")
    return folder


def _check_cells(path: Path, experiment: Path, cells: list[SweepCell]) -> None:
    """Every cell gets a folder of its own and a valid config, and no two cells compute the
    same run: such twins would waste a run each, and `compare` refuses a seed that counts
    twice, so the sweep would exit 2 on every rerun."""
    names = [cell.name for cell in cells]
    computing: dict[str, SweepCell] = {}
    for cell in cells:
        if names.count(cell.name) > 1:
            raise ConfigError(
                f"{path}: two cells get the folder name '{cell.name}' (axis values that differ "
                "only in punctuation); use values that differ in letters or digits."
            )
        try:
            config = load_config(experiment, cell.overrides)
        except ConfigError as err:
            raise ConfigError(f"{path}: cell '{cell.name}': {err}") from None
        computed = _what_it_computes(config)
        if computed in computing:
            raise ConfigError(_same_run(path, computing[computed], cell))
        computing[computed] = cell


def _what_it_computes(config: ExperimentConfig) -> str:
    """The config less what only names or watches a run (as `compare` groups runs)."""
    kept = {k: v for k, v in config.as_dict().items() if k not in IGNORED_SECTIONS}
    return json.dumps(kept, sort_keys=True, default=str)


def _same_run(path: Path, first: SweepCell, second: SweepCell) -> str:
    """The sentence for two cells of one run: the first axis they differ in, and why."""
    texts = [{key: value_text(v) for key, v in cell.values.items()} for cell in (first, second)]
    key = next(key for key in texts[0] if texts[0][key] != texts[1][key])
    listed = f"{path}: axis '{key}' lists {texts[0][key]} and {texts[1][key]}"
    section = key.split(".")[0]
    if section in IGNORED_SECTIONS:
        return (
            f"{listed}, but '{section}' does not change what a run computes, so cells "
            f"'{first.name}' and '{second.name}' would be the same run; drop the axis (a key "
            "every cell shares goes in 'set')."
        )
    return (
        f"{listed}, which give the same run (cells '{first.name}' and '{second.name}' would "
        "compute the same thing); keep one of the two values."
    )


def value_text(value: Any) -> str:
    """A value as `--set KEY=TEXT` writes it: one line of YAML that reads back as `value`
    (1e-05 as 1.0e-05, which YAML reads as a number, 'yes' quoted, which it would not)."""
    return yaml.safe_dump([value], default_flow_style=True, width=10**9).strip()[1:-1]


def _cells(spec: SweepFile) -> list[SweepCell]:
    keys = list(spec.axes)
    cells = []
    for combination in itertools.product(*(spec.axes[key] for key in keys)):
        values = dict(zip(keys, combination, strict=True))
        texts = {key: value_text(value) for key, value in values.items()}
        name = ",".join(f"{key}={_name_part(text)}" for key, text in texts.items())
        overrides = (*spec.set, *(f"{key}={text}" for key, text in texts.items()))
        cells.append(SweepCell(name=name, values=values, overrides=overrides))
    return cells


def _name_part(text: str) -> str:
    """A value's text made safe in a folder name: [16, 32] -> 16-32."""
    return _UNSAFE.sub("-", text).strip("-") or "empty"
