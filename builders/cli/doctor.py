"""`zoo doctor`: the babysitting checks on a spec's model: initial loss, overfit a batch, gradients, activations,
bias/variance."""

from __future__ import annotations

import argparse
import sys

from zoo.builders.cli.command import Command, EXIT_SPEC_ERROR, number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec")
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--epochs", type=number(int, 1), default=3, help="epochs of training before the 'after' checks (default 3)")
    parser.add_argument("--baseline-error", type=number(float, 0), default=0.0, help="the error a good model reaches (default 0)")
    parser.add_argument("--tolerance", type=number(float, 0, above=True), default=0.02, help="how far above baseline counts as high (default 0.02)")
    parser.add_argument("--run-dir", metavar="DIR", help="write here instead of runs/<name>/doctor-<timestamp>/")
    parser.add_argument("--gradcheck", type=number(int, 1), nargs="?", const=20, metavar="N",
                        help="also check N weights' gradients (default 20) against central finite differences")


def run(arguments) -> int:
    from zoo.builders.tools.doctor import doctor, format_report

    if arguments.gradcheck is not None and arguments.gradcheck < 1:
        print(f"error: --gradcheck takes a number of weights >= 1; got {arguments.gradcheck}.", file=sys.stderr)
        return EXIT_SPEC_ERROR
    report = doctor(arguments.spec, arguments.overrides, run_dir=arguments.run_dir, epochs=arguments.epochs,
                    baseline_error=arguments.baseline_error, tolerance=arguments.tolerance, gradcheck=arguments.gradcheck)
    print(format_report(report))
    return 0


COMMAND = Command(
    "doctor",
    "the babysitting checks on a spec's model: initial loss, overfit a batch, gradients, activations, "
    "bias/variance",
    add_arguments, run,
)
