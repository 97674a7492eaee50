"""`zoo lr-find`: learning-rate range test: loss against an exponentially growing rate."""

from __future__ import annotations

import argparse
import sys

from zoo.builders.cli.command import Command, EXIT_SPEC_ERROR, number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec")
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--min-lr", type=number(float, 0, above=True), default=1e-6)
    parser.add_argument("--max-lr", type=number(float, 0, above=True), default=1.0)
    parser.add_argument("--steps", type=number(int, 5), default=100, help="batches in the sweep (default 100)")
    parser.add_argument("--run-dir", metavar="DIR", help="write here instead of runs/<name>/lr-find-<timestamp>/")


def run(arguments) -> int:
    from zoo.builders.tools.doctor import lr_find

    try:
        result = lr_find(arguments.spec, arguments.overrides, run_dir=arguments.run_dir, min_lr=arguments.min_lr,
                         max_lr=arguments.max_lr, steps=arguments.steps)
    except ValueError as error:  # the finder's own argument checks
        print(f"error: {error}", file=sys.stderr)
        return EXIT_SPEC_ERROR
    rates = result["rates"]
    print(f"swept {rates[0]:.3g} to {rates[-1]:.3g} in {result['steps_run']} steps")
    if result["suggestion"] is None:
        print("no suggestion: the loss did not fall over the sweep; widen --min-lr/--max-lr or add --steps")
    else:
        print(f"suggested learning rate: {result['suggestion']:.3g}")
    print(f"written: {result['run_dir']}/lr_find.png, lr_find.json")
    return 0


COMMAND = Command("lr-find", "learning-rate range test: loss against an exponentially growing rate", add_arguments, run)
