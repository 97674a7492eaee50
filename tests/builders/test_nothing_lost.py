"""Nothing lost: run and search directories never delete, mix or misread what they do not own."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import DIGITS_SPEC, ROOT, call_zoo, run_zoo
from zoo.builders.run import train as train_module
from zoo.builders.run.history import read_history
from zoo.builders.run.rundir import MANIFEST, OwnedDirectory
from zoo.builders.run.train import resume, train
from zoo.builders.spec.document import load_spec
from zoo.builders.spec.errors import RunError
from zoo.builders.tools.inference import evaluate, predict
from zoo.callbacks import AtomicBackupAndRestore

ONE_EPOCH = ["train.epochs=1", "output.tensorboard=false", "output.plots=false"]


def test_a_run_dir_holding_foreign_files_is_refused_and_untouched(tmp_path):
    user = tmp_path / "userdir"
    (user / "backup").mkdir(parents=True)
    (user / "backup" / "thesis.txt").write_text("years of work")
    (user / "notes.md").write_text("mine")
    with pytest.raises(RunError, match="not made by keras-zoo"):
        train(load_spec(DIGITS_SPEC, ONE_EPOCH), run_dir=user, quiet=True)
    assert (user / "backup" / "thesis.txt").read_text() == "years of work" and (user / "notes.md").read_text() == "mine"
    assert sorted(p.name for p in user.iterdir()) == ["backup", "notes.md"]  # not even a lock is left in it


def test_the_backup_removes_only_its_own_files(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    backup = AtomicBackupAndRestore(tmp_path / "backup")
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "thesis.txt").write_text("mine")
    model.fit(np.ones((4, 3)), np.ones((4, 1)), epochs=2, verbose=0, callbacks=[backup])
    assert sorted(p.name for p in (tmp_path / "backup").iterdir()) == ["thesis.txt"]


def test_a_name_or_project_name_of_dot_dot_is_refused_before_anything_is_written(tmp_path, monkeypatch, capsys):
    spec = tmp_path / "t.yaml"
    spec.write_text(DIGITS_SPEC.replace("units: 32", "units: {hp: Int, min_value: 8, max_value: 16}")
                    + "tune: {project_name: '..', max_trials: 1}\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "keep.csv").write_text("a,b\n1,2\n")
    monkeypatch.chdir(tmp_path)
    done = call_zoo(capsys, "tune", str(spec), "--overwrite")
    assert done.returncode == 2 and "tune.project_name" in done.stderr and "Traceback" not in done.stderr, done.stderr[-1500:]
    done = call_zoo(capsys, "train", str(spec), "name=..")
    assert done.returncode == 2 and "name" in done.stderr and "Traceback" not in done.stderr, done.stderr[-1500:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "t.yaml"] and (tmp_path / "data" / "keep.csv").exists()


def test_overwrite_refuses_a_folder_that_is_not_a_search_of_ours(tmp_path, monkeypatch, capsys):
    spec = tmp_path / "t.yaml"
    spec.write_text(DIGITS_SPEC.replace("units: 32", "units: {hp: Int, min_value: 8, max_value: 16}")
                    + "tune: {directory: work, project_name: mine, max_trials: 1}\n")
    (tmp_path / "work" / "mine").mkdir(parents=True)
    (tmp_path / "work" / "mine" / "paper.tex").write_text("keep me")
    monkeypatch.chdir(tmp_path)
    done = call_zoo(capsys, "tune", str(spec), "--overwrite")
    assert done.returncode == 1 and "not made by keras-zoo" in done.stderr, done.stderr[-1500:]
    assert (tmp_path / "work" / "mine" / "paper.tex").read_text() == "keep me"


def test_a_second_process_on_the_same_run_dir_is_refused_with_the_holders_pid(tmp_path):
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(DIGITS_SPEC.replace("epochs: 2", "epochs: 200").replace("batch_size: 64", "batch_size: 4"))
    run_dir = tmp_path / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen([sys.executable, "-m", "zoo.builders.cli.main", "train", str(spec_file), "--run-dir", str(run_dir),
                              "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not (run_dir / "history.csv").exists():
            assert first.poll() is None
            time.sleep(0.1)
        with pytest.raises(RunError, match=f"pid {first.pid}"):
            train(load_spec(spec_file), run_dir=run_dir, quiet=True)
        with pytest.raises(RunError, match=f"pid {first.pid}"):
            resume(run_dir, quiet=True)
        assert first.poll() is None  # the first run goes on, untouched
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # The OS released the dead process's lock: the run resumes.
    assert OwnedDirectory.reopen(run_dir, "run").state == "training"


def test_another_specs_unfinished_run_is_refused_and_a_finished_one_is_kept(tmp_path):
    other = load_spec(DIGITS_SPEC.replace("units: 32", "units: 16"), ONE_EPOCH).resolved()
    OwnedDirectory.claim(tmp_path / "run", "run", other.to_yaml()).release()
    with pytest.raises(RunError, match="unfinished run of another spec"):
        train(load_spec(DIGITS_SPEC, ONE_EPOCH), run_dir=tmp_path / "run", quiet=True)
    train(load_spec(DIGITS_SPEC, ONE_EPOCH), run_dir=tmp_path / "done", quiet=True)
    with pytest.raises(RunError, match="already holds a finished run"):
        train(load_spec(DIGITS_SPEC, ONE_EPOCH), run_dir=tmp_path / "done", quiet=True)


def test_a_kill_while_finishing_resumes_to_complete_without_training_again(tmp_path, monkeypatch):
    spec = load_spec(DIGITS_SPEC, ["train.epochs=3", "output.tensorboard=false"])

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # dies after model.keras, before its results

    monkeypatch.setattr(train_module, "plot_curves", killed)
    with pytest.raises(KeyboardInterrupt):
        train(spec, run_dir=tmp_path / "run", quiet=True)
    assert OwnedDirectory.reopen(tmp_path / "run", "run").state == "finishing"
    assert (tmp_path / "run" / "backup" / "state.json").exists() and not (tmp_path / "run" / "metrics.json").exists()
    monkeypatch.undo()
    before = read_history(tmp_path / "run" / "history.csv")
    result = resume(tmp_path / "run", quiet=True)
    assert result.metrics["epochs_run"] == 3 and read_history(tmp_path / "run" / "history.csv") == before
    assert not (tmp_path / "run" / "backup").exists()


def _unfinished_run(tmp_path, monkeypatch):
    """A run stopped after its last epoch's backup, before its results: as a kill leaves it."""
    monkeypatch.setattr(train_module, "_remove_backup", lambda *args: None)
    train(load_spec(DIGITS_SPEC, ["train.epochs=2", "output.tensorboard=false", "output.plots=false",
                                  "train.callbacks=[{EarlyStopping: {monitor: val_loss, patience: 5}}]"]),
          run_dir=tmp_path / "run", quiet=True)
    monkeypatch.undo()
    run = tmp_path / "run"
    (run / "metrics.json").unlink()
    manifest = json.loads((run / MANIFEST).read_text())
    (run / MANIFEST).write_text(json.dumps({**manifest, "state": "training"}))
    return run


@pytest.mark.parametrize("file, damage", [
    ("backup/state.json", lambda b: b[: len(b) // 2]),
    ("backup/epoch_2.weights.h5", lambda b: b"garbage" * 10),
    ("backup/epoch_2.weights.h5", None),
    ("history.csv", lambda b: b"epoch,loss\nthree,\x00\x01\n"),
    ("backup/callback_state.json", lambda b: b"{not json"),
])
def test_a_damaged_file_is_a_one_line_error_naming_it(tmp_path, monkeypatch, capsys, file, damage):
    run = _unfinished_run(tmp_path, monkeypatch)
    target = run / file
    if damage is None:
        target.unlink()
    else:
        target.write_bytes(damage(target.read_bytes()))
    if file == "history.csv":  # one case in a fresh process, the others in this one (the same main())
        done = run_zoo("train", "--resume", str(run), "--quiet", cwd=tmp_path)
    else:
        monkeypatch.chdir(tmp_path)
        done = call_zoo(capsys, "train", "--resume", str(run), "--quiet")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]  # TensorFlow's start-up lines may come first
    assert last.startswith("error:") and str(run) in last and "new directory" in done.stderr, done.stderr
    assert target.name in done.stderr or "backup" in done.stderr, done.stderr


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("finished")
    train(load_spec(DIGITS_SPEC.replace("validation_split: 0.2", "validation_split: 0.2\n  test_split: 0.2"), ONE_EPOCH),
          run_dir=folder / "run", quiet=True)
    return folder / "run"


def test_predict_reads_inputs_as_training_does_and_checks_them(finished_run, tmp_path):
    from sklearn.datasets import load_digits

    rows = load_digits().data[:5]
    header = ",".join(f"pixel_{i}" for i in range(64))
    np.savetxt(tmp_path / "with_header.csv", rows, delimiter=",", header=header, comments="")
    np.savetxt(tmp_path / "plain.csv", rows, delimiter=",")
    assert predict(finished_run, tmp_path / "with_header.csv").shape == (5, 10)
    assert predict(finished_run, tmp_path / "plain.csv").shape == (5, 10)
    np.save(tmp_path / "empty.npy", np.zeros((0, 64)))
    with pytest.raises(RunError, match="no rows"):
        predict(finished_run, tmp_path / "empty.npy")
    broken = rows.copy()
    broken[2, 7] = np.nan
    np.save(tmp_path / "nan.npy", broken)
    with pytest.raises(RunError, match="row 3 holds NaN"):
        predict(finished_run, tmp_path / "nan.npy")
    assert predict(finished_run, tmp_path / "nan.npy", allow_nan=True).shape == (5, 10)
    with pytest.raises(RunError, match="expects"):
        evaluate(finished_run, {"sklearn": "iris"})


def test_predict_output_to_a_directory_and_class_names(finished_run, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((2, 64)))
    done = call_zoo(capsys, "predict", str(finished_run), str(tmp_path / "x.npy"), "--output", str(tmp_path))
    assert done.returncode == 1 and "is a directory" in done.stderr and "Traceback" not in done.stderr, done.stderr[-1500:]
    done = call_zoo(capsys, "predict", str(finished_run), str(tmp_path / "x.npy"), "--output", str(tmp_path / "p.csv"))
    assert done.returncode == 0, done.stderr[-1500:]
    assert (tmp_path / "p.csv").read_text().splitlines()[0].startswith("class,name,p0")


def test_files_land_with_the_permissions_the_umask_gives(tmp_path):
    old = os.umask(0o022)
    try:
        train(load_spec(DIGITS_SPEC, ONE_EPOCH), run_dir=tmp_path / "run", quiet=True)
    finally:
        os.umask(old)
    for name in ("spec.yaml", "metrics.json", "history.csv", "model.keras", MANIFEST):
        assert stat.S_IMODE((tmp_path / "run" / name).stat().st_mode) == 0o644, name


def test_a_search_where_every_trial_fails_ends_with_a_summary_and_a_nonzero_exit(tmp_path):
    spec = tmp_path / "t.yaml"
    spec.write_text(DIGITS_SPEC.replace("optimizer: {Adam: {learning_rate: 1.0e-3}}", "optimizer: {SGD: {learning_rate: 1.0e+30}}")
                    .replace("units: 32", "units: {hp: Int, min_value: 8, max_value: 16}").replace("normalize: true", "normalize: false")
                    + "tune: {max_trials: 2, max_consecutive_failed_trials: 5, directory: work}\n")
    done = run_zoo("tune", str(spec), cwd=tmp_path)
    last = done.stderr.strip().splitlines()[-1]  # KerasTuner prints each failed trial's own report before it
    assert done.returncode == 1 and last.startswith("error: no trial finished (2 failed)"), (done.stdout[-1500:], done.stderr[-2500:])
    assert "no trial finished (2 failed)" in done.stderr and "results.csv" in done.stderr, done.stderr[-1500:]
    assert (tmp_path / "work" / "tiny_digits" / "results.csv").exists()


def test_reproduce_tiny_never_writes_over_the_committed_reports():
    source = (ROOT / "scripts" / "reproduce.py").read_text()
    assert 'ROOT / "runs" / "reproductions-tiny" if arguments.tiny' in source


@pytest.mark.slow
def test_kills_at_many_moments_never_restart_a_run_from_epoch_one(tmp_path):
    """A loop of SIGKILLs at moments spread over a run, its finishing window included."""
    spec_file = tmp_path / "spec.yaml"
    epochs = 6
    spec_file.write_text(DIGITS_SPEC.replace("epochs: 2", f"epochs: {epochs}"))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    for trial, delay in enumerate(np.linspace(7.0, 14.0, 8)):
        run_dir = tmp_path / f"run{trial}"
        process = subprocess.Popen([sys.executable, "-m", "zoo.builders.cli.main", "train", str(spec_file), "--run-dir", str(run_dir),
                                    "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp_path)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        if not (run_dir / MANIFEST).exists():
            continue  # killed before the directory was claimed: nothing was started
        before = read_history(run_dir / "history.csv")
        state = json.loads((run_dir / MANIFEST).read_text())["state"]
        if state == "complete":
            continue
        done = run_zoo("train", "--resume", str(run_dir), "--quiet", cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        ran = [line for line in done.stdout.splitlines() if line.startswith("Epoch ")]
        if before:
            assert not ran or int(ran[0].split()[1].split("/")[0]) >= len(before), (before, ran)
        assert [row["epoch"] for row in read_history(run_dir / "history.csv")] == list(range(1, epochs + 1))


class _Stop(Exception):
    pass


def test_a_deterministic_run_interrupted_and_resumed_has_the_uninterrupted_history(tmp_path, monkeypatch):
    """Shuffle order, dropout masks, optimizer state, callback counters and the batch size (grown once before
    the cut) all continue where they stopped."""
    import keras

    text = DIGITS_SPEC.replace("epochs: 2", "epochs: 5").replace("seed: 7", "seed: 7\nruntime: {deterministic: true}")
    overrides = ["output.tensorboard=false", "output.plots=false",
                 "train.callbacks=[{ReduceLROnPlateau: {monitor: val_loss, patience: 1, factor: 0.5}}, "
                 "{BatchSizeSchedule: {factor: 2, every: 2}}]"]
    whole = train(load_spec(text, overrides), run_dir=tmp_path / "whole", quiet=True)

    class StopAfterThirdEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                raise _Stop  # after this epoch's history, callback state and backup are written

    original = train_module._callbacks
    monkeypatch.setattr(train_module, "_callbacks", lambda *a: original(*a) + [StopAfterThirdEpoch()])
    with pytest.raises(_Stop):
        train(load_spec(text, overrides), run_dir=tmp_path / "cut", quiet=True)
    monkeypatch.undo()
    assert len(read_history(tmp_path / "cut" / "history.csv")) == 3
    assert [row["batch_size"] for row in read_history(tmp_path / "whole" / "history.csv")] == [64, 64, 128, 128, 256]
    resumed = resume(tmp_path / "cut", quiet=True)
    assert read_history(tmp_path / "cut" / "history.csv") == read_history(tmp_path / "whole" / "history.csv")
    assert resumed.history == whole.history
