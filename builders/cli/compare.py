"""`zoo compare`: spec differences and final metrics of finished runs, curves overlaid in one PNG."""

from __future__ import annotations

import argparse

from zoo.builders.cli.command import Command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--output", metavar="PNG", help="the curves' PNG (default runs/compare-<timestamp>.png)")


def run(arguments) -> int:
    from pathlib import Path

    from zoo.builders.spec.errors import RunError
    from zoo.builders.tools.compare import compare, default_plot_path, format_comparison

    plot = Path(arguments.output) if arguments.output else default_plot_path()
    if plot.exists():
        raise RunError(f"{plot} exists; choose another --output (compare never replaces a file).")
    if plot.suffix.lower() != ".png":
        raise RunError(f"--output {plot} must end in .png.")
    plot.parent.mkdir(parents=True, exist_ok=True)
    print(format_comparison(compare(arguments.run_dirs, plot)))
    return 0


COMMAND = Command(
    "compare",
    "spec differences and final metrics of finished runs, curves overlaid in one PNG",
    add_arguments, run,
)
