"""`zoo evaluate`: metrics of a finished run on its test split."""

from __future__ import annotations

import argparse

from zoo.builders.cli.command import Command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir")
    parser.add_argument("--data", metavar="YAML", help="another data source, e.g. '{csv: new.csv, label: y}'")


def run(arguments) -> int:
    from zoo.builders.spec.loader import parse_yaml
    from zoo.builders.tools.inference import evaluate

    source = parse_yaml(arguments.data, "--data")[0] if arguments.data else None
    results = evaluate(arguments.run_dir, source)
    for key, value in results.items():
        print(f"{key:16}{value:>12.4f}" if isinstance(value, float) else f"{key:16}{value:>12}")
    return 0


COMMAND = Command("evaluate", "metrics of a finished run on its test split", add_arguments, run)
