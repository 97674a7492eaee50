"""`zoo learning-curve`: training and validation error against the training set's size, with the bias/variance reading
and a PNG."""

from __future__ import annotations

import argparse

from zoo.builders.cli.command import Command, number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec")
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--sizes", type=float, nargs="+", metavar="N", help="training rows (whole numbers) or fractions "
                        "in (0, 1] of the training split (default 0.1 0.2 0.4 0.7 1.0)")
    parser.add_argument("--baseline-error", type=number(float, 0), default=0.0, help="the error a good model reaches (default 0)")
    parser.add_argument("--tolerance", type=number(float, 0, above=True), default=0.02, help="how far above baseline counts as high (default 0.02)")
    parser.add_argument("--run-dir", metavar="DIR", help="write here instead of runs/<name>/learning-curve-<timestamp>/")


def run(arguments) -> int:
    from zoo.builders.tools.curves import format_curve, learning_curve

    import math
    import sys

    from zoo.builders.cli.command import EXIT_SPEC_ERROR

    bad = [size for size in arguments.sizes or () if not math.isfinite(size) or size <= 0 or size > 1 and size != int(size)]
    if bad:
        print(f"error: --sizes takes row counts (whole numbers) or fractions in (0, 1]; got {bad[0]!r}.", file=sys.stderr)
        return EXIT_SPEC_ERROR
    sizes = [int(size) if size > 1 and size == int(size) else size for size in arguments.sizes or ()]
    result = learning_curve(arguments.spec, arguments.overrides, sizes=sizes or None, directory=arguments.run_dir,
                            baseline_error=arguments.baseline_error, tolerance=arguments.tolerance)
    print(format_curve(result))
    print(f"written: {result['directory']}/learning_curve.png, learning_curve.json")
    return 0


COMMAND = Command(
    "learning-curve",
    "training and validation error against the training set's size, with the bias/variance reading and a "
    "PNG",
    add_arguments, run,
)
