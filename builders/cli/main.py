"""The `zoo` command: the parser from the commands' modules (one a command, builders/cli/*.py), standard error
filtered of TensorFlow's native startup lines, errors as exit codes. Imports stay inside the commands so
`zoo --help` answers at once."""

from __future__ import annotations

import argparse
import atexit
import os
import re
import sys
import threading
from typing import Sequence

from zoo.builders.cli import (catalogue, compare, doctor, ensemble, evaluate, export, learning_curve, lr_find, predict,
                              reproduce, schema, show, train, tune, validate)
from zoo.builders.cli.command import EXIT_CODES, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_SPEC_ERROR, Command
from zoo.builders.cli.validate import split_files

# The commands, in the order `zoo --help` lists them: a new command is one module with a COMMAND, and a line here.
COMMANDS: dict[str, Command] = {module.COMMAND.name: module.COMMAND for module in (
    train, validate, show, catalogue, schema, tune, doctor, lr_find, learning_curve, ensemble, reproduce, evaluate,
    predict, export, compare)}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoo",
        description="Train, inspect and validate Keras models described by YAML specs.",
        epilog="Overrides are dotted paths with YAML values, given after the spec to every command: "
               "zoo train specs/digits_mlp.yaml train.epochs=5\n\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s (keras-zoo) {_version()}")
    # Every command: -v shows TensorFlow's native startup logs, which are filtered out otherwise.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", type=int, nargs="?", const=1, default=0, metavar="N",
                        help="show TensorFlow's startup logs; for tune, also Keras's fit verbosity N inside trials")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for command in COMMANDS.values():
        command.add_arguments(commands.add_parser(command.name, help=command.help, parents=[common], epilog=EXIT_CODES,
                                                  formatter_class=argparse.RawDescriptionHelpFormatter))
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("keras-zoo")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The arguments; overrides may also come after options (`zoo train SPEC --run-dir D train.epochs=5`)."""
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # `-v` alone must not swallow the override after it (`zoo train S -v train.epochs=5`): a level is a number.
    argv = [f"{a}=1" if a in ("-v", "--verbose") and not (i + 1 < len(argv) and argv[i + 1].isdigit()) else a
            for i, a in enumerate(argv)]
    arguments, extra = parser.parse_known_args(argv)
    late = [a for a in extra if "=" in a and not a.startswith("-")]
    target = "files" if arguments.command == "validate" else "overrides"
    if len(late) != len(extra) or (late and not hasattr(arguments, target)):
        parser.error(f"unrecognized arguments: {' '.join(a for a in extra if a not in late or not hasattr(arguments, target))}")
    if late:
        setattr(arguments, target, list(getattr(arguments, target) or []) + late)
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parse(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not arguments.verbose:
        _filter_native_logs()
    if COMMANDS[arguments.command].light and "KERAS_BACKEND" not in os.environ and "keras" not in sys.modules:
        if arguments.command in ("list", "schema") or _opens_no_tensorflow_data(arguments):
            os.environ["KERAS_BACKEND"] = "numpy"
    from zoo.builders.spec.errors import RunError, SpecError

    try:
        return COMMANDS[arguments.command].run(arguments)
    except SpecError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_SPEC_ERROR
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as error:  # the file system said no (a folder that cannot be made, a disk full): said, not a traceback
        where = f" ({error.filename})" if getattr(error, "filename", None) else ""
        print(f"error: {error.strerror or error}{where}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _opens_no_tensorflow_data(arguments) -> bool:
    """Whether `show`/`validate` can run on the NumPy backend: a zoo name, or specs without a data section."""
    if arguments.command == "show":
        files = [arguments.spec] if arguments.spec.endswith((".yaml", ".yml")) or os.path.exists(arguments.spec) else []
    else:
        files = split_files(arguments)[0]
    from zoo.builders.spec.errors import SpecError
    from zoo.builders.spec.loader import parse_yaml, read_spec_text

    for file in files:
        try:  # the YAML only: checking the spec imports Keras, whose backend is not chosen yet
            tree = parse_yaml(*read_spec_text(file))[0]
        except (SpecError, OSError):
            continue  # the command itself reports it
        if not isinstance(tree, dict) or tree.get("data"):
            return False
    overrides = arguments.overrides if arguments.command == "show" else split_files(arguments)[1]
    return not any(override.split("=", 1)[0].split(".")[0].strip() == "data" for override in overrides)


# TensorFlow's native (absl) log lines, printed on import and first use whatever TF_CPP_MIN_LOG_LEVEL says:
# oneDNN, the CUDA probe on a machine without a GPU, CPU instruction sets.
_NATIVE_LOG = re.compile(rb"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^ \]]+:\d+\] "
                         rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
                         rb"|To enable the following instructions: .* rebuild TensorFlow"
                         rb"|INFO: Created TensorFlow Lite XNNPACK delegate)")
_FILTERING: list[int] = []


def _filter_native_logs() -> None:
    """Pass standard error (file descriptor 2, which TensorFlow's C++ writes to) through a thread that drops
    TensorFlow's native startup lines; everything else reaches the terminal unchanged and in order. Only for
    the real standard error of a `zoo` process, once."""
    try:
        if _FILTERING or sys.stderr is not sys.__stderr__ or sys.stderr is None:
            return
        target = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return
    sys.stderr.flush()
    original = os.dup(target)
    read, write = os.pipe()
    os.dup2(write, target)
    os.close(write)
    _FILTERING.append(original)

    def pump() -> None:
        with os.fdopen(read, "rb", buffering=0) as source:
            pending = b""
            while chunk := source.read(65536):
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                kept = b"".join(line + b"\n" for line in lines if not _NATIVE_LOG.match(line))
                if kept:
                    os.write(original, kept)
            if pending and not _NATIVE_LOG.match(pending):
                os.write(original, pending)

    thread = threading.Thread(target=pump, name="zoo-stderr-filter", daemon=True)
    thread.start()

    def restore() -> None:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(original, target)  # the pipe's last writer in this process closes: the pump sees its end
        thread.join(timeout=5)

    atexit.register(restore)


if __name__ == "__main__":
    sys.exit(main())
