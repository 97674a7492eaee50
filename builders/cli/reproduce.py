"""`zoo reproduce`: rerun the reproductions of classic training claims (scripts/reproduce.py): their rows in
reports/REPRODUCTIONS.md and plots."""

from __future__ import annotations

import argparse
import sys

from zoo.builders.cli.command import Command, number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="+", metavar="NAME", help="experiment names, or all")
    parser.add_argument("--seeds", type=number(int, 1), help="seeds per variant (default: the experiment's own, 3, or 5 for "
                        "batch_norm_speed)")
    parser.add_argument("--tiny", action="store_true", help="1 seed, 1 epoch, written to runs/reproductions-tiny/: "
                        "checks that an experiment runs, judges nothing")
    parser.add_argument("--reports", metavar="DIR", help="write the report and plots here instead of reports/")


def run(arguments) -> int:
    """Runs scripts/reproduce.py, its implementation: the experiments name specs of the repository's specs/ folder,
    so they run from a checkout of keras-zoo (an editable install, or the current folder)."""
    import importlib.util
    from pathlib import Path

    from zoo.builders.spec.errors import RunError

    here = Path(__file__).resolve().parents[2]  # the checkout: builders/cli/reproduce.py
    candidates = [here / "scripts" / "reproduce.py", Path.cwd() / "scripts" / "reproduce.py"]
    script = next((path for path in candidates if path.is_file()), None)
    if script is None:
        raise RunError("zoo reproduce runs scripts/reproduce.py from a keras-zoo checkout, and none was found (looked in "
                       f"{candidates[0].parent} and {candidates[1].parent}): clone the repository and run it there.")
    loaded = importlib.util.spec_from_file_location("zoo_reproduce_script", script)
    module = importlib.util.module_from_spec(loaded)
    sys.modules[loaded.name] = module  # its dataclasses look their module up there
    loaded.loader.exec_module(module)
    argv = [*arguments.names, *(["--seeds", str(arguments.seeds)] if arguments.seeds is not None else []),
            *(["--tiny"] if arguments.tiny else []),
            *(["--reports", arguments.reports] if arguments.reports else [])]
    return module.main(argv, prog="zoo reproduce")


COMMAND = Command(
    "reproduce",
    "rerun the reproductions of classic training claims (scripts/reproduce.py): their rows in "
    "reports/REPRODUCTIONS.md and plots",
    add_arguments, run,
)
