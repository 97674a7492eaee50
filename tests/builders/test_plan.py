"""The one run plan: every command reads a spec the same way, and `zoo validate` is its dry run."""

from __future__ import annotations

import os
import subprocess
import sys

import keras
import keras_tuner
import pytest

from tests.conftest import DIGITS_SPEC, ROOT, call_zoo
from zoo.builders.run.plan import build_plan, validate
from zoo.builders.search.hypermodel import build_hypermodel
from zoo.builders.spec.document import load_spec
from zoo.builders.spec.errors import SpecError

SPECS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "specs").rglob("*.yaml"))


@pytest.mark.parametrize("file", SPECS)
def test_every_shipped_spec_passes_zoo_validate(file, tmp_path, monkeypatch, capsys):
    """Through the CLI's own entry point (in this process: a subprocess per spec would cost a TensorFlow import each;
    test_cli runs `zoo validate` as a real subprocess)."""
    from zoo.builders.cli.main import main

    monkeypatch.chdir(tmp_path)  # from any folder: a spec's files are found beside it
    status = main(["validate", str(ROOT / file)])
    printed = capsys.readouterr()
    assert status == 0, printed.err[-2000:]
    assert f"{ROOT / file}: ok" in printed.out


def _error(text: str) -> SpecError:
    with pytest.raises(SpecError) as caught:
        validate(load_spec(text))
    return caught.value


# (id, edit of DIGITS_SPEC, line, key path, words): problems only the plan can see, before the first batch.
PLAN_CORPUS = [
    ("head-fewer-units-than-classes", ("units: 10, activation: softmax", "units: 5, activation: softmax"), 16,
     "model.layers[1]", "10 classes"),
    ("defaults-misspelled-key", ("    activation: relu\n", "    activation: relu\n    kernel_initialiser: he_normal\n"), 13,
     "model.defaults.kernel_initialiser", "kernel_initializer"),
    ("input-shape-against-data", ("  defaults:", "  input_shape: [32]\n  defaults:"), 10, "model.input_shape", "[64]"),
    ("monitor-never-logged", ("  epochs: 2", "  epochs: 2\n  callbacks: [{EarlyStopping: {monitor: val_acc}}]"), 22,
     "train.callbacks[0]", "val_accuracy"),
    ("tuner-misspelled", ("  epochs: 2", "  epochs: 2\ntune: {tuner: RandomSerch}"), 22, "tune.tuner", "RandomSearch"),
    ("tuner-argument-misspelled", ("  epochs: 2", "  epochs: 2\ntune: {tuner: {Hyperband: {max_epoch: 3}}}"), 22,
     "tune.tuner.Hyperband.max_epoch", "max_epochs"),
    ("hyperband-max-trials", ("  epochs: 2", "  epochs: 2\ntune: {tuner: {Hyperband: {max_epochs: 3}}, max_trials: 4}"), 22,
     "tune.max_trials", "Hyperband"),
    ("objective-misspelled", ("  epochs: 2", "  epochs: 2\ntune: {objective: val_acuracy}"), 22, "tune.objective",
     "val_accuracy"),
    ("marker-extreme-breaks", ("units: 32", "units: {hp: Int, min_value: 1, max_value: 64}"), 15,
     "model.layers[0].Dense.units", None),
    ("zoo-argument-type", None, 8, "model.batch_norm", "true or false"),
    ("batch-schedule-never-grows", ("  epochs: 2", "  epochs: 2\n  callbacks: [{BatchSizeSchedule: {every: 2}}]"), 22,
     "train.callbacks[0]", "never grows: training runs 2 epochs"),
    ("batch-schedule-cap-below-start", ("  epochs: 2", "  epochs: 2\n  callbacks: [{BatchSizeSchedule: {every: 1, "
                                       "max_batch_size: 32}}]"), 22, "train.callbacks[0]", "below the starting batch size 64"),
    ("two-batch-schedules", ("  epochs: 2", "  epochs: 2\n  callbacks: [{BatchSizeSchedule: {every: 1}}, "
                             "{BatchSizeSchedule: {every: 1}}]"), 22, "train.callbacks[1]", "only one"),
    ("batch-schedule-with-step-decay", ("optimizer: {Adam: {learning_rate: 1.0e-3}}", "optimizer: {SGD: {learning_rate: "
                                        "{StepDecay: {initial_learning_rate: 0.1, every: 1}}}}\n  callbacks: "
                                        "[{BatchSizeSchedule: {every: 1}}]"), 18,
     "train.optimizer.SGD.learning_rate.StepDecay", "give steps_per_epoch"),
    ("eager-with-xla", ("  epochs: 2", "  epochs: 2\nruntime: {run_eagerly: true, jit_compile: true}"), 22,
     "runtime.run_eagerly", "jit_compile: true"),
    ("pretrain-with-transfer-shape", ("  epochs: 2", "  epochs: 2\npretrain: {epochs_per_layer: [1, 2, 3]}"), 22,
     "pretrain.epochs_per_layer", "hidden layers"),
]


def _plan_text(edit) -> str:
    if edit is None:
        return ("version: 1\nname: z\ndata:\n  source: {sklearn: iris}\n  validation_split: 0.2\nmodel:\n"
                "  zoo: mlp\n  batch_norm: sometimes\n")
    old, new = edit
    assert old in DIGITS_SPEC, old
    return DIGITS_SPEC.replace(old, new, 1)


@pytest.mark.parametrize("edit, line, path, words", [c[1:] for c in PLAN_CORPUS], ids=[c[0] for c in PLAN_CORPUS])
def test_plan_problems_are_spec_errors_at_their_line(edit, line, path, words):
    if path == "model.layers[0].Dense.units":  # a marker whose minimum is fine: the test is that it validates
        text = _plan_text(edit)
        assert validate(load_spec(text))
        return
    error = _error(_plan_text(edit))
    assert error.line == line, str(error)
    assert error.key_path == path, str(error)
    assert words.lower() in str(error).lower(), str(error)


def test_a_marker_at_its_extreme_is_built_by_validate():
    """A search that would fail at max_value fails in validate, not in trial 7."""
    text = DIGITS_SPEC.replace("dropout: 0.1", "dropout: {hp: Float, min_value: 0.0, max_value: 1.0}")
    error = _error(text)
    assert error.key_path.startswith("model.defaults.dropout") or "dropout" in str(error), str(error)


def test_graph_node_with_a_one_element_input_list_takes_the_tensor():
    text = ("version: 1\nmodel:\n  inputs: {x: [4]}\n  graph:\n    - {name: h, inputs: [x], layer: {Dense: {units: 3}}}\n"
            "    - {name: out, inputs: [h], layer: {Dense: {units: 1}}}\n  outputs: out\ntrain: {loss: mse}\n")
    assert validate(load_spec(text))


def test_train_and_a_tuning_trial_build_the_same_plan():
    """`class_weight: balanced` and every other section mean the same in train and in a trial."""
    text = DIGITS_SPEC.replace("  epochs: 2", "  epochs: 2\n  class_weight: balanced").replace(
        "units: 32", "units: {hp: Int, min_value: 16, max_value: 32, step: 16, default: 32}")
    spec = load_spec(text)
    trained = build_plan(spec)
    hypermodel = build_hypermodel(spec)
    model = hypermodel.build(keras_tuner.HyperParameters())
    trial = hypermodel._plans[model]
    assert trial.class_weight == trained.class_weight and trial.class_weight is not None
    assert trial.epochs == trained.epochs == 2
    assert trial.spec.tree == trained.spec.tree
    assert [type(layer).__name__ for layer in trial.model.layers] == [type(layer).__name__ for layer in trained.model.layers]
    keras.backend.clear_session()


def test_validate_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = DIGITS_SPEC.replace("units: 32", "units: {hp: Int, min_value: 8, max_value: 32}") + "tune: {max_trials: 2}\n"
    assert "tune settings" in validate(load_spec(text))
    assert list(tmp_path.iterdir()) == []


def test_a_refused_train_or_tune_creates_no_directory(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(DIGITS_SPEC.replace("units: 10, activation: softmax", "units: 3, activation: softmax")
                   .replace("  epochs: 2", "  epochs: 2\ntune: {max_trials: 2}").replace("units: 32", "units: {hp: Int, min_value: 8, max_value: 32}"))
    monkeypatch.chdir(tmp_path)
    for command in ("train", "tune"):
        done = call_zoo(capsys, command, str(bad))
        assert done.returncode == 2 and "10 classes" in done.stderr and "Traceback" not in done.stderr, done.stderr[-1500:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_one_import_root(tmp_path):
    """Installed, the distribution claims `zoo` only: a user's own callbacks.py or builders.py shadows nothing."""
    (tmp_path / "callbacks.py").write_text("raise SystemExit('the user callbacks.py was imported')\n")
    (tmp_path / "builders.py").write_text("raise SystemExit('the user builders.py was imported')\n")
    script = ("import importlib.util, sys\n"
              "import zoo\n"
              "assert 'keras' not in sys.modules, 'import zoo must be free'\n"
              "from zoo import train, tune, load_spec, build_model, resume, evaluate, predict, SpecHyperModel, build_plan\n"
              "assert callable(train) and callable(tune) and isinstance(SpecHyperModel, type)\n"
              "from zoo.layers import Maxout\n"
              "from zoo.callbacks import GradientMonitor\n"
              "assert importlib.util.find_spec('builders').origin.startswith(sys.argv[1])\n"
              "print('ok')\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, cwd=tmp_path,
                          env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()
    for name in ("builders", "callbacks"):
        gone = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True, cwd=elsewhere, env=env)
        assert gone.returncode != 0 and "No module named" in gone.stderr, (name, gone.stderr[-500:])


def test_keras_tuner_internals_we_rely_on_exist():
    """builders/search/_keras_tuner.py is the one place that touches KerasTuner's internals: if one moves, this fails."""
    from zoo.builders.search import _keras_tuner

    assert keras_tuner.__version__.startswith("1.4."), keras_tuner.__version__
    for cls, attribute in _keras_tuner.INTERNALS:
        assert hasattr(cls, attribute) or attribute in vars(cls(objective="loss", **({"max_epochs": 3} if "Hyperband" in cls.__name__ else {}))), (cls, attribute)
