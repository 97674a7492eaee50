"""What this machine's accelerator does with keras-zoo: run it on any GPU box, JAX-only included.

    KERAS_BACKEND=jax python scripts/gpu_check.py            # the full check, about 5-10 minutes on a GPU
    KERAS_BACKEND=jax python scripts/gpu_check.py --tiny     # small sizes: a dry run in about a minute, on a CPU too

It prints, and writes to reports/GPU.md (or --report):
  1. the backend, the versions and the devices;
  2. samples/s of the 784-256-256-10 MLP built from a spec against the same model written
     by hand, fed the same batches with the same compile settings: at batch 256, then at a
     GPU-sized batch with steps_per_execution; with the ratio, and the FLOP/s achieved
     against the device's peak where the table below knows the device;
  3. the MNIST-1D Hyperband search (specs/mnist1d_tune.yaml) with 1 worker and with
     --workers N (`zoo tune --workers N`): wall time and trials per minute;
  4. the MNIST-1D CNN (specs/mnist1d_cnn.yaml) trained from its spec: test accuracy and time.

Nothing needs TensorFlow (in-memory data, TensorBoard off), and nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# JAX takes 75% of the GPU's memory at its first use by default: this process would then hold it all through the
# searches, whose processes (4 workers at 0.9/4 each) could not start their CUDA backend. Grow as needed instead.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

ROOT = Path(__file__).resolve().parents[1]

# Dense float32 peaks in TFLOP/s from the vendors' data sheets: (plain FP32, TF32 tensor cores, which JAX's default
# matmul precision may use for float32 on these cards). Unknown devices get no percentage.
PEAK_TFLOPS = {
    "H200": (67.0, 494.7),
    "H100 80GB HBM3": (67.0, 494.7),
    "H100 PCIe": (51.0, 378.0),
    "A100": (19.5, 156.0),
    "L4": (30.3, 60.0),
    "T4": (8.1, None),
}
# Multiply-adds of the MLP per sample, forward; a training step is about 3x (forward, two backward products).
MLP_FLOPS_PER_SAMPLE = 3 * 2 * (784 * 256 + 256 * 256 + 256 * 10)

MLP_SPEC = """version: 1
name: gpu_check_mlp
seed: 0
data: {{source: {{npz: {npz}}}, batch_size: {batch}, shuffle: true}}
model:
  defaults: {{activation: relu, kernel_initializer: he_normal}}
  layers:
    - Dense: {{units: 256}}
    - Dense: {{units: 256}}
    - Dense: {{units: 10, activation: softmax}}
train: {{optimizer: adam, loss: sparse_categorical_crossentropy, metrics: [accuracy]}}
runtime: {{steps_per_execution: {steps}}}
output: {{tensorboard: false, plots: false}}
"""


def environment() -> dict:
    import keras

    info = {"backend": keras.backend.backend(), "keras": keras.__version__, "python": platform.python_version(),
            "devices": keras.distribution.list_devices(), "device_kind": None}
    if info["backend"] == "jax":
        import jax

        info["jax"] = jax.__version__
        info["device_kind"] = jax.devices()[0].device_kind
    try:
        import tensorflow as tf

        info["tensorflow"] = tf.__version__ if info["backend"] == "tensorflow" else f"{tf.__version__} (installed, not the backend)"
    except ImportError:
        info["tensorflow"] = "not installed"
    info["accelerated"] = any(not d.startswith("cpu") for d in info["devices"])
    return info


def peak(kind: str | None) -> tuple | None:
    for name, value in PEAK_TFLOPS.items():
        if kind and name in kind:
            return value
    return None


def throughput(directory: Path, rows: int, batch: int, steps: int, repeats: int) -> dict:
    """Samples/s of the spec-built and the hand-written MLP on the same batches, epochs interleaved; best of `repeats`."""
    import keras
    import numpy as np

    from zoo.builders.run.plan import build_plan
    from zoo.builders.spec.document import load_spec

    sys.path.insert(0, str(ROOT / "scripts"))
    from benchmark_training import hand_written  # the same hand-written MLP as the CPU benchmark

    npz = directory / f"mlp_{rows}.npz"
    if not npz.exists():
        rng = np.random.default_rng(0)
        np.savez(npz, x=rng.normal(size=(rows, 784)).astype("float32"), y=rng.integers(0, 10, rows).astype("int32"))
    plan = build_plan(load_spec(MLP_SPEC.format(npz=npz, batch=batch, steps=steps)))
    models = {"spec": plan.model, "hand": hand_written(steps)}
    times: dict[str, list[float]] = {"spec": [], "hand": []}
    for model in models.values():  # compile and warm up
        model.fit(plan.data.train, epochs=1, verbose=0)
    for _ in range(repeats):
        for name, model in models.items():
            started = time.perf_counter()
            model.fit(plan.data.train, epochs=1, verbose=0)
            times[name].append(time.perf_counter() - started)
    served = plan.data.train.rows
    result = {"batch": batch, "steps_per_execution": steps, "rows": served,
              **{name: served / min(values) for name, values in times.items()}}
    result["ratio"] = result["spec"] / result["hand"]
    result["tflops"] = result["spec"] * MLP_FLOPS_PER_SAMPLE / 1e12
    keras.backend.clear_session()
    return result


def search(directory: Path, workers: int, tiny: bool, accelerated: bool) -> dict:
    """`zoo tune specs/mnist1d_tune.yaml --workers N` in a fresh directory: wall time and trials per minute."""
    folder = directory / f"search_{workers}"
    shutil.rmtree(folder, ignore_errors=True)
    overrides = [f"tune.directory={folder}", "tune.project_name=mnist1d"]
    if tiny:
        overrides += ["data.source.mnist1d.num_samples=300", "tune.tuner=RandomSearch", "tune.max_trials=2", "train.epochs=1"]
    command = [sys.executable, "-m", "zoo.builders.cli.main", "tune", str(ROOT / "specs" / "mnist1d_tune.yaml"), *overrides,
               "--workers", str(workers)]
    started = time.perf_counter()
    # keras-zoo as installed (pip install -e ., or a wheel on PYTHONPATH): the repository's root on the path would
    # shadow the installed `zoo` with a copy that lacks zoo.builders
    env = dict(os.environ)
    if accelerated and env.get("KERAS_BACKEND") == "jax":
        env.setdefault("JAX_PLATFORMS", "cuda")  # a worker that cannot reach the GPU fails, never falls back to the CPU
    result = subprocess.run(command, capture_output=True, text=True, cwd=directory, timeout=3600, env=env)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"the search with {workers} worker(s) failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    summary = json.loads((folder / "mnist1d" / "results.json").read_text())
    done = [t for t in summary["trials"] if t["status"] == "COMPLETED"]
    best = summary.get("best") or {}
    return {"workers": workers, "trials": len(done), "wall_s": wall, "trials_per_minute": 60 * len(done) / wall,
            "best": best.get("score")}


def cnn(directory: Path, tiny: bool) -> dict:
    from zoo.builders.run.train import train

    overrides = ["output.tensorboard=false", "output.plots=false"] + (["train.epochs=1", "data.source.mnist1d.num_samples=300"] if tiny else [])
    started = time.perf_counter()
    result = train(str(ROOT / "specs" / "mnist1d_cnn.yaml"), overrides, run_dir=directory / "cnn", quiet=True)
    return {"epochs": result.epochs_run, "wall_s": time.perf_counter() - started,
            "test_accuracy": result.metrics.get("test_accuracy")}


def report(env: dict, rates: list[dict], searches: list[dict], trained: dict, tiny: bool) -> str:
    device = env["device_kind"] or ", ".join(env["devices"])
    lines = [f"# GPU check: {device}", ""]
    if not env["accelerated"]:
        lines += ["**No GPU was found on this machine**: every figure below is from its CPU "
                  f"({', '.join(env['devices'])}). Run `KERAS_BACKEND=jax python scripts/gpu_check.py` on a GPU machine "
                  "to replace this report.", ""]
    if tiny:
        lines += ["*A dry run (`--tiny`): sizes too small for the figures to mean anything.*", ""]
    lines += [f"- backend {env['backend']}, Keras {env['keras']}, "
              + (f"JAX {env['jax']}, " if "jax" in env else "") + f"TensorFlow {env['tensorflow']}, Python {env['python']}",
              f"- devices: {', '.join(env['devices'])}; {os.cpu_count()} CPU cores", f"- written {time.strftime('%Y-%m-%d %H:%M')} by `python scripts/gpu_check.py"
              + (" --tiny" if tiny else "") + f" --workers {searches[-1]['workers']}`", "",
              "## Spec-built vs hand-written 784-256-256-10 MLP (same batches, same compile settings)", "",
              "| batch | steps/execution | spec-built samples/s | hand-written samples/s | ratio | spec-built TFLOP/s | of peak |",
              "|---:|---:|---:|---:|---:|---:|---|"]
    peaks = peak(env["device_kind"]) if env["accelerated"] else None
    for r in rates:
        share = "unknown device" if not peaks else f"{r['tflops'] / peaks[0]:.1%} of FP32 {peaks[0]:g}" + (
            f", {r['tflops'] / peaks[1]:.1%} of TF32 {peaks[1]:g}" if peaks[1] else "")
        lines.append(f"| {r['batch']} | {r['steps_per_execution']} | {r['spec']:,.0f} | {r['hand']:,.0f} | {r['ratio']:.3f} | "
                     f"{r['tflops']:.3f} | {share if env['accelerated'] else 'CPU'} |")
    lines += ["", "## MNIST-1D search (specs/mnist1d_tune.yaml), `zoo tune --workers N`", "",
              "| workers | trials | wall time | trials/minute | best val_accuracy |", "|---:|---:|---:|---:|---:|"]
    for s in searches:
        lines.append(f"| {s['workers']} | {s['trials']} | {s['wall_s']:.0f} s | {s['trials_per_minute']:.1f} | "
                     f"{s['best'] if s['best'] is None else format(s['best'], '.4f')} |")
    if len(searches) > 1:
        lines += ["", f"{searches[-1]['workers']} workers: {searches[-1]['trials_per_minute'] / searches[0]['trials_per_minute']:.2f}x "
                  "the trials per minute of one."]
    lines += ["", "## MNIST-1D CNN (specs/mnist1d_cnn.yaml)", "",
              f"{trained['epochs']} epochs in {trained['wall_s']:.0f} s, test accuracy "
              f"{trained['test_accuracy'] if trained['test_accuracy'] is None else format(trained['test_accuracy'], '.3f')}.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="small sizes: a dry run that finishes in about a minute")
    parser.add_argument("--workers", type=int, default=4, help="parallel workers for the second search (default 4)")
    parser.add_argument("--big-batch", type=int, default=8192, help="the GPU-sized batch (default 8192)")
    parser.add_argument("--steps", type=int, default=16, help="steps_per_execution at the big batch (default 16)")
    parser.add_argument("--report", type=Path, default=ROOT / "reports" / "GPU.md")
    arguments = parser.parse_args(argv)
    env = environment()
    print(f"backend {env['backend']}; devices {', '.join(env['devices'])}; device kind {env['device_kind']}", flush=True)
    rows, repeats = (1024, 1) if arguments.tiny else (262_144, 5)
    big = min(arguments.big_batch, 512) if arguments.tiny else arguments.big_batch
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as scratch:
        directory = Path(scratch)
        rates = []
        for batch, steps in ((256, 1), (big, 1 if arguments.tiny else arguments.steps)):
            rates.append(throughput(directory, rows, batch, steps, repeats))
            r = rates[-1]
            print(f"MLP batch {batch}, steps_per_execution {steps}: spec-built {r['spec']:,.0f} samples/s, hand-written "
                  f"{r['hand']:,.0f}, ratio {r['ratio']:.3f}, {r['tflops']:.3f} TFLOP/s", flush=True)
        searches = []
        for workers in (1, arguments.workers):
            searches.append(search(directory, workers, arguments.tiny, env["accelerated"]))
            s = searches[-1]
            print(f"MNIST-1D search, {workers} worker(s): {s['trials']} trials in {s['wall_s']:.0f} s, "
                  f"{s['trials_per_minute']:.1f} trials/minute", flush=True)
        trained = cnn(directory, arguments.tiny)
        print(f"MNIST-1D CNN: {trained['epochs']} epochs in {trained['wall_s']:.0f} s, test accuracy {trained['test_accuracy']}",
              flush=True)
    arguments.report.parent.mkdir(parents=True, exist_ok=True)
    arguments.report.write_text(report(env, rates, searches, trained, arguments.tiny))
    print(f"written: {arguments.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
