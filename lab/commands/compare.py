"""`collapse-lab compare RUN [RUN ...]`: runs side by side (table, plots, last grids)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

HELP = "compare runs: one table, one plot per metric, the last grids side by side"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", type=Path, nargs="+", metavar="RUN", help="run directories")
    parser.add_argument(
        "--out",
        type=Path,
        help="folder for compare.csv, plots/ and last_grids.png (default runs/compare/<timestamp>)",
    )


def handle(args: argparse.Namespace) -> int:
    from lab.analysis.compare import compare
    from lab.errors import ConfigError

    out = args.out or Path("runs") / "compare" / time.strftime("%Y%m%d-%H%M%S")
    if out.exists() and not out.is_dir():
        raise ConfigError(
            f"--out '{out}' is a file, not a folder; give the folder the comparison goes to "
            "(it is created when missing)."
        )
    print(compare(args.runs, out))
    written = ", ".join(p.name + "/" * p.is_dir() for p in sorted(out.iterdir()))
    print(f"comparison written to {out} ({written})")
    return 0
