"""The `zoo` command. Imports stay inside the commands so `zoo --help` answers at once."""

from __future__ import annotations

import argparse
import atexit
import json
import os
import re
import sys
import threading
from typing import Sequence

EXIT_OK, EXIT_ERROR, EXIT_SPEC_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130

EXIT_CODES = f"""exit codes:
  {EXIT_OK}    done
  {EXIT_ERROR}    a run error: a directory in use or not ours, damaged files, no trial finished
  {EXIT_SPEC_ERROR}    a spec error or bad arguments (the message names the file, line and key)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C); zoo train --resume / zoo tune --resume continue"""

# Commands that only read the catalogue or a spec: with no data to open they build on Keras's NumPy
# backend, so they never import TensorFlow (35-50 s on a loaded 2-core machine) when the user has not
# chosen a backend.
_LIGHT_COMMANDS = ("list", "schema", "show", "validate")


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

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, parents=[common], epilog=EXIT_CODES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)

    train = command("train", "train a spec and write a run directory")
    train.add_argument("spec", nargs="?", help="the spec file")
    train.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.epochs=5")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last finished epoch")
    train.add_argument("--run-dir", metavar="DIR", help="write here instead of runs/<name>/<timestamp>/")
    train.add_argument("--quiet", action="store_true", help="one line per epoch (Keras's verbose=2, what a "
                       "standard output that is not a terminal gets anyway) instead of a progress bar")

    validate = command("validate", "the run plan's dry run: check specs, build what train and tune would build, "
                       "warn about known pitfalls; nothing is written")
    validate.add_argument("files", nargs="+", metavar="FILE [PATH=VALUE ...]",
                          help="spec files, then dotted overrides applied to each")
    validate.add_argument("--set", dest="set_overrides", action="append", default=[], help=argparse.SUPPRESS)

    show = command("show", "a spec: the resolved spec and model summary; a zoo name: its documentation")
    show.add_argument("spec", metavar="SPEC|NAME")
    show.add_argument("overrides", nargs="*")

    listing = command("list", "the zoo's architectures, layers, activations, optimizers, schedules and callbacks")
    listing.add_argument("kind", nargs="?", choices=list(_KINDS), help="only this kind")

    command("schema", "print the spec language as JSON Schema (for editors)")

    tune = command("tune", "search the spec's {hp: ...} markers with KerasTuner (the tune section)")
    tune.add_argument("spec")
    tune.add_argument("overrides", nargs="*")
    tune.add_argument("--resume", action="store_true", help="continue the search in its directory; finished trials are kept")
    tune.add_argument("--overwrite", action="store_true", help="delete an earlier search in the directory and start again")
    tune.add_argument("--workers", type=int, metavar="N", help="run N trials at once on this machine (a chief and N "
                      "workers on 127.0.0.1, sharing its GPU or cores); default tune.parallel_trials, else 1")
    tune.add_argument("--distributed", choices=["chief", "worker"], help="KerasTuner's chief/worker mode over gRPC")
    tune.add_argument("--oracle", metavar="HOST:PORT", help="the chief's address (distributed mode)")
    tune.add_argument("--tuner-id", metavar="ID", help="this worker's id (default worker<pid>); a restarted worker "
                      "with the same id picks up its unfinished trial")

    doctor = command("doctor", "the babysitting checks on a spec's model: initial loss, overfit a batch, "
                     "gradients, activations, bias/variance")
    doctor.add_argument("spec")
    doctor.add_argument("overrides", nargs="*")
    doctor.add_argument("--epochs", type=int, default=3, help="epochs of training before the 'after' checks (default 3)")
    doctor.add_argument("--baseline-error", type=float, default=0.0, help="the error a good model reaches (default 0)")
    doctor.add_argument("--tolerance", type=float, default=0.02, help="how far above baseline counts as high (default 0.02)")
    doctor.add_argument("--run-dir", metavar="DIR", help="write here instead of runs/<name>/doctor-<timestamp>/")
    doctor.add_argument("--gradcheck", type=int, nargs="?", const=20, metavar="N",
                        help="also check N weights' gradients (default 20) against central finite differences")

    finder = command("lr-find", "learning-rate range test: loss against an exponentially growing rate")
    finder.add_argument("spec")
    finder.add_argument("overrides", nargs="*")
    finder.add_argument("--min-lr", type=float, default=1e-6)
    finder.add_argument("--max-lr", type=float, default=1.0)
    finder.add_argument("--steps", type=int, default=100, help="batches in the sweep (default 100)")
    finder.add_argument("--run-dir", metavar="DIR", help="write here instead of runs/<name>/lr-find-<timestamp>/")

    curve = command("learning-curve", "training and validation error against the training set's size, with the "
                    "bias/variance reading and a PNG")
    curve.add_argument("spec")
    curve.add_argument("overrides", nargs="*")
    curve.add_argument("--sizes", type=float, nargs="+", metavar="N", help="training rows (whole numbers) or fractions "
                       "in (0, 1] of the training split (default 0.1 0.2 0.4 0.7 1.0)")
    curve.add_argument("--baseline-error", type=float, default=0.0, help="the error a good model reaches (default 0)")
    curve.add_argument("--tolerance", type=float, default=0.02, help="how far above baseline counts as high (default 0.02)")
    curve.add_argument("--run-dir", metavar="DIR", help="write here instead of runs/<name>/learning-curve-<timestamp>/")

    ensemble = command("ensemble", "average finished runs' (or checkpoints') predictions; its score next to each member's")
    ensemble.add_argument("members", nargs="+", metavar="RUN_DIR|MODEL.keras")
    ensemble.add_argument("--data", metavar="YAML", help="score on another data source, e.g. '{csv: held_out.csv, label: y}'")

    reproduce = command("reproduce", "rerun the reproductions of classic training claims (scripts/reproduce.py): "
                        "their rows in reports/REPRODUCTIONS.md and plots")
    reproduce.add_argument("names", nargs="+", metavar="NAME", help="experiment names, or all")
    reproduce.add_argument("--seeds", type=int, help="seeds per variant (default: the experiment's own, 3, or 5 for "
                           "batch_norm_speed)")
    reproduce.add_argument("--tiny", action="store_true", help="1 seed, 1 epoch, written to runs/reproductions-tiny/: "
                           "checks that an experiment runs, judges nothing")
    reproduce.add_argument("--reports", metavar="DIR", help="write the report and plots here instead of reports/")

    evaluate = command("evaluate", "metrics of a finished run on its test split")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--data", metavar="YAML", help="another data source, e.g. '{csv: new.csv, label: y}'")

    predict = command("predict", "predictions of a finished run for a .npy/.npz/.csv file")
    predict.add_argument("run_dir")
    predict.add_argument("input")
    predict.add_argument("--output", metavar="FILE", help="write a CSV here instead of standard output")
    predict.add_argument("--allow-nan", action="store_true", help="predict for rows with NaN or infinite values too")

    export = command("export", "a finished run's model for serving (SavedModel, TFLite, ONNX), checked against Keras")
    export.add_argument("run_dir")
    export.add_argument("--format", required=True, choices=["saved_model", "tflite", "onnx"],
                        help="onnx needs pip install 'keras-zoo[onnx]'")
    export.add_argument("--output", required=True, metavar="PATH", help="a new path (never replaced)")

    compare = command("compare", "spec differences and final metrics of finished runs, curves overlaid in one PNG")
    compare.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    compare.add_argument("--output", metavar="PNG", help="the curves' PNG (default runs/compare-<timestamp>.png)")
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
    if arguments.command in _LIGHT_COMMANDS and "KERAS_BACKEND" not in os.environ and "keras" not in sys.modules:
        if arguments.command in ("list", "schema") or _opens_no_tensorflow_data(arguments):
            os.environ["KERAS_BACKEND"] = "numpy"
    from zoo.builders.spec.errors import RunError, SpecError

    try:
        return _COMMANDS[arguments.command](arguments)
    except SpecError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_SPEC_ERROR
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _opens_no_tensorflow_data(arguments) -> bool:
    """Whether `show`/`validate` can run on the NumPy backend: a zoo name, or specs without a data section."""
    if arguments.command == "show":
        files = [arguments.spec] if arguments.spec.endswith((".yaml", ".yml")) or os.path.exists(arguments.spec) else []
    else:
        files = _split_files(arguments)[0]
    from zoo.builders.spec.errors import SpecError
    from zoo.builders.spec.loader import parse_yaml, read_spec_text

    for file in files:
        try:  # the YAML only: checking the spec imports Keras, whose backend is not chosen yet
            tree = parse_yaml(*read_spec_text(file))[0]
        except (SpecError, OSError):
            continue  # the command itself reports it
        if not isinstance(tree, dict) or tree.get("data"):
            return False
    overrides = arguments.overrides if arguments.command == "show" else _split_files(arguments)[1]
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


def _tune(arguments) -> int:
    workers = arguments.workers
    if workers is None and not arguments.distributed:
        from zoo.builders.spec.document import load_spec

        workers = (load_spec(arguments.spec, arguments.overrides).tree.get("tune") or {}).get("parallel_trials", 1)
    if workers is not None and workers != 1:
        if arguments.distributed:
            print("error: --workers starts its own chief and workers; it does not combine with --distributed.", file=sys.stderr)
            return EXIT_SPEC_ERROR
        from zoo.builders.search.workers import run_workers

        return run_workers(arguments.spec, arguments.overrides, workers, resume=arguments.resume,
                           overwrite=arguments.overwrite, verbose=arguments.verbose)
    if arguments.distributed:
        if not arguments.oracle or ":" not in arguments.oracle:
            print("error: --distributed needs --oracle HOST:PORT (the chief's address).", file=sys.stderr)
            return EXIT_SPEC_ERROR
        host, port = arguments.oracle.rsplit(":", 1)
        # KerasTuner's own chief/worker protocol reads these.
        os.environ["KERASTUNER_ORACLE_IP"], os.environ["KERASTUNER_ORACLE_PORT"] = host, port
        os.environ["KERASTUNER_TUNER_ID"] = "chief" if arguments.distributed == "chief" else (arguments.tuner_id or f"worker{os.getpid()}")
    from zoo.builders.search.tune import tune

    tune(arguments.spec, arguments.overrides, resume=arguments.resume or arguments.distributed == "worker",
         overwrite=arguments.overwrite, verbose=arguments.verbose)
    return 0


def _doctor(arguments) -> int:
    from zoo.builders.tools.doctor import doctor, format_report

    if arguments.gradcheck is not None and arguments.gradcheck < 1:
        print(f"error: --gradcheck takes a number of weights >= 1; got {arguments.gradcheck}.", file=sys.stderr)
        return EXIT_SPEC_ERROR
    report = doctor(arguments.spec, arguments.overrides, run_dir=arguments.run_dir, epochs=arguments.epochs,
                    baseline_error=arguments.baseline_error, tolerance=arguments.tolerance, gradcheck=arguments.gradcheck)
    print(format_report(report))
    return 0


def _lr_find(arguments) -> int:
    from zoo.builders.tools.doctor import lr_find

    try:
        result = lr_find(arguments.spec, arguments.overrides, run_dir=arguments.run_dir, min_lr=arguments.min_lr,
                         max_lr=arguments.max_lr, steps=arguments.steps)
    except ValueError as error:  # the finder's own argument checks
        print(f"error: {error}", file=sys.stderr)
        return EXIT_SPEC_ERROR
    rates = result["rates"]
    print(f"swept {rates[0]:.3g} to {rates[-1]:.3g} in {result['steps_run']} steps")
    if result["suggestion"] is None:
        print("no suggestion: the loss did not fall over the sweep; widen --min-lr/--max-lr or add --steps")
    else:
        print(f"suggested learning rate: {result['suggestion']:.3g}")
    print(f"written: {result['run_dir']}/lr_find.png, lr_find.json")
    return 0


def _ensemble(arguments) -> int:
    from zoo.builders.tools.ensemble import ensemble, format_ensemble

    from zoo.builders.spec.loader import parse_yaml

    source = parse_yaml(arguments.data, "--data")[0] if arguments.data else None
    print(format_ensemble(ensemble(arguments.members, source)))
    return 0


def _reproduce(arguments) -> int:
    """Runs scripts/reproduce.py, its implementation: the experiments name specs of the repository's specs/ folder,
    so they run from a checkout of keras-zoo (an editable install, or the current folder)."""
    import importlib.util
    from pathlib import Path

    from zoo.builders.spec.errors import RunError

    here = Path(__file__).resolve().parents[2]  # the checkout: builders/cli/main.py
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


def _learning_curve(arguments) -> int:
    from zoo.builders.tools.curves import format_curve, learning_curve

    sizes = [int(size) if size > 1 and size == int(size) else size for size in arguments.sizes or ()]
    result = learning_curve(arguments.spec, arguments.overrides, sizes=sizes or None, directory=arguments.run_dir,
                            baseline_error=arguments.baseline_error, tolerance=arguments.tolerance)
    print(format_curve(result))
    print(f"written: {result['directory']}/learning_curve.png, learning_curve.json")
    return 0


def _train(arguments) -> int:
    from zoo.builders.run.train import format_summary, resume, train

    # A progress bar only on a terminal: piped or logged output gets one line per epoch (Keras's verbose=2).
    verbose = 2 if arguments.quiet or not sys.stdout.isatty() else "auto"
    if arguments.resume:
        if arguments.spec or arguments.overrides:
            print("error: --resume takes a run directory and no spec or overrides.", file=sys.stderr)
            return EXIT_SPEC_ERROR
        result = resume(arguments.resume, verbose=verbose)
    else:
        if not arguments.spec:
            print("error: name a spec file, or --resume RUN_DIR.", file=sys.stderr)
            return EXIT_SPEC_ERROR
        result = train(arguments.spec, arguments.overrides, run_dir=arguments.run_dir, verbose=verbose)
    print(format_summary(result.metrics))
    print(f"run directory: {result.run_dir}")
    return 0


def _validate(arguments) -> int:
    from zoo.builders.run.pitfalls import pitfalls
    from zoo.builders.run.plan import validate
    from zoo.builders.spec.document import load_spec
    from zoo.builders.spec.errors import SpecError

    failed = 0
    files, overrides = _split_files(arguments)
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


def _split_files(arguments) -> tuple[list[str], list[str]]:
    """`zoo validate FILE... PATH=VALUE...`: an argument with `=` that is not a file is an override
    (`--set PATH=VALUE`, the older spelling, still works)."""
    files = [a for a in arguments.files if "=" not in a or os.path.exists(a)]
    overrides = [a for a in arguments.files if a not in files] + list(arguments.set_overrides)
    return files, overrides


_KINDS = ("architectures", "layers", "activations", "optimizers", "schedules", "callbacks")


def _catalogue() -> dict[str, dict[str, object]]:
    """kind -> {name: the function or class}, as specs name them."""
    import zoo

    found: dict[str, dict[str, object]] = {"architectures": {n: zoo.architectures.family(n) for n in zoo.architectures.names()}}
    for kind in _KINDS[1:]:
        module = getattr(zoo, kind)
        found[kind] = {n: getattr(module, n) for n in module.__all__ if callable(getattr(module, n))}
    # Only what a spec can name: not the clipping mixin or the helper functions.
    import keras

    found["optimizers"] = {n: o for n, o in found["optimizers"].items() if isinstance(o, type) and issubclass(o, keras.optimizers.Optimizer)}
    found["callbacks"] = {n: o for n, o in found["callbacks"].items() if isinstance(o, type) and issubclass(o, keras.callbacks.Callback)}
    return found


def _first_line(obj) -> str:
    import inspect

    doc = (inspect.getdoc(obj) or "").split("\n\n")[0].replace("\n", " ")
    return doc.split(". ")[0].rstrip(".") + "."


def _list(arguments) -> int:
    for kind, members in _catalogue().items():
        if arguments.kind not in (None, kind):
            continue
        print(f"{kind}:")
        width = max(len(n) for n in members)
        for name, obj in members.items():
            print(f"  {name:{width}}  {_first_line(obj)}")
    return 0


def _describe(name: str) -> str | None:
    import inspect

    for kind, members in _catalogue().items():
        if name in members:
            if kind == "architectures":
                from zoo import architectures

                return architectures.describe(name)
            obj = members[name]
            signature = inspect.signature(obj)
            return f"{name}{signature}  ({kind[:-1]})\n\n{inspect.getdoc(obj)}"
    return None


def _show(arguments) -> int:
    from zoo.builders.run.model import build_model
    from zoo.builders.spec.document import load_spec

    if not os.path.exists(arguments.spec) and not arguments.spec.endswith((".yaml", ".yml")):
        text = _describe(arguments.spec)
        if text is None:
            from zoo.builders.spec.errors import SpecError, closest

            names = [n for members in _catalogue().values() for n in members]
            raise SpecError(f"{arguments.spec!r} is neither a spec file nor a zoo name; see `zoo list`.", suggestions=closest(arguments.spec, names))
        print(text)
        return 0
    spec = load_spec(arguments.spec, arguments.overrides)
    print(spec.to_yaml())
    build_model(spec).summary()
    return 0


def _schema(arguments) -> int:
    from zoo.builders.spec.schema import editor_schema

    print(json.dumps(editor_schema(), indent=2))
    return 0


def _evaluate(arguments) -> int:
    from zoo.builders.spec.loader import parse_yaml
    from zoo.builders.tools.inference import evaluate

    source = parse_yaml(arguments.data, "--data")[0] if arguments.data else None
    results = evaluate(arguments.run_dir, source)
    for key, value in results.items():
        print(f"{key:16}{value:>12.4f}" if isinstance(value, float) else f"{key:16}{value:>12}")
    return 0


def _predict(arguments) -> int:
    import numpy as np

    from zoo.builders.spec.errors import RunError
    from zoo.builders.tools.inference import class_names as names_of
    from zoo.builders.tools.inference import predict

    if arguments.output and os.path.isdir(arguments.output):
        raise RunError(f"--output {arguments.output} is a directory: name a file.")
    predictions = predict(arguments.run_dir, arguments.input, allow_nan=arguments.allow_nan)
    class_names = names_of(arguments.run_dir)
    rows = predictions.reshape(len(predictions), -1)
    header = ["class"] + [f"p{i}" for i in range(rows.shape[1])] if rows.shape[1] > 1 else ["prediction"]
    if class_names and rows.shape[1] > 1:
        header = ["class", "name"] + [f"p{i}" for i in range(rows.shape[1])]
    lines = [",".join(header)]
    for row in rows:
        values = [str(int(np.argmax(row)))] if rows.shape[1] > 1 else []
        if class_names and rows.shape[1] > 1:
            values.append(str(class_names[int(np.argmax(row))]))
        lines.append(",".join(values + [f"{v:.6g}" for v in row]))
    text = "\n".join(lines) + "\n"
    if arguments.output:
        from zoo.builders.run.files import write_text

        write_text(arguments.output, text)
    else:
        sys.stdout.write(text)
    return 0


def _export(arguments) -> int:
    from zoo.builders.tools.export import export_run

    result = export_run(arguments.run_dir, arguments.format, arguments.output)
    print(f"exported {arguments.format} to {result['output']}: its predictions on {result['rows_checked']} rows of the "
          f"run's data match the Keras model's (largest difference {result['max_abs_difference']:.2g})")
    return 0


def _compare(arguments) -> int:
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


_COMMANDS = {
    "export": _export,
    "reproduce": _reproduce,
    "compare": _compare,
    "train": _train,
    "validate": _validate,
    "show": _show,
    "list": _list,
    "schema": _schema,
    "evaluate": _evaluate,
    "predict": _predict,
    "tune": _tune,
    "doctor": _doctor,
    "lr-find": _lr_find,
    "learning-curve": _learning_curve,
    "ensemble": _ensemble,
}

if __name__ == "__main__":
    sys.exit(main())
