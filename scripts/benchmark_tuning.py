"""Tuning benchmarks, side by side in one run.

  (a) per-trial overhead: the same RandomSearch (digits MLP, searched width and learning
      rate) run by `zoo tune` from a spec and written directly with KerasTuner, runs
      interleaved; prints wall time per trial and the ratio (target <= 1.05);
  (b) Hyperband against RandomSearch at an equal epoch budget on MNIST-1D
      (specs/mnist1d_tune.yaml; mnist1d's make_dataset, generated locally):
      best validation accuracy and wall time per tuner, per seed and averaged.

Usage: python scripts/benchmark_tuning.py [--trials 10] [--epochs 5] [--repeats 3] [--skip-mnist1d] [--seeds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import keras_tuner

from zoo.builders.data.load import load_data
from zoo.builders.search._keras_tuner import hyperband_rounds
from zoo.builders.search.hypermodel import build_hypermodel
from zoo.builders.search.tune import make_tuner, tune
from zoo.builders.spec.document import load_spec

ROOT = Path(__file__).resolve().parents[1]

SPEC = """version: 1
name: overhead
seed: 3
data: {{source: {{sklearn: digits}}, validation_split: 0.2, rescale: 0.0625, batch_size: 64, shuffle: false}}
model:
  layers:
    - Dense: {{units: {{hp: Int, min_value: 32, max_value: 256, step: 32, name: units}}, activation: relu}}
    - Dense: {{units: 10, activation: softmax}}
train:
  optimizer: {{Adam: {{learning_rate: {{hp: Choice, values: [0.001, 0.003, 0.01], name: learning_rate}}}}}}
  metrics: [accuracy]
  epochs: {epochs}
tune: {{tuner: RandomSearch, objective: val_accuracy, max_trials: {trials}, directory: {directory}}}
output: {{tensorboard: false}}
"""


def run_spec(trials: int, epochs: int, directory: str) -> float:
    spec = load_spec(SPEC.format(trials=trials, epochs=epochs, directory=directory))
    started = time.perf_counter()
    tune(spec, overwrite=True, report=lambda *_: None)
    return time.perf_counter() - started


def run_direct(trials: int, epochs: int, directory: str, arrays) -> float:
    (x, y), (x_val, y_val) = arrays

    def build(hp):
        model = keras.Sequential([
            keras.Input((64,)),
            keras.layers.Rescaling(0.0625),
            keras.layers.Dense(hp.Int("units", 32, 256, step=32), activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ])
        model.compile(optimizer=keras.optimizers.Adam(hp.Choice("learning_rate", [0.001, 0.003, 0.01])),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    started = time.perf_counter()
    tuner = keras_tuner.RandomSearch(build, objective="val_accuracy", max_trials=trials, seed=3,
                                     directory=directory, project_name="direct", overwrite=True)
    tuner.search(x, y, validation_data=(x_val, y_val), batch_size=64, epochs=epochs, shuffle=False, verbose=0)
    tuner.get_best_hyperparameters(1)
    return time.perf_counter() - started


def overhead(trials: int, epochs: int, repeats: int) -> None:
    spec = load_spec(SPEC.format(trials=trials, epochs=epochs, directory="unused"))
    arrays = tuple(load_data(spec.with_hyperparameters()).arrays[name] for name in ("train", "validation"))
    spec_times, direct_times = [], []
    with tempfile.TemporaryDirectory() as directory:
        run_direct(2, 1, directory, arrays)  # warm up TensorFlow and KerasTuner once for both
        for repeat in range(repeats):
            order = [("spec", run_spec), ("direct", run_direct)] if repeat % 2 == 0 else [("direct", run_direct), ("spec", run_spec)]
            for name, run in order:
                seconds = run(trials, epochs, directory) if name == "spec" else run(trials, epochs, directory, arrays)
                (spec_times if name == "spec" else direct_times).append(seconds)
                print(f"  run {repeat + 1} {name:6} {seconds:6.2f} s ({seconds / trials:.3f} s/trial)", flush=True)
    best = min(spec_times) / min(direct_times)
    median = statistics.median(spec_times) / statistics.median(direct_times)
    print(f"(a) per-trial wall time, {trials} trials x {epochs} epochs: zoo tune {min(spec_times) / trials:.3f} s, "
          f"KerasTuner directly {min(direct_times) / trials:.3f} s; ratio {best:.3f} best-of-{repeats} "
          f"(median {median:.3f}), target <= 1.05")


def hyperband_vs_random(seeds: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        spec = load_spec(ROOT / "specs" / "mnist1d_tune.yaml", [f"tune.directory={directory}"])
        counting = load_spec(ROOT / "specs" / "mnist1d_tune.yaml", [f"tune.directory={directory}/count"])
        hyperband = make_tuner(counting, build_hypermodel(counting))  # only counts the epochs of its brackets
        epochs = 0
        for rounds in hyperband_rounds(hyperband.oracle):  # (trials, epochs each reaches) per round of each bracket
            previous = 0
            for size, total in rounds:
                epochs += size * (total - previous)
                previous = total
        per_trial = spec.get("train", "epochs")
        random_trials = epochs // per_trial
        runs = {
            "Hyperband": [],
            "RandomSearch": ["tune.tuner={RandomSearch: {}}", f"tune.max_trials={random_trials}"],
        }
        print(f"(b) MNIST-1D, equal budget of about {epochs} epochs (Hyperband max_epochs=9, factor=3: {epochs} epochs; "
              f"RandomSearch {random_trials} trials x {per_trial} epochs = {random_trials * per_trial}), seeds 0..{seeds - 1}:")
        results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in runs}
        for seed in range(seeds):  # the seed drives the tuner's sampling and every trial's initialization
            for name, overrides in runs.items():
                started = time.perf_counter()
                summary = tune(ROOT / "specs" / "mnist1d_tune.yaml",
                               [*overrides, f"seed={seed}", f"tune.directory={directory}", f"tune.project_name={name}-{seed}"],
                               report=lambda *_: None)
                results[name].append((summary["best"]["score"], time.perf_counter() - started, len(summary["trials"])))
                score, seconds, trials = results[name][-1]
                print(f"  seed {seed}  {name:13} best val_accuracy {score:.4f}  ({trials} trials, {seconds:.0f} s)", flush=True)
        for name, rows in results.items():
            scores = [row[0] for row in rows]
            spread = statistics.stdev(scores) if len(scores) > 1 else 0.0
            print(f"  {name:13} best val_accuracy {statistics.mean(scores):.4f} +/- {spread:.4f} over {len(scores)} seed(s), "
                  f"{statistics.mean(row[1] for row in rows):.0f} s per search")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-mnist1d", action="store_true")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the Hyperband/RandomSearch comparison")
    arguments = parser.parse_args()
    overhead(arguments.trials, arguments.epochs, arguments.repeats)
    if not arguments.skip_mnist1d:
        hyperband_vs_random(arguments.seeds)


if __name__ == "__main__":
    main()
