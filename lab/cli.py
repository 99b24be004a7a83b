"""`collapse-lab`: the command line.

Errors a user can fix (LabError) print as one sentence and exit 2; `--debug` shows the
traceback as well. Anything else is a bug in collapse-lab and keeps its traceback.
Each subcommand lives in its own module under lab/commands/.
"""

from __future__ import annotations

import argparse
import importlib
import io
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from types import FrameType

from lab.errors import EXIT_SIGINT, EXIT_SIGTERM, Interrupted, LabError

COMMANDS = ("run", "status", "compare", "eval", "report", "check", "nightly", "sweep")
EXIT_USER_ERROR = 2
# What a process killed by SIGPIPE reports (128 + 13), as `yes | head` leaves `yes` with.
EXIT_BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(format="warning: %(message)s", level=logging.WARNING)
    restore = _stop_on_sigterm()
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
        return EXIT_SIGINT
    except BrokenPipeError:
        # The reader of our output went away (`collapse-lab compare ... | head`): stop
        # quietly, as Unix tools do, with nothing left to flush into the closed pipe.
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    finally:
        restore()


def _stop_on_sigterm() -> Callable[[], None]:
    """Make SIGTERM (a scheduler's or systemd's polite stop) raise Interrupted wherever the
    command is, so a run records it and says so the same way as inside training (where
    Lightning calls this handler too). A second SIGTERM ends the process at once. Returns
    what puts the previous handler back (main() may be called from Python, e.g. by tests)."""
    if threading.current_thread() is not threading.main_thread():  # signals are main's only
        return lambda: None
    received = []

    def stop(signum: int, frame: FrameType | None) -> None:
        if received:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
        received.append(signum)
        raise Interrupted("SIGTERM", EXIT_SIGTERM)

    previous = signal.signal(signal.SIGTERM, stop)
    return lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):  # stdout is not a file (tests)
        pass


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
