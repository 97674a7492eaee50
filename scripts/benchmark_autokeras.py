"""AutoKeras against `zoo tune` on MNIST-1D, at equal wall-clock budgets on the same machine.

AutoKeras is never a dependency of keras-zoo: install it beside it, in its own environment
(it needs only Keras, KerasTuner, dm-tree and packaging), and run this script there:

    python -m venv --system-site-packages .venv-autokeras
    .venv-autokeras/bin/pip install 'keras-zoo[autokeras]'   # or: pip install autokeras==3.0.0 dm-tree
    .venv-autokeras/bin/python scripts/benchmark_autokeras.py [--seeds 10 11 12] [--trials 10]

For each seed: AutoKeras's `AutoModel` with a `ConvBlock` and a `ClassificationHead` searches
for `--trials` trials (then refits its best model, as `AutoModel.fit` does) and its wall time T
is measured; `zoo tune specs/mnist1d_tune.yaml` then gets the same T in all: its search stops
starting trials at 40% of T and its best configuration is retrained for the spec's epochs (the
rest of T; the total is measured and reported). AutoKeras's `StructuredDataClassifier` runs too,
with the same trials and epochs, on the 40 values as table columns. All are scored on mnist1d's
own test split (1000 rows); all hold out 10% of the 4000 training rows for validation. Written to
reports/AUTOKERAS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SEARCH_SHARE = 0.40  # of the budget, for zoo's search (a trial running at its end finishes); the rest retrains the best
WORKAROUNDS = ("none", "Dense units cast to int", "one-hot labels")  # tried in turn until AutoKeras runs
AUTOKERAS_KINDS = {"conv": "AutoModel(ConvBlock)", "structured": "StructuredDataClassifier"}


def mnist1d() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """mnist1d's default dataset (generated locally, never downloaded), as the zoo's `mnist1d` source reads it."""
    from mnist1d.data import get_dataset_args, make_dataset

    arguments = get_dataset_args(as_dict=True)

    class _Args(dict):
        __getattr__ = dict.__getitem__

    made = make_dataset(_Args(arguments))
    return (np.asarray(made["x"], "float32")[..., None], np.asarray(made["y"], "int32"),
            np.asarray(made["x_test"], "float32")[..., None], np.asarray(made["y_test"], "int32"))


def run_autokeras(seed: int, trials: int, epochs: int, directory: Path, one_hot: bool, structured: bool = False) -> dict:
    """AutoKeras's ConvBlock search (or, with `structured`, its StructuredDataClassifier on the 40 values as
    columns): test accuracy, wall time of `fit` (search and final refit) and trials run."""
    import autokeras as ak
    import keras

    x, y, x_test, y_test = mnist1d()
    if one_hot:
        y, y_test = keras.utils.to_categorical(y, 10), keras.utils.to_categorical(y_test, 10)
    keras.utils.set_random_seed(seed)
    common = {"max_trials": trials, "overwrite": True, "seed": seed, "directory": str(directory),
              "objective": "val_accuracy"}
    if structured:
        x, x_test = x[..., 0], x_test[..., 0]
        model = ak.StructuredDataClassifier(project_name=f"autokeras-structured-{seed}", **common)
    else:
        inputs = ak.Input()
        outputs = ak.ClassificationHead()(ak.ConvBlock()(inputs))
        model = ak.AutoModel(inputs=inputs, outputs=outputs, project_name=f"autokeras-{seed}", **common)
    started = time.perf_counter()
    model.fit(x, y, epochs=epochs, validation_split=0.1, verbose=0)
    seconds = time.perf_counter() - started
    # Scored from the exported model's predictions, so the labels' form (integers or one-hot) does not matter.
    predicted = np.argmax(model.export_model().predict(x_test, verbose=0), axis=-1)
    accuracy = np.mean(predicted == (np.argmax(y_test, axis=-1) if one_hot else y_test))
    return {"seconds": seconds, "trials": len(model.tuner.oracle.trials), "test": float(accuracy)}


def patch_autokeras() -> None:
    """AutoKeras 3.0.0's heads pass the label shape's last entry, a NumPy int64, as `Dense(units)`, which Keras 3.15
    refuses (`units` must be a Python int): the heads get a `layers` whose Dense casts it."""
    import autokeras.blocks.heads as heads
    import keras

    class _Layers:
        def __getattr__(self, name):
            return getattr(keras.layers, name)

        @staticmethod
        def Dense(units, *args, **kwargs):  # noqa: N802 - keras.layers.Dense's name
            return keras.layers.Dense(int(units), *args, **kwargs)

    heads.layers = _Layers()


def run_zoo(seed: int, budget: float, directory: Path) -> dict:
    from zoo.builders.run.train import train
    from zoo.builders.search.tune import tune
    from zoo.builders.spec.document import load_spec

    spec = ROOT / "specs" / "mnist1d_tune.yaml"
    started = time.perf_counter()
    summary = tune(spec, [f"seed={seed}", f"tune.max_time={SEARCH_SHARE * budget:.0f}", f"tune.directory={directory}",
                          f"tune.project_name=zoo-{seed}", "output.tensorboard=false", "output.plots=false"],
                   report=lambda *_: None)
    best = Path(summary["directory"]) / "best.yaml"
    epochs = load_spec(spec).get("train", "epochs")
    result = train(best, [f"train.epochs={epochs}", "output.plots=false"], run_dir=directory / f"zoo-best-{seed}", quiet=True)
    return {"seconds": time.perf_counter() - started, "trials": len(summary["trials"]),
            "test": float(result.metrics["test_accuracy"])}


def _stats(values: list[float]) -> str:
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def report(rows: list[dict], failures: list[str], arguments, target: Path) -> Path:
    import keras
    import keras_tuner

    try:
        import autokeras

        version = autokeras.__version__
    except ImportError:
        version = "not installed"
    lines = ["# AutoKeras against zoo tune on MNIST-1D", "",
             f"Generated by `python scripts/benchmark_autokeras.py` on {time.strftime('%Y-%m-%d')}: "
             f"{platform.machine()}, {os.cpu_count()} CPU cores, Keras {keras.__version__}, KerasTuner "
             f"{keras_tuner.__version__}, AutoKeras {version}.", "",
             f"Per seed: AutoKeras `AutoModel(ConvBlock -> ClassificationHead)`, {arguments.trials} trials of up to "
             f"{arguments.epochs} epochs and its final refit, wall time T; then `zoo tune specs/mnist1d_tune.yaml` "
             f"with `tune.max_time` = {SEARCH_SHARE:.0%} of T and its best configuration retrained for the spec's epochs "
             "(the zoo's wall time is all of it, search and retraining); then AutoKeras's `StructuredDataClassifier` "
             "with the same trials and epochs, on the 40 values as columns. Test accuracy on mnist1d's test split "
             "(1000 rows).", ""]
    if failures:
        lines += ["AutoKeras failures, in order, each followed by the next workaround "
                  "(none; `Dense` units cast to int in AutoKeras's heads; one-hot labels):", ""] + [f"- {f}" for f in failures] + [""]
    if rows:
        lines += ["| seed | AutoKeras ConvBlock test | trials | wall time | zoo test | trials | wall time | "
                  "AutoKeras structured test | trials | wall time |", "|---|---|---|---|---|---|---|---|---|---|"]
        for row in rows:
            a, z, t = row["autokeras"], row["zoo"], row["structured"]
            structured = f"{t['test']:.3f} | {t['trials']} | {t['seconds']:.0f} s" if t else "failed | - | -"
            lines.append(f"| {row['seed']} | {a['test']:.3f} | {a['trials']} | {a['seconds']:.0f} s | {z['test']:.3f} | "
                         f"{z['trials']} | {z['seconds']:.0f} s | {structured} |")
        ak_mean, zoo_mean = ([r[k]["test"] for r in rows] for k in ("autokeras", "zoo"))
        share = statistics.mean(r["zoo"]["seconds"] / r["autokeras"]["seconds"] for r in rows)
        tables = [r["structured"]["test"] for r in rows if r["structured"]]
        lines += ["", f"Mean over seeds {', '.join(str(r['seed']) for r in rows)}: AutoKeras ConvBlock {_stats(ak_mean)}, "
                  f"zoo {_stats(zoo_mean)}" + (f", AutoKeras structured {_stats(tables)}" if tables else "") +
                  f"; the zoo took {share:.2f}x the ConvBlock search's wall time on average (its search stops starting "
                  "trials at its share of the budget, but the trial running then and the retraining finish). "
                  "The zoo search " + ("matches or beats" if statistics.mean(zoo_mean) >= statistics.mean(ak_mean)
                                       else "falls short of") + " AutoKeras's ConvBlock search here" +
                  (" at no more than its wall time." if share <= 1.0 else f", but took {share:.2f}x its wall time.")]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n")
    return target


def _autokeras(kind: str, seed: int, arguments, directory: Path, working: dict, failures: list[str]) -> dict | None:
    """One AutoKeras run of `kind` (conv or structured), from the workaround that last worked for that kind on;
    each failure is recorded and the next workaround tried. None when none works."""
    for workaround in WORKAROUNDS[WORKAROUNDS.index(working.get(kind, "none")):]:
        if workaround == "none" and working:  # the units cast, once made for another kind, cannot be taken back
            continue
        if workaround != "none":
            patch_autokeras()
        try:
            row = run_autokeras(seed, arguments.trials, arguments.epochs, directory,
                                one_hot=workaround == "one-hot labels", structured=kind == "structured")
            working[kind] = workaround
            print(f"seed {seed}: AutoKeras {kind} test {row['test']:.3f}, {row['trials']} trials, {row['seconds']:.0f} s",
                  flush=True)
            return row
        except Exception as error:  # noqa: BLE001 - the failure is the finding; the next workaround is tried
            text = traceback.format_exception_only(type(error), error)[-1].strip()[:400]
            failures.append(f"{AUTOKERAS_KINDS[kind]}, seed {seed}, workaround {workaround}: `{text}`")
            print(f"AutoKeras {kind} failed (workaround {workaround}): {text}", flush=True)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[10, 11, 12])
    parser.add_argument("--trials", type=int, default=10, help="AutoKeras's max_trials (default 10)")
    parser.add_argument("--epochs", type=int, default=20, help="AutoKeras's epochs per trial (default 20)")
    parser.add_argument("--output", default=str(ROOT / "reports" / "AUTOKERAS.md"))
    arguments = parser.parse_args(argv)
    rows, failures, working = [], [], {}
    with tempfile.TemporaryDirectory() as temporary:
        for seed in arguments.seeds:
            conv = _autokeras("conv", seed, arguments, Path(temporary), working, failures)
            if conv is None:
                break
            zoo_row = run_zoo(seed, conv["seconds"], Path(temporary))
            print(f"seed {seed}: zoo tune test {zoo_row['test']:.3f}, {zoo_row['trials']} trials, {zoo_row['seconds']:.0f} s",
                  flush=True)
            structured = _autokeras("structured", seed, arguments, Path(temporary), working, failures)
            rows.append({"seed": seed, "autokeras": conv, "zoo": zoo_row, "structured": structured})
    print(f"written: {report(rows, failures, arguments, Path(arguments.output))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
