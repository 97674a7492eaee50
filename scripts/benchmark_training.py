"""Builder overhead and input-pipeline throughput, side by side in one process.

  (a) spec parse/validate/build time vs building the same Keras model by hand;
      training samples/s of the spec-built 784-256-256-10 MLP vs the hand-written one
      (target >= 0.98x);
  (b) samples/s of the same MLP fed by the spec's tf.data pipeline from a CSV file
      vs model.fit on in-memory NumPy arrays (target >= 0.9x).

Usage: python scripts/benchmark_training.py [--rows 60000] [--epochs 3] [--repeats 3]
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
import numpy as np

from builders.data import load_data
from builders.model import build_model
from builders.spec import load_spec

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


def hand_written() -> keras.Model:
    inputs = keras.Input((784,), name="inputs")
    x = keras.layers.Dense(256, activation="relu", kernel_initializer="he_normal")(inputs)
    x = keras.layers.Dense(256, activation="relu", kernel_initializer="he_normal")(x)
    outputs = keras.layers.Dense(10, activation="softmax", kernel_initializer="he_normal")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def samples_per_second(model, data, rows: int, epochs: int) -> float:
    """Throughput of `model.fit` on arrays `(x, y)` or a batched tf.data pipeline, after a warm-up epoch."""
    if isinstance(data, tuple):
        arguments, options = data, {"batch_size": 256, "shuffle": False}
    else:
        arguments, options = (data,), {}
    model.fit(*arguments, epochs=1, verbose=0, **options)  # warm-up: tracing
    started = time.perf_counter()
    model.fit(*arguments, epochs=epochs, verbose=0, **options)
    return rows * epochs / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
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
        spec_rates, hand_rates, pipeline_rates, numpy_rates = [], [], [], []
        for _ in range(arguments.repeats):  # alternate so drift hits both sides alike
            keras.utils.set_random_seed(0)
            hand_rates.append(samples_per_second(hand_written(), (x, y), arguments.rows, arguments.epochs))
            keras.utils.set_random_seed(0)
            spec_rates.append(samples_per_second(build_model(spec), (x, y), arguments.rows, arguments.epochs))
            keras.utils.set_random_seed(0)
            numpy_rates.append(samples_per_second(build_model(spec), (x, y), arguments.rows, arguments.epochs))
            keras.utils.set_random_seed(0)
            pipeline_rates.append(samples_per_second(build_model(spec), data.train, arguments.rows, arguments.epochs))
        spec_rate, hand_rate = statistics.median(spec_rates), statistics.median(hand_rates)
        pipe_rate, numpy_rate = statistics.median(pipeline_rates), statistics.median(numpy_rates)
        print(f"    training: spec-built {spec_rate:,.0f} samples/s, hand-written {hand_rate:,.0f} samples/s, "
              f"ratio {spec_rate / hand_rate:.3f} (target >= 0.98)")
        print(f"(b) tf.data from CSV {pipe_rate:,.0f} samples/s, in-memory NumPy {numpy_rate:,.0f} samples/s, "
              f"ratio {pipe_rate / numpy_rate:.3f} (target >= 0.9)")


if __name__ == "__main__":
    main()
