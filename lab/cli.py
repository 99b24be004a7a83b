"""`collapse-lab`: the command line.

Errors a user can fix (LabError) print as one sentence and exit 2; `--debug` shows the
traceback as well. Anything else is a bug in collapse-lab and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from lab.errors import LabError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(format="warning: %(message)s", level=logging.WARNING)
    try:
        return args.handler(args)
    except LabError as err:
        if args.debug:
            traceback.print_exc()
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume.", file=sys.stderr)
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="collapse-lab",
        description="Train generative models on their own samples and measure the collapse.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for user errors")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run or resume an experiment")
    run.add_argument("config", type=Path, help="experiment YAML, e.g. experiments/demo.yaml")
    run.add_argument(
        "--run-dir",
        type=Path,
        help="where outputs go (default runs/<name>/<timestamp>); an existing one is resumed",
    )
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set train.max_epochs=2 (repeatable)",
    )
    run.set_defaults(handler=_run)
    return parser


def _run(args: argparse.Namespace) -> int:
    from lab.config import load_config
    from lab.loop import metrics_table, run_experiment

    config = load_config(args.config, args.overrides)
    run_dir = args.run_dir or Path("runs") / config.name / time.strftime("%Y%m%d-%H%M%S")
    run = run_experiment(config, run_dir)
    print(metrics_table(run))
    print(f"run directory: {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
