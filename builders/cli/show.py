"""`zoo show`: a spec: the resolved spec and model summary; a zoo name: its documentation."""

from __future__ import annotations

import argparse
import os

from zoo.builders.cli.command import Command
from zoo.builders.cli.catalogue import catalogue


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC|NAME")
    parser.add_argument("overrides", nargs="*")


def run(arguments) -> int:
    from zoo.builders.run.model import build_model
    from zoo.builders.spec.document import load_spec

    if not os.path.exists(arguments.spec) and not arguments.spec.endswith((".yaml", ".yml")):
        text = _describe(arguments.spec)
        if text is None:
            from zoo.builders.spec.errors import SpecError, closest

            names = [n for members in catalogue().values() for n in members]
            raise SpecError(f"{arguments.spec!r} is neither a spec file nor a zoo name; see `zoo list`.", suggestions=closest(arguments.spec, names))
        print(text)
        return 0
    spec = load_spec(arguments.spec, arguments.overrides)
    print(spec.to_yaml())
    build_model(spec).summary()
    return 0


def _describe(name: str) -> str | None:
    import inspect

    for kind, members in catalogue().items():
        if name in members:
            if kind == "architectures":
                from zoo import architectures

                return architectures.describe(name)
            obj = members[name]
            signature = inspect.signature(obj)
            return f"{name}{signature}  ({kind[:-1]})\n\n{inspect.getdoc(obj)}"
    return None


COMMAND = Command(
    "show",
    "a spec: the resolved spec and model summary; a zoo name: its documentation",
    add_arguments, run, light=True,
)
