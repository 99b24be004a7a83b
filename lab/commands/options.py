"""Options that several subcommands share, defined once so they read and behave the same."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lab.sweeps.runner import Executor


def add_overrides(parser: argparse.ArgumentParser, applies_to: str) -> None:
    """`--set KEY=VALUE` (repeatable) into `args.overrides`, validated like the YAML."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a config key {applies_to}, e.g. --set train.max_epochs=2 (repeatable)",
    )


def add_executor_options(parser: argparse.ArgumentParser) -> None:
    """Where the cells of a sweep (or the entries of a night) run: lab/sweeps/."""
    group = parser.add_argument_group("where the runs go (lab/sweeps/)")
    group.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local: child processes on this machine (default); ray: one Ray task per run",
    )
    group.add_argument(
        "--parallel",
        type=_parallel,
        default=None,
        metavar="N",
        help="local: runs at once, each on a GPU card of its own when there are cards "
        "(default 1; 'auto': one per card)",
    )
    group.add_argument(
        "--address",
        help="ray: the cluster to join, e.g. auto or head-node:6379 (default: an instance "
        "this process finds or starts)",
    )
    group.add_argument(
        "--gpus-per-cell",
        type=_non_negative,
        default=None,
        metavar="G",
        help="ray: GPUs each run asks for (default 1 when the cluster has GPUs, else 0)",
    )
    group.add_argument(
        "--cpus-per-cell",
        type=_non_negative,
        default=None,
        metavar="C",
        help="ray: CPUs each run asks for, also its torch threads (default 1)",
    )


def executor_from(args: argparse.Namespace) -> Executor:
    """The executor the options name; options of the other executor are refused."""
    from lab.errors import ConfigError

    if args.executor == "local":
        given = [flag for flag, value in _ray_flags(args) if value is not None]
        if given:
            raise ConfigError(
                f"{given[0]} applies to --executor ray only; drop it or add --executor ray."
            )
        from lab.sweeps.local import local_executor

        return local_executor(None if args.parallel == "auto" else (args.parallel or 1))
    if args.parallel is not None:
        raise ConfigError(
            "--parallel applies to --executor local; Ray runs as many cells at once as the "
            "cluster has resources for (see --gpus-per-cell and --cpus-per-cell)."
        )
    from lab.sweeps.ray_cells import RayExecutor, import_ray

    import_ray()  # a missing package is one sentence now, not after the sweep has begun
    return RayExecutor(
        address=args.address,
        gpus_per_cell=args.gpus_per_cell,
        cpus_per_cell=1.0 if args.cpus_per_cell is None else args.cpus_per_cell,
    )


def _ray_flags(args: argparse.Namespace) -> list[tuple[str, object]]:
    return [
        ("--address", args.address),
        ("--gpus-per-cell", args.gpus_per_cell),
        ("--cpus-per-cell", args.cpus_per_cell),
    ]


def _parallel(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a whole number or 'auto', not {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value:g}")
    return value
