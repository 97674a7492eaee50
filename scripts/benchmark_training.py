"""Builder overhead and input-pipeline throughput, side by side in one process.

  (a) spec parse/validate/build time vs building the same Keras model by hand;
      training samples/s of the spec-built 784-256-256-10 MLP vs the hand-written one
      (target >= 0.98x);
  (b) samples/s of the same MLP fed by the spec's tf.data pipeline from a CSV file
      vs model.fit on in-memory NumPy arrays (target >= 0.9x).

Usage: python scripts/benchmark_training.py [--rows 60000] [--repeats 15]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from zoo.builders.data.load import load_data
from zoo.builders.run.model import build_model
from zoo.builders.spec.document import load_spec

SPEC = """version: 1
seed: 0
data: {{source: {{csv: {csv}, label: label}}, batch_size: 256, shuffle: false}}
model:
  input_shape: [784]
  defaults: {{activation: relu, kernel_initializer: he_normal}}
  layers:
    - Dense: {{units: 256}}
    - Dense: {{units: 256}}
    - Dense: {{units: 10, activation: softmax}}
train: {{optimizer: adam, loss: sparse_categorical_crossentropy, metrics: [accuracy]}}
"""


def hand_written(steps_per_execution: int = 1) -> keras.Model:
    inputs = keras.Input((784,), name="inputs")
    x = keras.layers.Dense(256, activation="relu", kernel_initializer="he_normal")(inputs)
    x = keras.layers.Dense(256, activation="relu", kernel_initializer="he_normal")(x)
    outputs = keras.layers.Dense(10, activation="softmax", kernel_initializer="he_normal")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=steps_per_execution)
    return model


class Timed:
    """One compiled model and its input, warmed up once, then timed an epoch at a time."""

    def __init__(self, model, data, rows: int) -> None:
        if isinstance(data, tuple):
            self.arguments, self.options = data, {"batch_size": 256, "shuffle": False}
        else:
            self.arguments, self.options = (data,), {}
        self.model, self.rows, self.rates = model, rows, []
        self.epoch()  # warm-up: tracing and the first pass over the data
        self.rates.clear()

    def epoch(self) -> None:
        started = time.perf_counter()
        self.model.fit(*self.arguments, epochs=1, verbose=0, **self.options)
        self.rates.append(self.rows / (time.perf_counter() - started))


def ratios(a: Timed, b: Timed) -> str:
    """a's rate over b's: best epoch against best epoch (timeit's rule: the fastest run is the
    one least disturbed by the machine), and the median of back-to-back pairs."""
    best = max(a.rates) / max(b.rates)
    paired = statistics.median(x / y for x, y in zip(a.rates, b.rates))
    return f"ratio {best:.3f} best-of-{len(a.rates)} (median of paired epochs {paired:.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--repeats", type=int, default=15, help="timed epochs per side")
    arguments = parser.parse_args()

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(arguments.rows, 784), dtype=np.uint8)
    labels = rng.integers(0, 10, size=arguments.rows)
    with tempfile.TemporaryDirectory() as folder:
        csv = Path(folder) / "rows.csv"
        header = ",".join(f"p{i}" for i in range(784)) + ",label"
        np.savetxt(csv, np.column_stack([pixels, labels]), fmt="%d", delimiter=",", header=header, comments="")
        text = SPEC.format(csv=csv)

        build_times, hand_times = [], []
        for _ in range(5):
            keras.backend.clear_session()
            started = time.perf_counter()
            spec = load_spec(text)
            build_model(spec)
            build_times.append(time.perf_counter() - started)
            keras.backend.clear_session()
            started = time.perf_counter()
            hand_written()
            hand_times.append(time.perf_counter() - started)
        print(f"(a) parse+validate+build {statistics.median(build_times) * 1000:.1f} ms, "
              f"hand-written build {statistics.median(hand_times) * 1000:.1f} ms")

        spec = load_spec(text)
        started = time.perf_counter()
        data = load_data(spec)
        print(f"    CSV read into a tf.data pipeline: {time.perf_counter() - started:.1f} s for {arguments.rows} rows")
        x, y = data.arrays["train"]
        keras.utils.set_random_seed(0)
        hand = Timed(hand_written(), (x, y), arguments.rows)
        keras.utils.set_random_seed(0)
        control = Timed(hand_written(), (x, y), arguments.rows)  # hand vs hand: the noise floor
        keras.utils.set_random_seed(0)
        built = Timed(build_model(spec), (x, y), arguments.rows)
        keras.utils.set_random_seed(0)
        piped = Timed(build_model(spec), data.train, arguments.rows)
        rng = random.Random(0)
        for _ in range(arguments.repeats):
            # Interleaved epochs in a shuffled order, so drift and warm caches hit every side alike.
            for timed in rng.sample([hand, control, built, piped], 4):
                timed.epoch()
        spec_rate, hand_rate, pipe_rate = (max(t.rates) for t in (built, hand, piped))
        print(f"    training: spec-built {spec_rate:,.0f} samples/s, hand-written {hand_rate:,.0f} samples/s, "
              f"{ratios(built, hand)}, target >= 0.98")
        print(f"    noise floor, hand-written vs an identical hand-written model: {ratios(control, hand)}")
        print(f"(b) tf.data from CSV {pipe_rate:,.0f} samples/s, in-memory NumPy {spec_rate:,.0f} samples/s, "
              f"{ratios(piped, built)}, target >= 0.9")

if __name__ == "__main__":
    main()
