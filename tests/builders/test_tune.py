"""`zoo tune`: every tuner from a spec, markers everywhere, best.yaml, failures, kill and resume,
memory across trials, and KerasTuner's chief/worker mode on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import keras_tuner
import pytest
import yaml

from zoo.batches import first_batch
from zoo.builders.run.plan import build_plan
from zoo.builders.run.train import train
from zoo.builders.search.hypermodel import build_hypermodel
from zoo.builders.search.tune import make_tuner, tune
from zoo.builders.spec.document import load_spec
from zoo.builders.spec.errors import RunError, SpecError
from tests.conftest import ROOT

TINY = """\
version: 1
name: tiny_tune
seed: 3
data: {source: {sklearn: digits}, validation_split: 0.2, rescale: 0.0625, batch_size: 64}
model:
  layers:
    - Dense: {units: {hp: Int, min_value: 8, max_value: 32, step: 8}, activation: relu}
    - Dense: {units: 10, activation: softmax}
train:
  optimizer: {Adam: {learning_rate: {hp: Choice, values: [0.003, 0.01]}}}
  metrics: [accuracy]
  epochs: 2
tune:
  tuner: TUNER
  objective: val_accuracy
  max_trials: 3
  directory: DIRECTORY
output: {tensorboard: false}
"""


def _spec(tmp_path: Path, tuner: str = "{RandomSearch: {}}", text: str = TINY) -> str:
    return text.replace("TUNER", tuner).replace("DIRECTORY", str(tmp_path / "search"))


def _quiet(*_):
    pass


@pytest.mark.parametrize("tuner, trials", [
    ("{RandomSearch: {}}", 3),
    ("{GridSearch: {}}", 3),
    ("{BayesianOptimization: {num_initial_points: 2}}", 3),
    ("{Hyperband: {max_epochs: 3, factor: 3}}", None),
])
def test_every_tuner_runs_end_to_end_from_a_spec(tmp_path, tuner, trials):
    text = _spec(tmp_path, tuner)
    if "Hyperband" in tuner:
        text = text.replace("  max_trials: 3\n", "")
    printed = []
    summary = tune(load_spec(text), report=printed.append)
    directory = tmp_path / "search" / "tiny_tune"
    records = summary["trials"]
    assert all(r["status"] == "COMPLETED" for r in records)
    if trials:
        assert len(records) == trials
    else:  # Hyperband, max_epochs 3, factor 3: 2 brackets; 3 + 1 models in round 0, 1 promoted
        assert "Hyperband, max_epochs=3, factor=3: 2 brackets" in printed[0]
        assert len(records) >= 4
    assert len({json.dumps({k: v for k, v in r["hyperparameters"].items() if not k.startswith("tuner/")}, sort_keys=True)
                for r in records}) >= 2
    for name in ("results.csv", "results.json", "best.yaml", "search.png", "oracle.json"):
        assert (directory / name).exists(), name
    assert list((directory / "tensorboard").rglob("events.out.tfevents.*"))  # KerasTuner's hparams logs, per trial
    best = yaml.safe_load((directory / "best.yaml").read_text())
    assert "tune" not in best and "hp" not in json.dumps(best)
    assert "best" in printed[-2] and "val_accuracy" in printed[-2]


def test_hyperband_promoted_trials_carry_on_with_their_optimizer_state(tmp_path):
    spec = load_spec(_spec(tmp_path, "{Hyperband: {max_epochs: 3, factor: 3}}").replace("  max_trials: 3\n", ""))
    hypermodel = build_hypermodel(spec)
    tuner = make_tuner(spec, hypermodel)
    started: list[tuple[str | None, int]] = []  # (the trial it continues, optimizer steps already taken)

    class Record(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            started.append((tuner.oracle.ongoing_trials["tuner0"].hyperparameters.values.get("tuner/trial_id"),
                            int(self.model.optimizer.iterations.numpy())))

    tuner.search(callbacks=[Record()], verbose=0)
    promoted = [steps for parent, steps in started if parent is not None]
    assert promoted and all(steps > 0 for steps in promoted)  # Adam's moments and step count came with the weights
    assert all(steps == 0 for parent, steps in started if parent is None)


def test_budget_and_space_are_printed_before_the_search(tmp_path):
    printed = []
    text = _spec(tmp_path).replace("    - Dense: {units: {hp: Int, min_value: 8, max_value: 32, step: 8}, activation: relu}\n",
                                   "    - repeat: {hp: Int, min_value: 1, max_value: 2, name: depth}\n"
                                   "      layers: [Dense: {units: {hp: Int, min_value: 8, max_value: 32, step: 8, name: units}, activation: relu}]\n")
    text = text.replace("max_trials: 3", "max_trials: 1")  # what is printed before the search is the point
    tune(load_spec(text), report=printed.append)
    assert printed[0] == "search: RandomSearch: 1 trials x 2 epochs x 1 execution(s) = 2 epochs at most"
    table = printed[1].splitlines()
    assert table[0].split() == ["name", "type", "values", "default", "active", "when"]
    rows = {line.split()[0]: line for line in table[1:]}
    assert set(rows) == {"depth", "units[0]", "units[1]", "train.optimizer.Adam.learning_rate"}
    assert "depth in [2]" in rows["units[1]"] and "depth in [1, 2]" in rows["units[0]"]


def test_each_finished_trial_prints_one_line_and_few_trials_get_no_importance(tmp_path):
    printed = []
    summary = tune(load_spec(_spec(tmp_path).replace("max_trials: 3", "max_trials: 2")), report=printed.append)
    lines = [line for line in printed if line.startswith("trial ") and "  val_accuracy " in line]
    assert len(lines) == 2
    assert [line.split()[1] for line in lines] == [r["trial"] for r in summary["trials"]]  # KerasTuner's ids
    first = lines[0].split("  ")
    assert first[2] == "2 epochs" and first[3].endswith("s")
    assert "model.layers[0].Dense.units=" in first[4] and "train.optimizer.Adam.learning_rate=" in first[4]
    assert all(" vs trial " in line for line in lines[1:])  # later lines: what differs from the best so far
    assert summary["importance"] == {}  # 2 finished trials: too few to rank hyperparameters
    assert json.loads((tmp_path / "search" / "tiny_tune" / "results.json").read_text())["importance"] == {}


def test_markers_in_every_section_resolve_per_trial(tmp_path):
    text = _spec(tmp_path).replace("batch_size: 64", "batch_size: {hp: Choice, values: [32, 128]}").replace(
        "  epochs: 2\n", "  epochs: {hp: Int, min_value: 1, max_value: 2}\n"
        "  callbacks: [EarlyStopping: {monitor: val_loss, patience: {hp: Int, min_value: 1, max_value: 3}}]\n").replace(
        "model:\n", "model:\n  defaults: {kernel_initializer: {hp: Choice, values: [he_normal, glorot_uniform]}}\n")
    spec = load_spec(text)
    hypermodel = build_hypermodel(spec)
    hp = keras_tuner.HyperParameters()
    hp.values.update({"data.batch_size": 128, "model.defaults.kernel_initializer": "he_normal", "train.epochs": 1,
                      "train.callbacks[0].EarlyStopping.patience": 3})
    model = hypermodel.build(hp)
    assert type(model.layers[2].kernel_initializer).__name__ == "HeNormal"  # after the input and Rescaling
    history = hypermodel.fit(hp, model)
    assert len(history.history["loss"]) == 1
    data = build_plan(spec, hp).data
    assert first_batch(data.train)[0].shape[0] == 128
    assert {p.name for p in hp.space} >= {"data.batch_size", "train.epochs", "train.callbacks[0].EarlyStopping.patience",
                                          "model.defaults.kernel_initializer", "model.layers[0].Dense.units"}
    summary = tune(spec, report=_quiet)
    assert all(r["status"] == "COMPLETED" for r in summary["trials"])


def test_best_yaml_retrains_to_the_recorded_score(tmp_path):
    text = _spec(tmp_path).replace("seed: 3\n", "seed: 3\nruntime: {deterministic: true}\n")
    summary = tune(load_spec(text), report=_quiet)
    best = tmp_path / "search" / "tiny_tune" / "best.yaml"
    result = train(best, run_dir=tmp_path / "retrained", quiet=True)
    recorded = summary["best"]["score"]
    assert max(result.history["val_accuracy"]) == pytest.approx(recorded, abs=0.02)


def test_failing_trials_are_recorded_and_the_search_goes_on(tmp_path):
    """A trial whose learning rate makes the loss NaN fails and is recorded; a choice that names no
    activation is a spec error before the search starts (validate builds every choice)."""
    text = _spec(tmp_path, "{GridSearch: {}}").replace(
        "learning_rate: {hp: Choice, values: [0.003, 0.01]}", "learning_rate: {hp: Choice, values: [0.003, 1.0e+30]}").replace(
        "{hp: Int, min_value: 8, max_value: 32, step: 8}", "16").replace("max_trials: 3", "max_trials: 4").replace(
        "objective: val_accuracy\n", "objective: val_accuracy\n  max_consecutive_failed_trials: 5\n")
    summary = tune(load_spec(text), report=_quiet)
    statuses = {r["hyperparameters"]["train.optimizer.Adam.learning_rate"]: r for r in summary["trials"]}
    assert statuses[0.003]["status"] == "COMPLETED"
    assert statuses[1e30]["status"] == "FAILED" and "NaN or infinite" in statuses[1e30]["message"]
    assert summary["best"]["score"] == statuses[0.003]["score"]
    bad = text.replace("activation: relu}", "activation: {hp: Choice, values: [relu, no_such_activation]}}").replace(
        "name: tiny_tune", "name: bad")
    with pytest.raises(SpecError, match="unknown activation 'no_such_activation'") as error:
        tune(load_spec(bad), report=_quiet)
    assert error.value.key_path == "model.layers[0].Dense.activation"
    assert not (tmp_path / "search" / "bad").exists()


def test_too_many_consecutive_failures_is_a_clear_error(tmp_path):
    text = _spec(tmp_path).replace("learning_rate: {hp: Choice, values: [0.003, 0.01]}", "learning_rate: {hp: Choice, values: [1.0e+30, 1.0e+31]}")
    with pytest.raises(RunError, match="consecutive failures.*NaN or infinite"):
        tune(load_spec(text), report=_quiet)


def test_the_time_budget_stops_new_trials(tmp_path):
    text = _spec(tmp_path).replace("max_trials: 3", "max_trials: 5\n  max_time: 0.5")
    printed = []
    summary = tune(load_spec(text), report=printed.append)
    assert len(summary["trials"]) == 1  # the first trial takes longer than 0.5 s; no other starts
    assert "no trial starts after 0.5 s" in printed[0]


def test_an_existing_search_needs_resume_or_overwrite(tmp_path):
    text = _spec(tmp_path).replace("max_trials: 3", "max_trials: 1")
    tune(load_spec(text), report=_quiet)
    with pytest.raises(RunError, match="--resume"):
        tune(load_spec(text), report=_quiet)
    assert len(tune(load_spec(text), resume=True, report=_quiet)["trials"]) == 1
    with pytest.raises(RunError, match="no search to resume"):
        tune(load_spec(text.replace("name: tiny_tune", "name: other")), resume=True, report=_quiet)
    with pytest.raises(SpecError, match="Hyperband sets its own number of trials"):
        tune(load_spec(_spec(tmp_path, "{Hyperband: {max_epochs: 3}}").replace("name: tiny_tune", "name: hb")), report=_quiet)
    with pytest.raises(SpecError, match="Did you mean 'RandomSearch'"):
        tune(load_spec(_spec(tmp_path, "RandomSerch").replace("name: tiny_tune", "name: typo")), report=_quiet)


def _zoo(*arguments, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "zoo.builders.cli.main", *arguments], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}, **kwargs)


def _trials(directory: Path) -> dict[str, dict]:
    trials = {}
    for path in sorted(directory.glob("trial_*/trial.json")):
        try:
            trials[path.parent.name] = json.loads(path.read_text())
        except json.JSONDecodeError:  # being written
            pass
    return trials


def _executions(directory: Path, trial: str) -> list[dict]:
    path = directory / trial / "executions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_search_killed_with_sigkill_resumes_with_every_finished_trial_kept(tmp_path):
    text = _spec(tmp_path).replace("max_trials: 3", "max_trials: 5").replace("epochs: 2", "epochs: 25")
    spec = tmp_path / "tune.yaml"
    spec.write_text(text)
    directory = tmp_path / "search" / "tiny_tune"
    process = _zoo("tune", str(spec))
    deadline = time.time() + 240
    while time.time() < deadline:  # two trials finished, and the third has backed up at least one epoch
        done = [t for t, trial in _trials(directory).items() if trial["status"] == "COMPLETED"]
        running = [t for t in directory.glob("trial_*") if t.name not in done and (t / "backup" / "state.json").exists()]
        if len(done) >= 2 and running:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = {t: trial for t, trial in _trials(directory).items() if trial["status"] == "COMPLETED"}
    assert len(before) >= 2
    resumed = _zoo("tune", str(spec), "--resume")
    output, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, output[-3000:]
    after = _trials(directory)
    assert len(after) == 5 and all(trial["status"] == "COMPLETED" for trial in after.values())
    for trial, record in before.items():  # kept, not re-run
        assert after[trial]["score"] == record["score"]
        assert [e["event"] for e in _executions(directory, trial)] == ["started", "finished"]
    # the trial that was running when the process died resumed from its last backed-up epoch, not from 0
    interrupted = [t for t in after if t not in before and _executions(directory, t)[0]["pid"] == process.pid]
    assert len(interrupted) == 1
    events = _executions(directory, interrupted[0])
    assert [e["event"] for e in events] == ["started", "started", "finished"]
    assert 0 < events[-1]["epochs"] < 25


MEMORY_SCRIPT = """
import json, os, sys, psutil, keras, keras_tuner
from zoo.builders.search.tune import tune
from zoo.builders.spec.document import load_spec
rss = []
class Record(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        rss.append(psutil.Process().memory_info().rss)
spec = load_spec(sys.argv[1])
from zoo.builders.search import tune as t
original = t.SpecHyperModel.fit
def fit(self, hp, model, *args, **kwargs):
    kwargs["callbacks"] = list(kwargs.get("callbacks") or []) + [Record()]
    return original(self, hp, model, *args, **kwargs)
t.SpecHyperModel.fit = fit
tune(spec, report=lambda *_: None)
print(json.dumps(rss))
"""


@pytest.mark.slow
def test_memory_stays_flat_over_thirty_trials(tmp_path):
    text = _spec(tmp_path).replace("max_trials: 3", "max_trials: 30").replace("epochs: 2", "epochs: 1").replace(
        "{hp: Int, min_value: 8, max_value: 32, step: 8}", "{hp: Int, min_value: 8, max_value: 256, step: 8}")
    spec = tmp_path / "tune.yaml"
    spec.write_text(text)
    result = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(spec)], capture_output=True, text=True, cwd=ROOT,
                            timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-3000:]
    rss = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(rss) == 30
    early, late = sorted(rss[5:10])[2], sorted(rss[25:30])[2]  # medians of trials 6-10 and 26-30
    assert late <= 1.2 * early, f"resident memory grew from {early / 2**20:.0f} MiB to {late / 2**20:.0f} MiB"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _kill_during_second_trial(worker: subprocess.Popen, name: str, directory: Path) -> str:
    """SIGKILL the worker once it has finished a trial and started another; the interrupted trial's name."""
    deadline = time.time() + 240
    while time.time() < deadline:
        events = {t.name: _executions(directory, t.name) for t in directory.glob("trial_*")}
        finished = any(e["tuner_id"] == name and e["event"] == "finished" for trial in events.values() for e in trial)
        running = [t for t, trial in events.items() if trial and trial[-1]["tuner_id"] == name and trial[-1]["event"] == "started"]
        if finished and running:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            return running[0]
        time.sleep(0.1)
    raise AssertionError(f"{name} never started a second trial")


@contextlib.contextmanager
def _search_on_loopback(tmp_path: Path, text: str):
    """A chief and workers w0, w1 as `zoo tune` processes on 127.0.0.1; every one still running is killed at the end.

    Yields (search directory, chief, workers, start): `start(name)` starts one more worker."""
    spec = tmp_path / "tune.yaml"
    spec.write_text(text)
    oracle = f"127.0.0.1:{_free_port()}"
    processes = []

    def start(name: str) -> subprocess.Popen:
        processes.append(_zoo("tune", str(spec), "--distributed", "worker", "--oracle", oracle, "--tuner-id", name))
        return processes[-1]

    try:
        chief = _zoo("tune", str(spec), "--distributed", "chief", "--oracle", oracle)
        processes.append(chief)
        time.sleep(2)
        yield tmp_path / "search" / "tiny_tune", chief, {name: start(name) for name in ("w0", "w1")}, start
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def _finished(process: subprocess.Popen, timeout: float) -> str:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-3000:]
    return output


def _each_trial_completed_once(directory: Path, count: int) -> dict[str, dict]:
    trials = _trials(directory)
    assert len(trials) == count and all(trial["status"] == "COMPLETED" for trial in trials.values())
    for trial in trials:
        assert [e["event"] for e in _executions(directory, trial)].count("finished") == 1, (trial, _executions(directory, trial))
    return trials


@pytest.mark.slow
def test_chief_and_two_workers_on_loopback_do_every_trial_once_and_survive_a_killed_worker(tmp_path):
    text = _spec(tmp_path).replace("max_trials: 3", "max_trials: 8").replace("epochs: 2", "epochs: 4")
    with _search_on_loopback(tmp_path, text) as (directory, chief, workers, start):
        victim = _kill_during_second_trial(workers["w1"], "w1", directory)
        # the search goes on without it: w0 takes the remaining trials
        _finished(workers["w0"], 300)
        others = [t for t, trial in _trials(directory).items() if t != victim]
        assert len(others) == 7 and all(_trials(directory)[t]["status"] == "COMPLETED" for t in others)
        # the chief waits for the killed worker's trial; w1 restarted with its id picks it up
        assert chief.poll() is None
        _finished(start("w1"), 300)
        chief_output = _finished(chief, 120)
    trials = _each_trial_completed_once(directory, 8)
    runners = {e["tuner_id"] for t in trials for e in _executions(directory, t)}
    assert runners == {"w0", "w1"}
    assert "best 5 of 8 trials" in chief_output and (directory / "best.yaml").exists()


@pytest.mark.slow  # chief and workers on loopback are in the default run: test_backends.py (--workers)
def test_with_a_worker_timeout_a_killed_workers_trial_is_handed_on_and_the_search_ends_without_it(tmp_path):
    text = _spec(tmp_path).replace("max_trials: 3", "max_trials: 6\n  worker_timeout: 15").replace("epochs: 2", "epochs: 3")
    with _search_on_loopback(tmp_path, text) as (directory, chief, workers, start):
        victim = _kill_during_second_trial(workers["w1"], "w1", directory)
        # w1 never comes back: w0 does the rest, the killed trial included, and the chief finishes
        _finished(workers["w0"], 300)
        chief_output = _finished(chief, 120)
    assert "worker w1 silent for" in chief_output and f"trial {victim.removeprefix('trial_')} goes back to the queue" in chief_output
    _each_trial_completed_once(directory, 6)
    events = _executions(directory, victim)
    assert [(e["tuner_id"], e["event"]) for e in events] == [("w1", "started"), ("w0", "started"), ("w0", "finished")]
