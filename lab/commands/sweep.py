"""`collapse-lab sweep FILE`: run every cell of a sweep (a base experiment x axes of config
keys) as an ordinary run directory under one folder, then compare the cells, seeds as groups.

Exit status: 0 when every cell finished; 1 when a cell failed (the others still ran; run the
same command again to redo only what is unfinished); 2 when the sweep file, a cell's config
or an option is invalid, or another sweep is running into the same folder; 143 or 130 when
SIGTERM or Ctrl-C stopped it (its running cells too; the same command resumes). See
docs/sweeps.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lab.commands.options import add_executor_options, add_overrides

HELP = "run a sweep of runs (seeds, regimes, any config key) and compare them"
COMPARE_DIR = "compare"
EXIT_ALL_FINISHED = 0
EXIT_CELL_FAILED = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sweep", type=Path, help="sweep YAML, e.g. experiments/sweeps/demo_seeds.yaml"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="the sweep's folder (default: the file's output, or runs/sweeps/<name>)",
    )
    add_overrides(parser, "in every cell")
    add_executor_options(parser)


def handle(args: argparse.Namespace) -> int:
    from lab.analysis.compare import compare
    from lab.commands.options import executor_from
    from lab.sweeps.runner import failed_cells, run_sweep
    from lab.sweeps.sweep_file import load_sweep

    sweep = load_sweep(args.sweep, args.out, args.overrides)
    executor = executor_from(args)
    record = run_sweep(sweep, executor)
    failed = failed_cells(record)
    done = [
        sweep.run_dir(cell)
        for cell, item in zip(sweep.cells, record["cells"], strict=True)
        if item.get("generations")
    ]
    if done:
        out = sweep.output / COMPARE_DIR
        print(compare(done, out))
        print(f"comparison written to {out}")
    for item in failed:
        print(f"FAILED {item['name']}: {item['reason']} (log: {sweep.output / item['log']})")
    finished = len(record["cells"]) - len(failed)
    print(
        f"sweep {sweep.name}: {finished} of {len(record['cells'])} cells finished in {sweep.output}"
    )
    return EXIT_CELL_FAILED if failed else EXIT_ALL_FINISHED
