"""The `zoo` command line; its imports stay inside the commands so `zoo --help` answers at once."""

from zoo.builders.cli.main import main

__all__ = ["main"]
