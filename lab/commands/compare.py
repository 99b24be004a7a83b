"""`collapse-lab compare RUN [RUN ...]`: runs side by side (table, plots, last grids); runs
that differ only in their seed as groups, with t-intervals and paired differences."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

HELP = "compare runs: one table, one plot per metric, the last grids side by side"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "runs",
        type=Path,
        nargs="+",
        metavar="RUN",
        help="run directories, or folders of them (a sweep's folder, a night's entry)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="folder for compare.csv, plots/ and last_grids.png (default runs/compare/<timestamp>)",
    )
    parser.add_argument(
        "--confidence",
        type=_confidence,
        default=0.95,
        help="of the t-intervals over seeds, when runs differ only in their seed (default 0.95)",
    )


def handle(args: argparse.Namespace) -> int:
    from lab.analysis.compare import compare
    from lab.sweeps.folders import refuse_unusable_folder

    out = args.out or Path("runs") / "compare" / time.strftime("%Y%m%d-%H%M%S")
    refuse_unusable_folder(out, f"--out '{out}'", "a folder for the comparison")
    print(compare(args.runs, out, args.confidence))
    written = ", ".join(p.name + "/" * p.is_dir() for p in sorted(out.iterdir()))
    print(f"comparison written to {out} ({written})")
    return 0


def _confidence(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, e.g. 0.95, not {value:g}")
    return value
