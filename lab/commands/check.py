"""`collapse-lab check RUN`: the collapse monitor.

Checks every generation of a run against thresholds on its metrics.csv columns, taken from
the run's config (`check:` section) and from the flags below, which override the config's
value for the same metric. Exit status: 0 when every threshold holds; 1 with one line per
violated threshold (metric, first generation that breaks it, its value, the limit); 2 when
the run cannot be read or a threshold names a metric the run does not have.

Before the thresholds it prints the collapse timeline (lab/analysis/timeline.py): from which
generation on early collapse (tails lost while FID holds) and late collapse (variety lost)
are visible, by the fractions in the config's check.early_collapse and check.late_collapse.
The timeline never changes the exit status.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING

from lab.errors import ConfigError

if TYPE_CHECKING:  # imported when a check runs, so `collapse-lab --help` loads less
    from lab.analysis.monitor import Kind, Threshold
    from lab.analysis.timeline import Stage
    from lab.experiment import CheckConfig
    from lab.rundir.results import RunResults

HELP = "check a run's metrics against collapse thresholds (exit 0 ok, 1 violated, 2 unreadable)"
EXIT_HOLDS = 0
EXIT_VIOLATED = 1

# Shorthands for the thresholds people set most; any column works through --max/--min.
NAMED_FLAGS: tuple[tuple[str, Kind, str, str], ...] = (
    ("--max-fid", "max", "fid", "largest FID allowed in any generation"),
    ("--min-classes-covered", "min", "classes_covered", "fewest classes that must stay covered"),
    ("--max-fid-increase", "max_increase", "fid", "largest factor over generation 0's FID"),
    ("--min-rare-class-recall", "min", "rare_class_recall", "lowest rare-class recall allowed"),
)
GENERIC_FLAGS: tuple[tuple[str, Kind, str, str], ...] = (
    ("--max", "max", "METRIC=VALUE", "the column may not exceed VALUE in any generation"),
    ("--min", "min", "METRIC=VALUE", "the column may not fall below VALUE in any generation"),
    (
        "--max-increase",
        "max_increase",
        "METRIC=FACTOR",
        "the column may not exceed FACTOR times its first generation's value",
    ),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN", help="a run directory")
    for flag, _, _, text in NAMED_FLAGS:
        parser.add_argument(flag, type=float, metavar="X", help=text)
    for flag, _, metavar, text in GENERIC_FLAGS:
        parser.add_argument(flag, action="append", default=[], metavar=metavar, help=text)
    parser.add_argument(
        "--config",
        type=Path,
        help="take the check: thresholds from this experiment YAML instead of RUN/config.yaml",
    )


def handle(args: argparse.Namespace) -> int:
    from lab.analysis.monitor import check_section, combine, config_thresholds, evaluate
    from lab.config import read_experiment
    from lab.rundir.results import read_run

    results = read_run(args.run_dir)
    if args.config is not None:
        raw, source = read_experiment(args.config)[0], str(args.config)
    else:
        raw, source = results.config, str(args.run_dir / "config.yaml")
    section = check_section(raw, source)
    from_config = config_thresholds(section, source)
    thresholds = combine(from_config, flag_thresholds(args))
    for stage in timeline_of(results, section):
        print(stage.line())
    if not thresholds:
        raise ConfigError(
            f"no thresholds to check: {source} has no check: section and no flag was given; "
            f"{_example(results)}."
        )
    violations = evaluate(results, thresholds)
    for violation in violations:
        print(violation.line())
    if violations:
        return EXIT_VIOLATED
    count = len(results.rows)
    print(
        f"ok: {len(thresholds)} threshold{'s' if len(thresholds) > 1 else ''} hold for all "
        f"{count} generation{'s' if count > 1 else ''} of {args.run_dir}"
    )
    return EXIT_HOLDS


def _example(results: RunResults) -> str:
    """A threshold flag for a column this run has: its domain's first headline column."""
    from lab.domains.registry import headline_of

    known = results.metric_columns
    if not known:
        return "pass a threshold such as --max METRIC=VALUE once the run has metrics"
    column = next((c for c in headline_of(results.config) if c in known), known[0])
    return (
        f"pass e.g. --max {column}=VALUE or --min {column}=VALUE, for any column of its "
        f"metrics.csv ({', '.join(known)})"
    )


def timeline_of(results: RunResults, section: CheckConfig) -> list[Stage]:
    """The run's collapse timeline, when its kind of data has one."""
    from lab.analysis.timeline import collapse_timeline
    from lab.domains.registry import signals_of

    signals = signals_of(results.config)
    return collapse_timeline(results, signals, section) if signals else []


def flag_thresholds(args: argparse.Namespace) -> list[Threshold]:
    """The thresholds given on the command line, in the order of the flag table."""
    from lab.analysis.monitor import Threshold

    found = []
    for flag, kind, metric, _ in NAMED_FLAGS:
        value = getattr(args, _dest(flag))
        if value is not None:
            if not math.isfinite(value):
                raise ConfigError(f"{flag} {value:g}: the limit must be a finite number.")
            if kind == "max_increase" and value <= 0:
                raise ConfigError(f"{flag} {value:g}: the factor must be > 0.")
            found.append(Threshold(metric, kind, value, f"{flag} {value:g}"))
    for flag, kind, _, _ in GENERIC_FLAGS:
        for text in getattr(args, _dest(flag)):
            metric, value = _metric_value(flag, text)
            found.append(Threshold(metric, kind, value, f"{flag} {text}"))
    return found


def _metric_value(flag: str, text: str) -> tuple[str, float]:
    metric, sep, value_text = text.partition("=")
    try:
        value = float(value_text)
    except ValueError:
        value = None
    if not sep or not metric.strip() or value is None:
        raise ConfigError(f"{flag} '{text}' must look like METRIC=NUMBER, e.g. {flag} fid=400.")
    if not math.isfinite(value):  # a NaN limit would never fire; an infinite one always holds
        raise ConfigError(f"{flag} '{text}': the limit must be a finite number, not {value:g}.")
    if flag == "--max-increase" and value <= 0:
        raise ConfigError(f"{flag} '{text}': the factor must be > 0.")
    return metric.strip(), value


def _dest(flag: str) -> str:
    return flag.removeprefix("--").replace("-", "_")
