"""`zoo ensemble`: average finished runs' (or checkpoints') predictions; its score next to each member's."""

from __future__ import annotations

import argparse

from zoo.builders.cli.command import Command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("members", nargs="+", metavar="RUN_DIR|MODEL.keras")
    parser.add_argument("--data", metavar="YAML", help="score on another data source, e.g. '{csv: held_out.csv, label: y}'")


def run(arguments) -> int:
    from zoo.builders.spec.loader import parse_yaml
    from zoo.builders.tools.ensemble import ensemble, format_ensemble

    source = parse_yaml(arguments.data, "--data")[0] if arguments.data else None
    print(format_ensemble(ensemble(arguments.members, source)))
    return 0


COMMAND = Command(
    "ensemble",
    "average finished runs' (or checkpoints') predictions; its score next to each member's",
    add_arguments, run,
)
