"""What a `zoo` command is: its name, one line of help, its arguments and what it runs; and the exit codes."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Callable

__all__ = ["Command", "EXIT_OK", "EXIT_ERROR", "EXIT_SPEC_ERROR", "EXIT_INTERRUPTED", "EXIT_CODES"]

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
