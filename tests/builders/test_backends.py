"""Any backend, any device: TensorFlow-free runs on JAX, steps_per_execution, parallel trials, keras.distribution."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.builders.test_tune import _free_port, _trials
from tests.conftest import DIGITS_SPEC, ROOT
from zoo.batches import ArrayBatches, first_batch, map_batches, num_batches, repeat_each
from zoo.builders.run.plan import build_plan
from zoo.builders.spec.document import load_spec
from zoo.builders.spec.errors import SpecError

# Makes TensorFlow (and what needs it) unimportable, as on a JAX-only machine, before anything is imported.
NO_TENSORFLOW = """
import sys
class _NoTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "tensorflow_datasets", "tensorboard"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _NoTensorFlow())
"""


def _python(script: str, cwd: Path, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env={**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT),
                               **(env or {})})


# -- the batches ---------------------------------------------------------------------------------------------------


def _epoch(batches: ArrayBatches) -> list:
    batches.on_epoch_begin()
    rows = [batches[i] for i in range(len(batches))]
    batches.on_epoch_end()
    return rows


# The two JAX passes are the longest tests: here, early in the collection, the two workers start them first.
def test_the_zoo_tests_pass_under_the_jax_backend():
    """The zoo is backend-independent: its test directory runs again with KERAS_BACKEND=jax (all but the
    import-cost tests, which start fresh interpreters whatever the backend, and the tests that train the new
    families and the RBM on digits for several epochs, and the build-train-reload cases of DenseNet, U-Net, the CNN,
    the ResNet, the RNN, the MLP, the autoencoder and the VAE, plain Keras layers whose XLA compilation takes 3-19 s
    each: the zoo layers' contracts, NumPy references, the VAE's KL term and CD gradients run here, and the suite's
    15 minutes have no room for the rest)."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", "tests/zoo",
                             "-k", "not pulls_in_no_builder and not learn_digit_images and not segments_digit_strokes "
                             "and not lowers_its_reconstruction_error and not (trains_saves_and_reloads and "
                             "(densenet or unet or cnn or resnet or rnn or mlp or autoencoder or vae))"],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:]
    assert " passed" in result.stdout.splitlines()[-1] and "failed" not in result.stdout.splitlines()[-1]


def test_the_train_tune_and_doctor_tests_pass_under_the_jax_backend():
    """Runs are backend-neutral: these train and tune tests run again with KERAS_BACKEND=jax."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", *JAX_PASS],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=1200)
    assert result.returncode == 0, result.stdout[-4000:]
    last = result.stdout.strip().splitlines()[-1]
    assert " passed" in last and "failed" not in last and "skipped" not in last, last


def test_array_batches_shuffle_is_a_function_of_seed_and_epoch():
    x = np.arange(50, dtype="float32")[:, None]
    y = np.arange(50)
    batches = ArrayBatches(x, y, 8, shuffle=True, seed=3)
    epochs = [_epoch(batches) for _ in range(3)]
    for epoch in epochs:  # every row once per epoch, x and y still paired
        seen = np.concatenate([b[1] for b in epoch])
        assert sorted(seen.tolist()) == list(range(50))
        assert all(np.array_equal(b[0][:, 0], b[1]) for b in epoch)
    assert [len(b[1]) for b in epochs[0]] == [8] * 6 + [2]
    assert not np.array_equal(np.concatenate([b[1] for b in epochs[0]]), np.concatenate([b[1] for b in epochs[1]]))
    again = ArrayBatches(x, y, 8, shuffle=True, seed=3)
    again.start_at(2)  # a resume at epoch 2 sees what the uninterrupted run saw there
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(_epoch(again), epochs[2]))
    other_seed = _epoch(ArrayBatches(x, y, 8, shuffle=True, seed=4))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(other_seed, epochs[0]))
    with pytest.raises(IndexError):
        batches[7]


def test_array_batches_split_over_devices_and_processes_make_up_the_same_batches():
    x, y = np.arange(50, dtype="float32")[:, None], np.arange(50)
    whole = ArrayBatches(x, y, 8, shuffle=True, seed=1).split_over(4)
    assert [len(b[1]) for b in _epoch(whole)] == [8] * 6  # 50 rows: the last 2 are dropped, not a batch of 2
    shares = [ArrayBatches(x, y, 8, shuffle=True, seed=1).split_over(4, (index, 2)) for index in range(2)]
    whole = ArrayBatches(x, y, 8, shuffle=True, seed=1).split_over(4)
    for full, first, second in zip(_epoch(whole), _epoch(shares[0]), _epoch(shares[1])):
        assert len(first[1]) == len(second[1]) == 4
        assert sorted(np.concatenate([first[1], second[1]]).tolist()) == sorted(full[1].tolist())
    with pytest.raises(ValueError, match="not a multiple"):
        ArrayBatches(x, y, 6, multiple_of=4)


def test_the_feed_helpers_serve_a_py_dataset_and_a_tf_data_pipeline_alike():
    import tensorflow as tf

    x, y = np.arange(20, dtype="float32").reshape(10, 2), np.arange(10)
    for feed in (ArrayBatches(x, y, 4), tf.data.Dataset.from_tensor_slices((x, y)).batch(4)):
        assert num_batches(feed) == 3
        first_x, first_y = first_batch(feed)
        assert np.array_equal(first_x, x[:4]) and np.array_equal(first_y, y[:4])
        swapped = first_batch(map_batches(feed, lambda a, b: (a, a)))
        assert np.array_equal(swapped[1], x[:4])
        doubled = repeat_each(feed, 2)
        assert num_batches(doubled) == 6
        pairs = [np.asarray(b[1]) for b in (doubled if isinstance(doubled, tf.data.Dataset) else
                                             [doubled[i] for i in range(len(doubled))])]
        assert np.array_equal(pairs[0], pairs[1]) and np.array_equal(pairs[2], y[4:8])


# -- no TensorFlow ---------------------------------------------------------------------------------------------------

WITHOUT_TENSORFLOW = NO_TENSORFLOW + """
import json, numpy as np, keras
from zoo import train, tune, evaluate, predict, load_spec, SpecError
from zoo.builders.run.history import read_history
from zoo.builders.tools.doctor import doctor, lr_find
assert keras.backend.backend() == "jax"
text = open("spec.yaml").read()
out = {}
run = train(load_spec(text), run_dir="run", quiet=True)
out["history"] = read_history(run.run_dir / "history.csv")
out["files"] = sorted(p.name for p in run.run_dir.iterdir())
out["evaluate"] = evaluate("run")
from sklearn.datasets import load_digits
np.save("rows.npy", load_digits().data[:7].astype("float32"))
out["predict"] = predict("run", "rows.npy").shape
report = doctor(load_spec(text), run_dir="doctor", epochs=1)
out["doctor"] = [c["check"] for c in report["checks"]]
out["lr_find"] = lr_find(load_spec(text), run_dir="lr", steps=20)["steps_run"]
tuning = text.replace("units: 32", "units: {hp: Int, min_value: 8, max_value: 32, step: 8}") + (
    "tune: {tuner: RandomSearch, max_trials: 3, objective: val_accuracy, directory: search}\\n")
summary = tune(load_spec(tuning), report=lambda *a: None)
out["trials"] = [t["status"] for t in summary["trials"]]
try:
    load_spec(text.replace("{sklearn: digits}", "{tfds: zoo_digits}").replace("  validation_split: 0.2\\n", ""))
    from zoo import validate
    validate(load_spec(text.replace("{sklearn: digits}", "{tfds: zoo_digits}").replace("  validation_split: 0.2\\n", "")))
except SpecError as error:
    out["tfds"] = str(error)
out["tensorflow_imported"] = "tensorflow" in sys.modules
print(json.dumps(out, default=list))
"""


def test_without_tensorflow_train_evaluate_predict_doctor_lr_find_and_tune_run_on_jax(tmp_path):
    """On a JAX machine with no TensorFlow: every command on an in-memory source works; TFDS says what it needs."""
    (tmp_path / "spec.yaml").write_text(DIGITS_SPEC)
    result = _python(WITHOUT_TENSORFLOW, tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["tensorflow_imported"] is False
    assert len(out["history"]) == 2 and out["history"][-1]["val_accuracy"] > 0.5
    assert {"model.keras", "history.csv", "metrics.json", "curves.png"} <= set(out["files"]) and "logs" not in out["files"]
    assert "TensorBoard logs skipped" in result.stderr and result.stderr.count("TensorBoard logs skipped") == 1
    assert out["evaluate"]["split"] == "validation" and out["evaluate"]["accuracy"] > 0.5
    assert out["predict"] == [7, 10]
    assert "overfit a small batch" in out["doctor"]
    assert out["lr_find"] == 20
    assert out["trials"] == ["COMPLETED"] * 3
    assert "data.source.tfds" in out["tfds"] and "needs TensorFlow" in out["tfds"]


# -- steps_per_execution ---------------------------------------------------------------------------------------------


def test_steps_per_execution_reaches_keras_and_trains_the_same_batches():
    class Calls(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.calls = 0

        def on_train_batch_end(self, batch, logs=None):
            self.calls += 1

    losses = {}
    for steps in (1, 4):
        plan = build_plan(load_spec(DIGITS_SPEC.replace("dropout: 0.1", "dropout: 0.0")
                                    + f"runtime: {{steps_per_execution: {steps}, deterministic: true}}\n"))
        assert plan.model.steps_per_execution == steps
        calls = Calls()
        history = plan.fit([calls], verbose=0)
        losses[steps] = history.history["loss"]
        assert calls.calls == 2 * (-(-23 // steps))  # 1437 rows / 64 = 23 batches an epoch, 4 per call
        keras.backend.clear_session()
    np.testing.assert_allclose(losses[1], losses[4], rtol=1e-4)
    auto = build_plan(load_spec(DIGITS_SPEC + "runtime: {steps_per_execution: auto}\n"))
    assert auto.model.steps_per_execution == 1  # a CPU: the step dominates, callbacks see every batch
    with pytest.raises(SpecError, match="steps_per_execution"):
        load_spec(DIGITS_SPEC + "runtime: {steps_per_execution: 0}\n").resolved()


# -- keras.distribution ----------------------------------------------------------------------------------------------

DATA_PARALLEL = """
import json, keras, numpy as np
from zoo.builders.run.plan import build_plan
from zoo.builders.spec.document import load_spec
from zoo.builders.spec.errors import SpecError
text = open("spec.yaml").read()
out = {"devices": keras.distribution.list_devices()}
for name, extra in (("one_device", ""), ("data_parallel", "runtime: {distribution: {DataParallel: {}}}\\n")):
    plan = build_plan(load_spec(text + extra))
    if name == "data_parallel":
        distribution = keras.distribution.distribution()
        out["mesh"] = list(distribution.device_mesh.shape)
        out["variable_devices"] = sorted({len(v.value.sharding.device_set) for v in plan.model.variables})
        out["batch_layout"] = list(distribution.get_data_layout((64, 64)).axes)
    out[name] = plan.fit(verbose=0).history["loss"]
    keras.backend.clear_session()
for bad in ("runtime: {distribution: {DataParallel: {devices: 3}}}", "runtime: {distribution: {DataParallel: {devices: [gpu:0]}}}"):
    try:
        build_plan(load_spec(text + bad + "\\n"))
    except SpecError as error:
        out.setdefault("errors", []).append(str(error))
try:
    build_plan(load_spec(text.replace("batch_size: 64", "batch_size: 63") + "runtime: {distribution: {DataParallel: {}}}\\n"))
except SpecError as error:
    out.setdefault("errors", []).append(str(error))
print(json.dumps(out))
"""


def test_data_parallel_over_two_devices_shards_each_batch_and_trains_like_one_device(tmp_path):
    (tmp_path / "spec.yaml").write_text(DIGITS_SPEC.replace("dropout: 0.1", "dropout: 0.0"))
    result = _python(DATA_PARALLEL, tmp_path, {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    assert result.returncode == 0, result.stderr[-4000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["devices"] == ["cpu:0", "cpu:1"] and out["mesh"] == [2]
    assert out["variable_devices"] == [2]  # every variable replicated on both devices
    assert out["batch_layout"][0] == "batch"  # each batch split along its rows
    np.testing.assert_allclose(out["data_parallel"], out["one_device"], rtol=1e-4)
    assert "runtime.distribution.DataParallel.devices: 3 devices asked for, 2 present" in out["errors"][0]
    assert "no device 'gpu:0'" in out["errors"][1]
    assert "data.batch_size" in out["errors"][2] and "2 divides" in out["errors"][2]


def test_data_parallel_is_refused_on_tensorflow_with_what_to_use():
    with pytest.raises(SpecError, match="runtime.distribution: keras.distribution runs on the JAX backend.*mirrored"):
        build_plan(load_spec(DIGITS_SPEC + "runtime: {distribution: {DataParallel: {}}}\n"))


def test_data_parallel_over_two_processes_on_loopback_trains_like_one_process_with_two_devices(tmp_path):
    """keras.distribution.initialize over 127.0.0.1 (JAX's gloo collectives on CPU): each process feeds its share."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(DIGITS_SPEC.replace("dropout: 0.1", "dropout: 0.0")
                    + "runtime: {distribution: {DataParallel: {}}}\noutput: {tensorboard: false, plots: false}\n")
    base = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    address = f"127.0.0.1:{_free_port()}"
    processes = [subprocess.Popen(
        [sys.executable, "-m", "zoo.builders.cli.main", "train", str(spec), "--run-dir", str(tmp_path / f"process{i}"), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
        env={**base, "KERAS_DISTRIBUTION_JOB_ADDRESSES": address, "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
             "KERAS_DISTRIBUTION_PROCESS_ID": str(i)}) for i in range(2)]
    try:
        outputs = [p.communicate(timeout=300)[0] for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    assert all(p.returncode == 0 for p in processes), outputs[0][-3000:] + outputs[1][-3000:]
    single = subprocess.run([sys.executable, "-m", "zoo.builders.cli.main", "train", str(spec), "--run-dir",
                             str(tmp_path / "single"), "--quiet"], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                            env={**base, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    assert single.returncode == 0, single.stderr[-3000:]
    from zoo.builders.run.history import read_history

    expected = read_history(tmp_path / "single" / "history.csv")
    for i in range(2):
        got = read_history(tmp_path / f"process{i}" / "history.csv")
        assert len(got) == len(expected) == 2
        for row, want in zip(got, expected):
            for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
                assert row[key] == pytest.approx(want[key], rel=1e-4), (i, key)


# -- parallel trials -------------------------------------------------------------------------------------------------

TUNE_SPEC = DIGITS_SPEC.replace("units: 32", "units: {hp: Int, min_value: 8, max_value: 64, step: 8}").replace(
    "learning_rate: 1.0e-3", "learning_rate: {hp: Float, min_value: 1.0e-4, max_value: 1.0e-2, sampling: log}") + """\
tune: {tuner: RandomSearch, max_trials: 4, objective: val_accuracy, directory: search, project_name: p}
output: {tensorboard: false}
"""


def _zoo_tune(tmp_path: Path, *arguments: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "zoo.builders.cli.main", "tune", "spec.yaml", *arguments],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path, start_new_session=True,
                            env={**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)})


def _children(pid: int) -> list[int]:
    listing = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in listing.split()]


@pytest.mark.slow  # about 2 minutes under the suite's load; chief and workers on loopback stay in the default run (test_tune.py)
def test_two_workers_run_every_trial_once_survive_ctrl_c_and_find_the_single_worker_trials(tmp_path):
    single_dir, parallel_dir = tmp_path / "single", tmp_path / "parallel"
    for folder in (single_dir, parallel_dir):
        folder.mkdir()
        (folder / "spec.yaml").write_text(TUNE_SPEC)
    single = _zoo_tune(single_dir)
    parallel = _zoo_tune(parallel_dir, "--workers", "2")
    try:
        search = parallel_dir / "search" / "p"
        deadline = time.time() + 300
        while time.time() < deadline and not any(t["status"] == "COMPLETED" for t in _trials(search).values()):
            time.sleep(0.2)
        children = _children(parallel.pid)
        assert len(children) == 3  # a chief and two workers
        os.kill(parallel.pid, signal.SIGINT)  # Ctrl-C
        output, _ = parallel.communicate(timeout=60)
        assert parallel.returncode == 130, output[-3000:]
        assert "interrupted: every process stopped" in output
        assert all(not Path(f"/proc/{child}").exists() for child in children)
        kept = {name: t for name, t in _trials(search).items() if t["status"] == "COMPLETED"}
        assert 1 <= len(kept) < 4
        resumed = _zoo_tune(parallel_dir, "--workers", "2", "--resume")
        output, _ = resumed.communicate(timeout=400)
        assert resumed.returncode == 0, output[-3000:]
        single_output, _ = single.communicate(timeout=400)
        assert single.returncode == 0, single_output[-3000:]
    finally:
        for process in (single, parallel):
            if process.poll() is None:
                process.terminate()  # the launcher stops its chief and workers on SIGTERM
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
    assert "best 4 of 4 trials" in output and "[w0]" in output and "[w1]" in output
    trials = _trials(search)
    assert len(trials) == 4 and all(t["status"] == "COMPLETED" for t in trials.values())
    for name, trial in kept.items():  # finished before Ctrl-C: kept, not run again
        assert trials[name]["score"] == trial["score"]
    for name in trials:  # every trial finished exactly once
        events = [json.loads(line)["event"] for line in (search / name / "executions.jsonl").read_text().splitlines()]
        assert events.count("finished") == 1, (name, events)
    runners = {json.loads(line)["tuner_id"] for name in trials
               for line in (search / name / "executions.jsonl").read_text().splitlines()}
    assert runners == {"w0", "w1"}

    def by_values(directory: Path) -> dict:
        return {json.dumps(t["hyperparameters"]["values"], sort_keys=True): t["score"] for t in _trials(directory).values()}

    alone, together = by_values(single_dir / "search" / "p"), by_values(search)
    assert set(alone) == set(together)  # the same four configurations
    for values, score in alone.items():  # trained alike: same seed, same batches, whichever worker ran them
        assert together[values] == pytest.approx(score, abs=0.02), values


# -- the second pass under JAX ---------------------------------------------------------------------------------------

# What the no-TensorFlow test above does not already run on JAX (train, evaluate, predict, doctor, lr-find and a
# RandomSearch are there): the run directory, a full-length training, Hyperband with its promotions, exact resume.
JAX_PASS = [
    "tests/builders/test_train.py::test_run_directory_contents",
    "tests/builders/test_tune.py::test_hyperband_promoted_trials_carry_on_with_their_optimizer_state",
    "tests/builders/test_nothing_lost.py::test_a_deterministic_run_interrupted_and_resumed_has_the_uninterrupted_history",
    "tests/callbacks/test_gradients.py::test_gradient_check_agrees_with_numpy_and_catches_a_wrong_gradient",
]


@pytest.mark.slow  # about 2 minutes on 2 cores (five interpreters start); the suite's 15 minutes had no room left
def test_the_gpu_check_script_dry_runs_on_a_cpu_without_tensorflow(tmp_path):
    """scripts/gpu_check.py --tiny: every section runs and the report says there was no GPU."""
    report = tmp_path / "GPU.md"
    script = NO_TENSORFLOW + f"""
import runpy
sys.argv = ["gpu_check.py", "--tiny", "--workers", "2", "--report", {str(report)!r}]
try:
    runpy.run_path({str(ROOT / "scripts" / "gpu_check.py")!r}, run_name="__main__")
except SystemExit as exit:
    assert not exit.code, exit.code
assert "tensorflow" not in sys.modules
"""
    result = _python(script, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = report.read_text()
    assert "No GPU was found on this machine" in text and "dry run" in text
    assert "TensorFlow not installed" in text
    for section in ("| 256 | 1 |", "| 1 | 2 |", "| 2 | 2 |", "## MNIST-1D CNN"):
        assert section in text, section
    assert "ratio" in result.stdout and "trials/minute" in result.stdout
