"""The promise (issue 27): `zoo validate` ok means the run starts (it takes the run's first step), every bad input
is a clear error at its line, and nothing a user owns is written or deleted. One test per case, each checking
where the error points."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import zoo
from tests.conftest import call_zoo, run_zoo
from zoo.builders.run.plan import validate
from zoo.builders.spec.document import load_spec
from zoo.builders.spec.errors import RunError, SpecError

IRIS = """\
version: 1
name: promise
seed: 0
data: {{source: {{sklearn: iris}}, validation_split: 0.2, normalize: true}}
model: {{layers: [{{Dense: {{units: 8, activation: relu}}}}], head: auto}}
train:
  epochs: 2
{train}
"""


def _spec(tmp_path: Path, train: str = "", text: str | None = None, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text if text is not None else IRIS.format(train=train))
    return path


def _error(path: Path, overrides=()) -> SpecError:
    with pytest.raises(SpecError) as caught:
        validate(load_spec(path, list(overrides)))
    return caught.value


# -- 1. validate takes the first step ----------------------------------------------------------------


def test_validate_takes_the_first_step_through_the_callbacks(tmp_path):
    path = _spec(tmp_path, "  callbacks:\n    - LearningRateScheduler: {schedule: 'lambda e: 0.1'}")
    error = _error(path)
    assert error.path == ("train", "callbacks", 0)
    assert error.location.line == 9  # the callback's line
    assert "first training step" in str(error) and "not callable" in str(error)


def test_validate_reports_what_it_checked(tmp_path):
    assert validate(load_spec(_spec(tmp_path))) == ["spec + first step"]


def test_validate_writes_nothing(tmp_path, monkeypatch):
    path = _spec(tmp_path, "  callbacks:\n    - CSVLogger: {filename: log.csv}\n    - ModelCheckpoint: {filepath: best.keras}")
    before = sorted(p.name for p in tmp_path.iterdir())
    monkeypatch.chdir(tmp_path)  # restored after the test
    validate(load_spec(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# -- 2. labels in the form the loss needs; class_weight as a mapping ------------------------------------


@pytest.mark.parametrize("loss", ["categorical_hinge", "{CategoricalCrossentropy: {label_smoothing: 0.1}}",
                                  "categorical_crossentropy"])
def test_categorical_losses_train_on_integer_labels(tmp_path, loss):
    result = zoo.train(str(_spec(tmp_path, f"  loss: {loss}\n  metrics: [accuracy]")), run_dir=tmp_path / "run",
                       verbose=0)
    assert result.metrics["epochs_run"] == 2 and 0.0 <= result.metrics["final_accuracy"] <= 1.0
    assert np.isfinite(result.metrics["final_loss"])


def test_sparse_categorical_on_two_classes_gets_two_output_units(tmp_path):
    text = IRIS.format(train="  loss: sparse_categorical_crossentropy").replace("iris", "breast_cancer")
    result = zoo.train(str(_spec(tmp_path, text=text)), run_dir=tmp_path / "run", verbose=0)
    assert result.model.outputs[0].shape[-1] == 2 and np.isfinite(result.metrics["final_loss"])


def test_one_hot_labels_on_regression_targets_are_refused(tmp_path):
    text = IRIS.format(train="").replace("iris", "diabetes").replace("validation_split: 0.2", "validation_split: 0.2, labels: one_hot")
    error = _error(_spec(tmp_path, text=text))
    assert error.path == ("data", "labels")


def test_class_weight_mapping_by_index_and_by_name(tmp_path):
    by_index = zoo.train(str(_spec(tmp_path, "  class_weight: {0: 2.0, 2: 0.5}")), run_dir=tmp_path / "a", verbose=0)
    assert by_index.metrics["epochs_run"] == 2
    plan = zoo.build_plan(load_spec(_spec(tmp_path, "  class_weight: {setosa: 3}")))
    assert plan.class_weight == {0: 3.0, 1: 1.0, 2: 1.0}


def test_class_weight_naming_no_class_is_an_error_at_the_key(tmp_path):
    error = _error(_spec(tmp_path, "  class_weight: {7: 2.0}"))
    assert error.path == ("train", "class_weight", "7") and "3 classes" in str(error)
    error = _error(_spec(tmp_path, "  class_weight: {setosaa: 2.0}"))
    assert "setosa" in str(error)


def test_a_loss_that_cannot_take_the_labels_is_placed_at_the_loss(tmp_path):
    error = _error(_spec(tmp_path, "  loss: sparse_categorical_crossentropy"),
                   ["data.labels=one_hot"])
    assert error.path == ("train", "loss") and "first training step failed in the loss" in str(error)
    error = _error(_spec(tmp_path, "  loss: poisson"))
    assert error.path == ("train", "loss") and "Incompatible shapes" in str(error)


def test_class_weight_of_zero_is_an_error_at_its_class(tmp_path):
    error = _error(_spec(tmp_path, "  class_weight: {0: 0}"))
    assert error.path == ("train", "class_weight", "0") and "> 0" in str(error)


# -- 3. the same input checks for every source; senseless values; memory; nesting; file kinds ------------


def test_csv_with_infinity_in_a_feature_names_the_column_and_row(tmp_path):
    (tmp_path / "rows.csv").write_text("a,b,label\n1,2,0\n3,inf,1\n5,6,0\n7,8,1\n")
    text = IRIS.format(train="").replace("{sklearn: iris}", "{csv: rows.csv, label: label}").replace("validation_split: 0.2, ", "")
    error = _error(_spec(tmp_path, text=text))
    assert error.path == ("data", "source", "csv")
    assert "infinity in column 'b' (row 1" in str(error)


def test_csv_with_a_missing_label_is_an_error_at_the_label(tmp_path):
    (tmp_path / "rows.csv").write_text("a,b,label\n1,2,0\n3,4,\n5,6,1\n7,8,1\n")
    text = IRIS.format(train="").replace("{sklearn: iris}", "{csv: rows.csv, label: label}").replace("validation_split: 0.2, ", "")
    error = _error(_spec(tmp_path, text=text))
    assert error.path == ("data", "source", "label") and "row 1" in str(error)


def test_npz_with_nan_is_refused_and_allow_nan_lets_it_through_to_the_first_step(tmp_path):
    x = np.random.default_rng(0).normal(size=(40, 3)).astype("float32")
    x[5, 2] = np.nan
    np.savez(tmp_path / "rows.npz", x=x, y=np.arange(40) % 2)
    text = IRIS.format(train="").replace("{sklearn: iris}", "{npz: rows.npz}").replace("normalize: true", "normalize: false")
    error = _error(_spec(tmp_path, text=text))
    assert error.path == ("data", "source") and "NaN in feature 2 (row 5" in str(error)
    allowed = _error(_spec(tmp_path, text=text.replace("normalize: false", "normalize: false, allow_nan: true")))
    assert "first training step's loss is nan" in str(allowed)  # the check moved to the step, which says why


def test_an_npy_file_named_as_an_npz_source(tmp_path):
    np.save(tmp_path / "rows.npy", np.zeros((10, 3)))
    text = IRIS.format(train="").replace("{sklearn: iris}", "{npz: rows.npy}")
    error = _error(_spec(tmp_path, text=text))
    assert error.path == ("data", "source", "npz") and "np.savez" in str(error)


@pytest.mark.parametrize("rate", ["-0.1", "0.0"])
def test_a_learning_rate_that_is_not_positive(tmp_path, rate):
    error = _error(_spec(tmp_path, f"  optimizer: {{Adam: {{learning_rate: {rate}}}}}"))
    assert error.path == ("train", "optimizer", "Adam", "learning_rate") and "positive" in str(error)


def test_a_schedule_that_starts_below_zero(tmp_path):
    error = _error(_spec(tmp_path, "  optimizer: {SGD: {learning_rate: {ExponentialDecay: {initial_learning_rate: -1.0, "
                                   "decay_steps: 10, decay_rate: 0.9}}}}"))
    assert error.path == ("train", "optimizer", "SGD", "learning_rate") and "starts at -1" in str(error)


@pytest.mark.parametrize("train, path", [
    ("  optimizer: {Adam: {beta_1: 1.5}}", ("train", "optimizer", "Adam", "beta_1")),
    ("  optimizer: {Adam: {clipnorm: -1.0}}", ("train", "optimizer", "Adam", "clipnorm")),
    ("  optimizer: {AdamW: {weight_decay: -0.1}}", ("train", "optimizer", "AdamW", "weight_decay")),
    ("  callbacks: [{EarlyStopping: {monitor: val_loss, patience: -1}}]", ("train", "callbacks", 0, "EarlyStopping", "patience")),
])
def test_hyperparameter_values_that_make_no_sense(tmp_path, train, path):
    error = _error(_spec(tmp_path, train))
    assert error.path == path and "must lie in" in str(error)


def test_a_dropout_rate_of_one_and_a_batch_norm_momentum_above_one(tmp_path):
    path = _spec(tmp_path)
    path.write_text(path.read_text().replace("{Dense: {units: 8, activation: relu}}",
                                             "{Dense: {units: 8}}, {Dropout: {rate: 1.0}}"))
    assert _error(path).path == ("model", "layers", 1, "Dropout", "rate")
    path.write_text(path.read_text().replace("{Dropout: {rate: 1.0}}", "{BatchNormalization: {momentum: 2.0}}"))
    assert _error(path).path == ("model", "layers", 1, "BatchNormalization", "momentum")


def test_a_warm_up_from_zero_is_a_schedule_that_trains(tmp_path):
    from tests.conftest import ROOT

    validate(load_spec(ROOT / "specs" / "mnist1d_zoo_cnn.yaml", ["train.epochs=1", "data.source.mnist1d.num_samples=400"]))


def test_a_model_too_large_for_memory_is_refused_with_an_estimate(tmp_path):
    path = _spec(tmp_path)
    path.write_text(path.read_text().replace("units: 8", "units: 1000000000"))
    error = _error(path)
    assert error.path == ("model",) and "parameters" in str(error) and "GiB" in str(error)


def test_a_spec_nested_a_thousand_levels(tmp_path):
    path = _spec(tmp_path, text="version: 1\nmodel: " + "[" * 1000 + "]" * 1000 + "\n")
    with pytest.raises(SpecError, match="nested more than"):
        load_spec(path)
    deep: dict = {}
    node = deep
    for _ in range(2000):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(SpecError, match="nested more than"):
        load_spec({"version": 1, "model": deep})


# -- 4. a tuner's documented constructor arguments in its mapping --------------------------------------


def test_max_trials_in_the_tuner_mapping(tmp_path):
    from zoo.builders.spec.tuners import tuner_settings

    base = IRIS.format(train="").replace("units: 8", "units: {hp: Choice, values: [4, 8]}")
    spec = load_spec(_spec(tmp_path, text=base + "tune: {tuner: {RandomSearch: {max_trials: 4}}}\n"))
    assert tuner_settings(spec, None, True)[1]["max_trials"] == 4
    clash = load_spec(_spec(tmp_path, text=base + "tune: {tuner: {RandomSearch: {max_trials: 4}}, max_trials: 3}\n"))
    with pytest.raises(SpecError) as caught:
        tuner_settings(clash, None, True)
    assert caught.value.path == ("tune", "tuner", "RandomSearch", "max_trials")


# -- 5. nothing a user owns is written or deleted ------------------------------------------------------


def test_predict_output_refuses_an_existing_file(tmp_path, capsys):
    run = zoo.train(str(_spec(tmp_path)), run_dir=tmp_path / "run", verbose=0)
    np.save(tmp_path / "x.npy", np.zeros((3, 4), "float32"))
    model_file = run.run_dir / "model.keras"
    before = model_file.read_bytes()
    result = call_zoo(capsys, "predict", str(run.run_dir), str(tmp_path / "x.npy"), "--output", str(model_file))
    assert result.returncode != 0 and "exists already" in result.stderr
    assert model_file.read_bytes() == before
    result = call_zoo(capsys, "predict", str(run.run_dir), str(tmp_path / "x.npy"), "--output", str(tmp_path / "p.csv"))
    assert result.returncode == 0 and (tmp_path / "p.csv").read_text().startswith("class,name,p0")


@pytest.mark.parametrize("argument", ["{ModelCheckpoint: {filepath: /tmp/zoo-outside.keras}}",
                                      "{CSVLogger: {filename: ../outside.csv}}",
                                      "{BackupAndRestore: {backup_dir: '~/backup'}}"])
def test_callback_paths_outside_the_run_are_refused(tmp_path, argument):
    error = _error(_spec(tmp_path, f"  callbacks:\n    - {argument}"))
    assert error.path[:3] == ("train", "callbacks", 0) and len(error.path) == 5 and "outside the run" in str(error)


def test_an_output_directory_that_cannot_be_made_is_refused_at_validate(tmp_path):
    (tmp_path / "file").write_text("x")
    error = _error(_spec(tmp_path, text=IRIS.format(train="") + f"output: {{directory: {tmp_path / 'file' / 'runs'}}}\n"))
    assert error.path == ("output", "directory") and "is not a folder" in str(error)


def test_a_callback_path_that_is_not_text(tmp_path):
    error = _error(_spec(tmp_path, "  callbacks:\n    - ModelCheckpoint: {filepath: 5}"))
    assert error.path == ("train", "callbacks", 0, "ModelCheckpoint", "filepath") and "text" in str(error)


def test_a_run_dir_that_cannot_be_made_is_an_error_not_a_traceback(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    result = call_zoo(capsys, "train", str(_spec(tmp_path)), "--run-dir", str(tmp_path / "file" / "run"))
    assert result.returncode == 1 and result.stderr.startswith("error: ") and "Traceback" not in result.stderr


def test_learning_curve_sizes_that_are_not_sizes(tmp_path, capsys):
    result = call_zoo(capsys, "learning-curve", str(_spec(tmp_path)), "--sizes", "nan", "2")
    assert result.returncode == 2 and "--sizes" in result.stderr


def test_callback_paths_are_placed_inside_the_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # restored after the test
    result = zoo.train(str(_spec(tmp_path, "  callbacks:\n    - CSVLogger: {filename: log.csv}")), run_dir=tmp_path / "run",
                       verbose=0)
    assert (result.run_dir / "callbacks" / "log.csv").is_file()
    assert not (tmp_path / "log.csv").exists()


def test_a_lock_that_is_a_symlink_is_refused_and_its_target_untouched(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "zoo-manifest.json").write_text(json.dumps({"kind": "run", "state": "training", "spec": "x"}))
    precious = tmp_path / "precious.txt"
    precious.write_text("mine")
    (run / ".zoo.lock").symlink_to(precious)
    with pytest.raises(RunError, match="symbolic link"):
        zoo.resume(run)
    assert precious.read_text() == "mine"


def test_a_refused_run_dir_leaves_no_lock(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match="not empty"):
        zoo.train(str(_spec(tmp_path)), run_dir=folder, verbose=0)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    with pytest.raises(RunError):
        zoo.resume(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def test_a_refused_lr_find_leaves_no_directory(tmp_path, capsys):
    target = tmp_path / "finder"
    result = call_zoo(capsys, "lr-find", str(_spec(tmp_path)), "--min-lr", "1", "--max-lr", "0.1", "--run-dir", str(target))
    assert result.returncode != 0 and not target.exists()


def test_learning_curve_of_a_spec_without_an_output_section(tmp_path, monkeypatch):
    from zoo.builders.tools.curves import learning_curve

    monkeypatch.chdir(tmp_path)  # restored after the test
    result = learning_curve(str(_spec(tmp_path)), sizes=[0.3, 1.0])
    assert Path(result["directory"]).resolve().parent == (tmp_path / "runs" / "promise").resolve()
    assert len(result["validation_error"]) == 2


# -- 6. the Python API reads the labels as the file sources do ------------------------------------------


def _api_spec() -> dict:
    return {"version": 1, "name": "api", "model": {"layers": [{"Dense": {"units": 8, "activation": "relu"}}], "head": "auto"},
            "train": {"epochs": 1, "metrics": ["accuracy"]}}


@pytest.mark.parametrize("form", ["column", "one_hot", "negative", "huge"])
def test_api_labels_are_read_as_classes(tmp_path, form):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype("float32")
    classes = np.arange(60) % 3
    y = {"column": classes[:, None], "one_hot": np.eye(3)[classes], "negative": classes - 1,
         "huge": np.array([5, 10**12, 7])[classes]}[form]
    result = zoo.train(_api_spec(), data=(x, y), run_dir=tmp_path / "run", verbose=0)
    assert result.model.outputs[0].shape[-1] == 3
    assert "accuracy" in result.metrics["monitor"] or "final_accuracy" in result.metrics
    facts = json.loads((result.run_dir / "data.json").read_text())
    assert facts["task"] == "multiclass" and facts["num_classes"] == 3
    if form in ("negative", "huge"):
        assert facts["class_names"] == [str(v) for v in sorted(set(y.tolist()))]


def test_api_multi_hot_labels_are_refused(tmp_path):
    y = np.array([[1, 1, 0], [0, 1, 0]] * 10)
    with pytest.raises(SpecError, match="multi-label"):
        zoo.train(_api_spec(), data=(np.zeros((20, 4), "float32"), y), run_dir=tmp_path / "run", verbose=0)


def test_api_misuse_is_a_clear_error(tmp_path):
    x = np.random.default_rng(0).normal(size=(60, 4)).astype("float32")
    y = np.arange(60) % 3
    with pytest.raises(SpecError, match="got NoneType"):
        zoo.train(None, data=(x, y))
    with pytest.raises(SpecError, match="no label in row 2"):
        zoo.train(_api_spec(), data=(x, np.array(["a", "b", None] * 20, dtype=object)), run_dir=tmp_path / "r")
    with pytest.raises(SpecError, match="the same label"):
        zoo.train(_api_spec(), data=(x, np.zeros(60, "int64")), run_dir=tmp_path / "r")
    with pytest.raises(SpecError, match="names a DataFrame's target column"):
        zoo.train(_api_spec(), data=(x, y), label="y", run_dir=tmp_path / "r")
    with pytest.raises(TypeError, match="run_dir is a path"):
        zoo.train(_api_spec(), data=(x, y), run_dir=5)
    with pytest.raises(SpecError, match="missing required key 'model'"):
        zoo.validate({"version": 1})
    assert not (tmp_path / "r").exists()
    one = zoo.train(_api_spec(), "train.epochs=2", data=(x, y), run_dir=tmp_path / "one", verbose=0)  # one override alone
    assert one.metrics["epochs_run"] == 2


# -- 7. names that are legal file names are legal run names ------------------------------------------


def test_a_non_ascii_name_trains(tmp_path):
    text = IRIS.format(train="").replace("name: promise", "name: modèle-über")
    result = zoo.train(str(_spec(tmp_path, text=text)), run_dir=tmp_path / "run", verbose=0)
    assert result.metrics["epochs_run"] == 2 and result.model.name == "mod_le-_ber"


def test_unfreezing_on_jax_is_refused_at_validate(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    text = (ROOT / "specs" / "transfer_digits_5to9.yaml").read_text().replace("models/", str(ROOT / "specs" / "models") + "/")
    path = _spec(tmp_path, text=text)
    result = subprocess.run([sys.executable, "-m", "zoo.builders.cli.main", "validate", str(path)], capture_output=True,
                            text=True, timeout=300, env={**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 2, result.stderr
    assert "transfer.unfreeze" in result.stderr and "TensorFlow backend" in result.stderr
