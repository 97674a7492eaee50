"""Training runs: run directory contents, kill -9 and resume, determinism, evaluate and predict."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from zoo.builders.run.history import read_history
from zoo.builders.run.train import resume, train
from zoo.builders.spec.document import load_spec
from zoo.builders.spec.errors import RunError, SpecError
from zoo.builders.tools.inference import evaluate, predict
from tests.conftest import DIGITS_SPEC, ROOT, run_zoo


def test_run_directory_contents(tmp_path):
    spec = load_spec(DIGITS_SPEC.replace("validation_split: 0.2", "validation_split: 0.2\n  test_split: 0.1"))
    result = train(spec, run_dir=tmp_path / "run", quiet=True)
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"spec.yaml", "model.keras", "history.csv", "history.json", "metrics.json", "curves.png", "logs"} <= names
    assert "backup" not in names  # removed once the run finished
    assert [n for n in names if n.startswith(".")] == [".zoo.lock"]  # the OS lock's file; no temporary files
    assert load_spec(tmp_path / "run" / "spec.yaml").tree == spec.resolved().tree  # the concrete spec
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history["loss"]) == len(history["val_accuracy"]) == 2
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2 and "test_accuracy" in metrics and "best_val_loss" in metrics
    assert (tmp_path / "run" / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any((tmp_path / "run" / "logs").rglob("*tfevents*"))
    assert result.metrics == metrics and set(result.paths) >= {"model.keras", "metrics.json"}


def test_default_run_directory_is_named_after_the_spec(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = train(load_spec(DIGITS_SPEC, ["train.epochs=1"]), quiet=True)
    assert result.run_dir.parent == tmp_path.joinpath("runs", "tiny_digits").relative_to(tmp_path)


def test_deterministic_runs_give_identical_histories(tmp_path):
    spec = load_spec(DIGITS_SPEC, ["runtime.deterministic=true", "train.epochs=3"])
    first = train(spec, run_dir=tmp_path / "a", quiet=True).history
    second = train(spec, run_dir=tmp_path / "b", quiet=True).history
    assert first == second


def test_evaluate_and_predict_a_finished_run(tmp_path):
    spec = load_spec(DIGITS_SPEC.replace("validation_split: 0.2", "validation_split: 0.2\n  test_split: 0.2"))
    result = train(spec, run_dir=tmp_path / "run", quiet=True)
    scores = evaluate(tmp_path / "run")
    assert scores["split"] == "test" and scores["accuracy"] == pytest.approx(result.metrics["test_accuracy"], abs=1e-6)
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.save(tmp_path / "x.npy", digits.data[:7].astype("float32"))
    predictions = predict(tmp_path / "run", tmp_path / "x.npy")
    assert predictions.shape == (7, 10) and np.allclose(predictions.sum(axis=1), 1, atol=1e-5)
    np.save(tmp_path / "wrong.npy", digits.data[:3, :10])
    with pytest.raises(RunError, match="the model expects"):
        predict(tmp_path / "run", tmp_path / "wrong.npy")


def test_resume_refuses_finished_and_foreign_directories(tmp_path):
    with pytest.raises(RunError, match="not a keras-zoo run directory"):
        resume(tmp_path)
    train(load_spec(DIGITS_SPEC, ["train.epochs=1"]), run_dir=tmp_path / "run", quiet=True)
    with pytest.raises(RunError, match="nothing to resume"):
        resume(tmp_path / "run")


def test_monitor_without_validation_data_is_an_error_before_training(tmp_path):
    text = DIGITS_SPEC.replace("  validation_split: 0.2\n", "") + "  callbacks: [EarlyStopping: {monitor: val_loss}]\n"
    with pytest.raises(SpecError, match="no validation data"):
        train(load_spec(text), run_dir=tmp_path / "run", quiet=True)


def test_learning_rate_callback_with_a_schedule_is_an_error_before_training(tmp_path):
    text = DIGITS_SPEC.replace("{Adam: {learning_rate: 1.0e-3}}", "{Adam: {learning_rate: {ExponentialDecay: {initial_learning_rate: 0.01, decay_steps: 10, decay_rate: 0.9}}}}")
    text += "  callbacks: [ReduceLROnPlateau: {monitor: val_loss}]\n"
    with pytest.raises(SpecError, match="ReduceLROnPlateau sets the learning rate, but .* is a schedule") as error:
        train(load_spec(text), run_dir=tmp_path / "run", quiet=True)
    assert error.value.line == 22 and not (tmp_path / "run" / "history.csv").exists()


def test_killed_run_resumes_from_its_last_finished_epoch(tmp_path):
    epochs = 12
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(DIGITS_SPEC.replace("epochs: 2", f"epochs: {epochs}").replace("batch_size: 64", "batch_size: 4"))
    run_dir = tmp_path / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "zoo.builders.cli.main", "train", str(spec_file), "--run-dir", str(run_dir), "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(read_history(run_dir / "history.csv")) < 3:
        assert process.poll() is None, process.stdout.read().decode()[-2000:]
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = len(read_history(run_dir / "history.csv"))
    assert 3 <= done_before < epochs and not (run_dir / "metrics.json").exists()

    resumed = run_zoo("train", "--resume", str(run_dir), "--quiet", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    ran = [line for line in resumed.stdout.splitlines() if line.startswith("Epoch ")]
    first = int(ran[0].split()[1].split("/")[0])
    # The last epoch may have been logged but not yet backed up (killed before or during its backup).
    assert done_before - 1 <= first - 1 <= done_before
    assert first - 1 + len(ran) == epochs  # nothing run twice, nothing lost
    history = read_history(run_dir / "history.csv")
    assert [row["epoch"] for row in history] == list(range(1, epochs + 1))
    assert json.loads((run_dir / "metrics.json").read_text())["epochs_run"] == epochs


# Counters that do not depend on the loss values: min_delta 10 means no epoch after the
# first ever improves, so the rate halves every 3rd epoch and training stops after 7 epochs.
STATEFUL_CALLBACKS = """\
  callbacks:
    - ReduceLROnPlateau: {monitor: loss, min_delta: 10, patience: 2, factor: 0.5}
    - EarlyStopping: {monitor: loss, min_delta: 10, patience: 6, restore_best_weights: true}
"""


def test_ctrl_c_leaves_a_run_that_resumes_with_its_callback_counters(tmp_path):
    text = DIGITS_SPEC.replace("epochs: 2", "epochs: 12").replace("batch_size: 64", "batch_size: 4") + STATEFUL_CALLBACKS
    uninterrupted = train(load_spec(text), run_dir=tmp_path / "whole", quiet=True)
    assert uninterrupted.epochs_run == 7
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(text)
    run_dir = tmp_path / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "zoo.builders.cli.main", "train", str(spec_file), "--run-dir", str(run_dir), "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=tmp_path, text=True,
                               # as from a terminal: a test runner started in the background ignores SIGINT, and a
                               # child inherits that, so Python would install no KeyboardInterrupt handler
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(read_history(run_dir / "history.csv")) < 2:
        assert process.poll() is None, process.stdout.read()[-2000:]
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output[-2000:]
    assert f"resume with  zoo train --resume {run_dir}" in output
    done_before = len(read_history(run_dir / "history.csv"))
    assert 2 <= done_before < 7 and not (run_dir / "metrics.json").exists()
    assert (run_dir / "backup" / "callback_state.json").exists()

    resumed = run_zoo("train", "--resume", str(run_dir), "--quiet", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    history = read_history(run_dir / "history.csv")
    # Counters restored: the same epochs run and the rate halved at the same epochs.
    assert [row["epoch"] for row in history] == list(range(1, 8))
    assert [row["learning_rate"] for row in history] == uninterrupted.history["learning_rate"]


def test_precision_and_jit_compile_pass_through_to_keras(tmp_path):
    import keras

    spec = load_spec(DIGITS_SPEC, ["runtime.precision=mixed_bfloat16", "runtime.jit_compile=false", "train.epochs=1"])
    result = train(spec, run_dir=tmp_path / "run", quiet=True)
    hidden, output = result.model.layers[1], result.model.layers[-1]
    assert hidden.dtype_policy.name == "mixed_bfloat16" and hidden.compute_dtype == "bfloat16"
    assert output.compute_dtype == "float32"  # the loss is computed in float32
    assert result.model.jit_compile is False
    assert np.isfinite(result.history["loss"]).all()
    assert keras.mixed_precision.dtype_policy().name == "float32"  # the caller's policy is left as it was
    reloaded = keras.saving.load_model(tmp_path / "run" / "model.keras")
    assert reloaded.layers[1].dtype_policy.name == "mixed_bfloat16"


def test_run_eagerly_trains_without_tracing_a_graph(tmp_path):
    """runtime.run_eagerly reaches Keras's compile: the train step runs as plain Python, never as a tf.function."""
    spec = load_spec(DIGITS_SPEC, ["runtime.run_eagerly=true", "train.epochs=2"])
    result = train(spec, run_dir=tmp_path / "run", quiet=True)
    assert result.model.run_eagerly is True and result.model.jit_compile is False
    assert not hasattr(result.model.train_function, "get_concrete_function")  # a tf.function would have one
    assert result.history["loss"][1] < result.history["loss"][0]
    assert load_spec(DIGITS_SPEC).resolved().get("runtime", "run_eagerly") is False  # the default traces


def test_quickstart_spec_reaches_95_percent(tmp_path):
    result = train(ROOT / "specs" / "digits_mlp.yaml", run_dir=tmp_path / "run", quiet=True)
    assert result.metrics["best_val_accuracy"] >= 0.95, result.metrics
