"""`collapse-lab report RUN`: write RUN/report.html and its plots from the run directory.

`collapse-lab run` writes the report at its end too; this command redraws it, e.g. for a run
that was stopped part-way or one made by an older collapse-lab.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write RUN/report.html (grids, plots, heatmaps, metrics table)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN", help="a run directory")


def handle(args: argparse.Namespace) -> int:
    from lab.report.writer import write_report

    print(f"report: {write_report(args.run_dir)}")
    return 0
