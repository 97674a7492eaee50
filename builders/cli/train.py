"""`zoo train`: train a spec and write a run directory."""

from __future__ import annotations

import argparse
import sys

from zoo.builders.cli.command import Command, EXIT_SPEC_ERROR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", nargs="?", help="the spec file")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.epochs=5")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last finished epoch")
    parser.add_argument("--run-dir", metavar="DIR", help="write here instead of runs/<name>/<timestamp>/")
    parser.add_argument("--quiet", action="store_true", help="one line per epoch (Keras's verbose=2, what a "
                        "standard output that is not a terminal gets anyway) instead of a progress bar")


def run(arguments) -> int:
    from zoo.builders.run.train import format_summary, resume, train

    # A progress bar only on a terminal: piped or logged output gets one line per epoch (Keras's verbose=2).
    verbose = 2 if arguments.quiet or not sys.stdout.isatty() else "auto"
    if arguments.resume:
        if arguments.spec or arguments.overrides:
            print("error: --resume takes a run directory and no spec or overrides.", file=sys.stderr)
            return EXIT_SPEC_ERROR
        result = resume(arguments.resume, verbose=verbose)
    else:
        if not arguments.spec:
            print("error: name a spec file, or --resume RUN_DIR.", file=sys.stderr)
            return EXIT_SPEC_ERROR
        result = train(arguments.spec, arguments.overrides, run_dir=arguments.run_dir, verbose=verbose)
    print(format_summary(result.metrics))
    print(f"run directory: {result.run_dir}")
    return 0


COMMAND = Command("train", "train a spec and write a run directory", add_arguments, run)
