"""`collapse-lab`: the command line.

Errors a user can fix (LabError) print as one sentence and exit 2; `--debug` shows the
traceback as well. Anything else is a bug in collapse-lab and keeps its traceback.
Each subcommand lives in its own module under lab/commands/.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback
from collections.abc import Sequence

from lab.errors import Interrupted, LabError

COMMANDS = ("run", "status", "compare", "eval", "report", "check", "nightly", "sweep")
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(format="warning: %(message)s", level=logging.WARNING)
    try:
        return args.command_module.handle(args)
    except LabError as err:
        if args.debug:
            traceback.print_exc()
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Interrupted as stop:
        print(f"{stop}; run the same command again to resume.", file=sys.stderr)
        return stop.exit_code
    except KeyboardInterrupt:
        print("stopped by Ctrl-C; run the same command again to resume.", file=sys.stderr)
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="collapse-lab",
        description="Train generative models on their own samples and measure the collapse.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for user errors")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"lab.commands.{name}")
        sub = commands.add_parser(name, help=module.HELP, description=module.__doc__)
        module.add_arguments(sub)
        sub.set_defaults(command_module=module)
    return parser


if __name__ == "__main__":
    sys.exit(main())
