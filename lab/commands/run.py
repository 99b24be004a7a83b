"""`collapse-lab run CONFIG`: run an experiment, or resume it in an existing run directory."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from lab.commands.options import add_overrides

HELP = "run or resume an experiment"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="experiment YAML, e.g. experiments/demo.yaml")
    parser.add_argument(
        "--run-dir",
        type=Path,
        help="where outputs go (default runs/<name>/<timestamp>); an existing one is resumed",
    )
    add_overrides(parser, "of CONFIG")


def handle(args: argparse.Namespace) -> int:
    from lab.config import load_config
    from lab.domains.registry import spec_of
    from lab.errors import ConfigError
    from lab.loop import metrics_table, run_experiment
    from lab.report.writer import write_report

    config = load_config(args.config, args.overrides)
    run_dir = args.run_dir or Path("runs") / config.name / time.strftime("%Y%m%d-%H%M%S")
    try:
        run = run_experiment(config, run_dir)
    except ConfigError as err:  # a value only the data can refute, e.g. a batch size
        raise ConfigError(f"{args.config}: {err}") from None
    print(metrics_table(run, spec_of(config).headline))
    print(f"run directory: {run_dir}")
    print(f"report: {write_report(run_dir)}")
    return 0
