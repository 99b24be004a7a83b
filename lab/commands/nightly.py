"""`collapse-lab nightly SUITE`: run the nightly suite into <output>/<date>/ and update the
index page of every night.

The entries run one after another on this machine, side by side on its GPU cards with
`--parallel N` (one card each), or as Ray tasks with `--executor ray`.

Exit status: 0 when every entry finished and no final metric moved past its tolerance since
the previous night; 1 when an entry failed or the regression flag is raised (so cron mails
someone); 2 when the suite file or an option is invalid, or the night is in use; 143 or 130
when SIGTERM or Ctrl-C stopped it. See docs/nightly.md.
"""

from __future__ import annotations

import argparse
import datetime
import re
import time
from pathlib import Path

from lab.commands.options import add_executor_options, add_overrides
from lab.errors import ConfigError

HELP = "run the nightly suite and update runs/nightly/index.html"
EXIT_ALL_WELL = 0
EXIT_FLAGGED = 1
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", type=Path, help="suite YAML, e.g. experiments/nightly.yaml")
    parser.add_argument(
        "--date",
        help="the night's folder name, YYYY-MM-DD (default today); an existing night resumes",
    )
    add_overrides(parser, "in every entry")
    parser.add_argument(
        "--index-only", action="store_true", help="only rebuild the index page from past nights"
    )
    add_executor_options(parser)


def handle(args: argparse.Namespace) -> int:
    from lab.commands.options import executor_from
    from lab.nightly.index import changes, night_problems, read_nights, write_index
    from lab.nightly.night import run_night
    from lab.nightly.prune import prune_nights
    from lab.nightly.suite import load_suite
    from lab.sweeps.folders import refuse_unusable_folder

    suite = load_suite(args.suite)
    root = Path(suite.output)
    named = f"{args.suite}: key 'output' names '{root}', which"
    refuse_unusable_folder(root, named, "a folder for the nights")
    if args.index_only:
        print(f"index: {write_index(root)}")
        return EXIT_ALL_WELL
    date = args.date or time.strftime("%Y-%m-%d")
    _check_date(date)
    run_night(suite, args.suite, date, args.overrides, executor=executor_from(args))
    if suite.keep_samples_nights is not None:
        prune_nights(root, suite.keep_samples_nights)
    index = write_index(root)
    nights = read_nights(root)
    tonight = next(night for night in nights if night["date"] == date)
    problems = night_problems(tonight, changes(nights))
    for problem in problems:
        print(f"FLAG {date}: {problem}")
    print(f"index: {index}")
    return EXIT_FLAGGED if problems else EXIT_ALL_WELL


def _check_date(date: str) -> None:
    """A night is named by a real calendar date: the index orders nights by it, and each
    night's flags compare it with the night before."""
    if not _DATE.fullmatch(date):
        raise ConfigError(f"--date '{date}' must look like YYYY-MM-DD, e.g. 2026-11-27.")
    try:
        datetime.date.fromisoformat(date)
    except ValueError as err:
        raise ConfigError(
            f"--date '{date}' is not a day of the calendar ({err}); give the night's date as "
            "YYYY-MM-DD, e.g. 2026-11-27."
        ) from None
