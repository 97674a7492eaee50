"""`zoo list`: the zoo's architectures, layers, activations, optimizers, schedules and callbacks."""

from __future__ import annotations

import argparse

from zoo.builders.cli.command import Command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", nargs="?", choices=list(KINDS), help="only this kind")


def run(arguments) -> int:
    for kind, members in catalogue().items():
        if arguments.kind not in (None, kind):
            continue
        print(f"{kind}:")
        width = max(len(n) for n in members)
        for name, obj in members.items():
            print(f"  {name:{width}}  {first_line(obj)}")
    return 0


KINDS = ("architectures", "layers", "activations", "optimizers", "schedules", "callbacks")


def catalogue() -> dict[str, dict[str, object]]:
    """kind -> {name: the function or class}, as specs name them."""
    import zoo

    found: dict[str, dict[str, object]] = {"architectures": {n: zoo.architectures.family(n) for n in zoo.architectures.names()}}
    for kind in KINDS[1:]:
        module = getattr(zoo, kind)
        found[kind] = {n: getattr(module, n) for n in module.__all__ if callable(getattr(module, n))}
    # Only what a spec can name: not the clipping mixin or the helper functions.
    import keras

    found["optimizers"] = {n: o for n, o in found["optimizers"].items() if isinstance(o, type) and issubclass(o, keras.optimizers.Optimizer)}
    found["callbacks"] = {n: o for n, o in found["callbacks"].items() if isinstance(o, type) and issubclass(o, keras.callbacks.Callback)}
    return found


def first_line(obj) -> str:
    import inspect

    doc = (inspect.getdoc(obj) or "").split("\n\n")[0].replace("\n", " ")
    return doc.split(". ")[0].rstrip(".") + "."


COMMAND = Command(
    "list",
    "the zoo's architectures, layers, activations, optimizers, schedules and callbacks",
    add_arguments, run, light=True,
)
