"""`zoo validate`: the run plan's dry run: check specs, build what train and tune would build, warn about known
pitfalls; nothing is written."""

from __future__ import annotations

import argparse
import os
import sys

from zoo.builders.cli.command import Command, EXIT_SPEC_ERROR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE [PATH=VALUE ...]",
                        help="spec files, then dotted overrides applied to each")
    parser.add_argument("--set", dest="set_overrides", action="append", default=[], help=argparse.SUPPRESS)


def run(arguments) -> int:
    from zoo.builders.run.pitfalls import pitfalls
    from zoo.builders.run.plan import validate
    from zoo.builders.spec.document import load_spec
    from zoo.builders.spec.errors import SpecError

    failed = 0
    files, overrides = split_files(arguments)
    if not files:
        print(f"error: name at least one spec file before the overrides ({' '.join(overrides)}).", file=sys.stderr)
        return EXIT_SPEC_ERROR
    for file in files:
        try:
            spec = load_spec(file, overrides)
            checked = validate(spec)  # the run plan's dry run: what train and tune would build
        except SpecError as error:
            print(f"error: {error}", file=sys.stderr)
            failed += 1
            continue
        for warning in pitfalls(spec):
            print(warning)
        builds = f"{len(checked) - ('tune settings' in checked)} build(s)"
        print(f"{file}: ok ({builds}" + (", tune settings" if "tune settings" in checked else "") + ")")
    return EXIT_SPEC_ERROR if failed else 0


def split_files(arguments) -> tuple[list[str], list[str]]:
    """`zoo validate FILE... PATH=VALUE...`: an argument with `=` that is not a file is an override
    (`--set PATH=VALUE`, the older spelling, still works)."""
    files = [a for a in arguments.files if "=" not in a or os.path.exists(a)]
    overrides = [a for a in arguments.files if a not in files] + list(arguments.set_overrides)
    return files, overrides


COMMAND = Command(
    "validate",
    "the run plan's dry run: check specs, build what train and tune would build, warn about known "
    "pitfalls; nothing is written",
    add_arguments, run, light=True,
)
