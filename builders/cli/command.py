"""What a `zoo` command is: its name, one line of help, its arguments and what it runs; and the exit codes."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Callable

__all__ = ["Command", "EXIT_OK", "EXIT_ERROR", "EXIT_SPEC_ERROR", "EXIT_INTERRUPTED", "EXIT_CODES", "number"]

EXIT_OK, EXIT_ERROR, EXIT_SPEC_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130

EXIT_CODES = f"""exit codes:
  {EXIT_OK}    done
  {EXIT_ERROR}    a run error: a directory in use or not ours, damaged files, no trial finished
  {EXIT_SPEC_ERROR}    a spec error or bad arguments (the message names the file, line and key)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C); zoo train --resume / zoo tune --resume continue"""


@dataclass(frozen=True)
class Command:
    """One `zoo` command. A command module imports nothing heavy at its top, so `zoo --help` answers at once.

    Attributes:
        name: what the user types (`zoo NAME`).
        help: one line for `zoo --help`.
        add_arguments: adds the command's arguments to its argparse parser.
        run: runs it with the parsed arguments; returns the exit code.
        light: it only reads the catalogue or a spec, so with no data to open it builds on Keras's NumPy backend
            and never imports TensorFlow (35-50 s on a loaded 2-core machine) when the user chose no backend.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    light: bool = False


def number(kind: type = float, low: float | None = None, high: float | None = None, above: bool = False):
    """An argparse `type=` for a finite number within bounds: `number(int, 1)` is an integer >= 1,
    `number(float, 0, above=True)` a float > 0. A value outside is argparse's own error (exit 2), naming it."""
    import math

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if low is not None and (value <= low if above else value < low):
            raise argparse.ArgumentTypeError(f"{text} is too small: give a number {'>' if above else '>='} {low:g}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"{text} is too large: give a number <= {high:g}")
        return value

    parse.__name__ = "integer" if kind is int else "number"
    return parse
