"""The project's benchmarks, written to reports/BENCHMARKS.md.

  (a) builder overhead and training throughput: scripts/benchmark_training.py
      (spec parse/validate/build vs a hand-built model; spec-built vs hand-written
      samples/s, target >= 0.98x), run as it is;
  (b) MNIST-1D (mnist1d's make_dataset, generated locally; its own 4000/1000
      train/test split): the zoo's mlp, cnn, rnn (GRU) and gmlp trained from their
      specs in specs/, then each searched with Hyperband within a stated CPU budget
      and its best configuration retrained; test accuracy against the paper's table.

Usage: python scripts/benchmark.py [--budget 180] [--skip-throughput]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]

# Greydanus (2020), "Scaling down deep learning", MNIST-1D test accuracy.
PAPER = {"logistic regression": 0.32, "MLP": 0.68, "CNN": 0.94, "GRU": 0.91, "human": 0.96}

MODELS = {
    "MLP": ("mnist1d_mlp.yaml", ["model.units={hp: Choice, values: [128, 256, 512]}",
                                 "model.dropout={hp: Float, min_value: 0.0, max_value: 0.4, step: 0.1}"]),
    "CNN": ("mnist1d_cnn.yaml", ["model.filters=[{hp: Choice, values: [16, 32, 64], name: filters_1}, "
                                 "{hp: Choice, values: [32, 64, 128], name: filters_2}, "
                                 "{hp: Choice, values: [64, 128], name: filters_3}]",
                                 "model.dropout={hp: Float, min_value: 0.0, max_value: 0.4, step: 0.1}"]),
    "GRU": ("mnist1d_gru.yaml", ["model.units={hp: Choice, values: [32, 64, 128]}"]),
    "gMLP": ("mnist1d_gmlp.yaml", ["model.width={hp: Choice, values: [32, 64, 128]}",
                                   "model.depth={hp: Int, min_value: 1, max_value: 4}"]),
}


def machine() -> str:
    import keras
    import keras_tuner
    import tensorflow as tf

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores ({cpu}), no GPU; "
            f"Python {platform.python_version()}, TensorFlow {tf.__version__}, Keras {keras.__version__}, "
            f"KerasTuner {keras_tuner.__version__}")


def throughput() -> str:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmark_training.py"), "--repeats", "10"],
                            capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    print("\n".join(lines), flush=True)
    return "\n".join(lines)


def mnist1d(budget: float) -> list[dict]:
    from zoo.builders.train import train
    from zoo.builders.tune import tune

    rows = []
    with tempfile.TemporaryDirectory() as directory:
        for name, (spec_file, space) in MODELS.items():
            spec = ROOT / "specs" / spec_file
            started = time.perf_counter()
            plain = train(spec, ["output.tensorboard=false", "output.plots=false"], run_dir=Path(directory) / f"{name}-spec", quiet=True)
            plain_seconds = time.perf_counter() - started
            optimizer = next(iter(_spec_optimizer(spec)))
            search = [*space, f"train.optimizer.{optimizer}.learning_rate={{hp: Float, min_value: 3.0e-4, max_value: 1.0e-2, sampling: log}}",
                      "tune.tuner={Hyperband: {max_epochs: 9, factor: 3}}", "tune.objective=val_accuracy",
                      f"tune.max_time={budget}", f"tune.directory={directory}", f"tune.project_name={name}",
                      "output.tensorboard=false", "output.plots=false"]
            started = time.perf_counter()
            summary = tune(spec, search, report=lambda *_: None)
            search_seconds = time.perf_counter() - started
            best = Path(summary["directory"]) / "best.yaml"
            # best.yaml trains for the epochs Hyperband gave its best trial; retrain it for the spec's epochs,
            # with the spec's early stopping.
            started = time.perf_counter()
            tuned = train(best, [f"train.epochs={_spec_epochs(spec)}"],
                          run_dir=Path(directory) / f"{name}-tuned", quiet=True)
            tuned_seconds = time.perf_counter() - started
            row = {"model": name, "spec": spec_file, "test": plain.metrics["test_accuracy"], "spec_seconds": plain_seconds,
                   "trials": len(summary["trials"]), "search_seconds": search_seconds, "best_val": summary["best"]["score"],
                   "tuned_test": tuned.metrics["test_accuracy"], "tuned_seconds": tuned_seconds}
            rows.append(row)
            print(f"  {name:5} from spec: test {row['test']:.3f} ({plain_seconds:.0f} s); Hyperband: {row['trials']} trials in "
                  f"{search_seconds:.0f} s, best val {row['best_val']:.3f}; best retrained: test {row['tuned_test']:.3f} "
                  f"({tuned_seconds:.0f} s)", flush=True)
    return rows


def _spec_optimizer(spec: Path) -> dict:
    from zoo.builders.spec import load_spec

    return load_spec(spec).get("train", "optimizer")


def _spec_epochs(spec: Path) -> int:
    from zoo.builders.spec import load_spec

    return load_spec(spec).get("train", "epochs")


def report(machine_text: str, throughput_text: str | None, rows: list[dict], budget: float) -> Path:
    lines = ["# Benchmarks", "", f"Generated by `python scripts/benchmark.py` on {time.strftime('%Y-%m-%d')}.", "",
             f"Machine: {machine_text}.", ""]
    if throughput_text:
        lines += ["## Builder overhead and training throughput", "", "`scripts/benchmark_training.py --repeats 10`:", "",
                  "```", throughput_text, "```", ""]
    lines += ["## MNIST-1D", "",
              "mnist1d's `make_dataset` with its default arguments (4000 training, 1000 test rows), 10% of the "
              "training rows held out for validation; test accuracy on mnist1d's own test split, one run, seed 0. "
              f"Search: one Hyperband iteration (max_epochs 9, factor 3) over the widths, dropout and learning rate, with "
              f"a budget of {budget:g} s of wall time (no trial starts after it; "
              + ("every search here finished within it" if all(r["search_seconds"] < budget for r in rows) else
                 "some searches were cut by it") +
              "), selected on validation accuracy; its best configuration is then retrained for the spec's epochs "
              "and scored on the test split.", "",
              "| model | spec | test accuracy from the spec | wall time | Hyperband trials | search wall time | best val accuracy | test accuracy, best retrained | paper |",
              "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        paper = PAPER.get(row["model"])
        lines.append(f"| {row['model']} | `specs/{row['spec']}` | {row['test']:.3f} | {row['spec_seconds']:.0f} s | {row['trials']} | "
                     f"{row['search_seconds']:.0f} s | {row['best_val']:.3f} | {row['tuned_test']:.3f} | "
                     f"{f'{paper:.2f}' if paper else '-'} |")
    lines += ["", "The paper's rows: " + ", ".join(f"{k} {v:.0%}" for k, v in PAPER.items()) + "."]
    best = max((max(r["test"], r["tuned_test"]), r["model"]) for r in rows) if rows else None
    if best:
        beaten = [k for k, v in PAPER.items() if best[0] > v]
        lines.append(f"Best here: {best[1]} at {best[0]:.3f}, above the paper's {', '.join(beaten) or 'none'} rows"
                     + ("" if "human" in beaten else "; not above the human row") + ".")
    target = ROOT / "reports" / "BENCHMARKS.md"
    target.parent.mkdir(exist_ok=True)
    target.write_text("\n".join(lines) + "\n")
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=180.0, help="seconds of search per model (default 180)")
    parser.add_argument("--skip-throughput", action="store_true")
    arguments = parser.parse_args()
    text = machine()
    print(f"machine: {text}", flush=True)
    throughput_text = None if arguments.skip_throughput else throughput()
    print("(b) MNIST-1D:", flush=True)
    rows = mnist1d(arguments.budget)
    print(f"written: {report(text, throughput_text, rows, arguments.budget)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
