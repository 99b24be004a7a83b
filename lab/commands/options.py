"""Options that several subcommands share, defined once so they read and behave the same."""

from __future__ import annotations

import argparse


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
