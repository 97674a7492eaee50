"""`zoo schema`: print the spec language as JSON Schema (for editors)."""

from __future__ import annotations

import argparse
import json

from zoo.builders.cli.command import Command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(arguments) -> int:
    from zoo.builders.spec.schema import editor_schema

    print(json.dumps(editor_schema(), indent=2))
    return 0


COMMAND = Command("schema", "print the spec language as JSON Schema (for editors)", add_arguments, run, light=True)
