"""The `pretrain` and `transfer` sections, callbacks named in specs, `zoo doctor` and `zoo lr-find`, end to end."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import yaml

from zoo.builders.run.history import read_history
from zoo.builders.run.train import train
from zoo.builders.spec.document import load_spec
from zoo.builders.spec.errors import SpecError
from tests.conftest import DIGITS_SPEC, ROOT, call_zoo, run_zoo

PRETRAIN_SPEC = ROOT / "specs" / "deep_sigmoid_pretrain.yaml"


@pytest.mark.slow  # 37 s; the pretrain section's mechanics (phases, resume, rbm, errors) stay in the default run
def test_pretrain_section_beats_the_same_network_from_scratch_for_the_same_epochs(tmp_path):
    """specs/deep_sigmoid_pretrain.yaml: 10 sigmoid layers, 10 x 5 pretraining + 5 fine-tuning epochs,
    against `pretrain=null train.epochs=55`; seed 1 in the spec."""
    pretrained = train(PRETRAIN_SPEC, run_dir=tmp_path / "pretrained", quiet=True)
    scratch = train(PRETRAIN_SPEC, ["pretrain=null", "train.epochs=55"], run_dir=tmp_path / "scratch", quiet=True)
    phases = json.loads((tmp_path / "pretrained" / "pretrain.json").read_text())
    assert len(phases) == 10 and sum(p["epochs"] for p in phases) + pretrained.epochs_run == 55 == scratch.epochs_run
    assert scratch.metrics["final_val_accuracy"] < 0.3
    assert pretrained.metrics["final_val_accuracy"] > 0.85
    assert (tmp_path / "pretrained" / "pretrained.weights.h5").exists()


def test_a_dbn_spec_behind_input_preprocessing_pretrains_its_rbms(tmp_path):
    """specs/digits_dbn.yaml, small: `zoo: dbn` behind the spec's rescaling (a nested model) is still a chain
    of layers, each hidden layer starts from an RBM, and pretrain.json records the reconstruction errors."""
    result = train(ROOT / "specs" / "digits_dbn.yaml", ["model.units=[32, 16]", "pretrain.epochs_per_layer=2",
                                                        "pretrain.head_epochs=1", "train.epochs=2"],
                   run_dir=tmp_path / "dbn", quiet=True)
    phases = json.loads((tmp_path / "dbn" / "pretrain.json").read_text())
    assert [p["kind"] for p in phases] == ["rbm", "rbm", "output layer"]
    assert phases[0]["visible"] == "bernoulli" and all(0 < p["reconstruction_error"] < 0.2 for p in phases[:2])
    assert result.epochs_run == 2 and np.isfinite(result.metrics["final_val_loss"])


def test_resumed_run_keeps_its_pretrained_weights_instead_of_pretraining_again(tmp_path):
    text = DIGITS_SPEC.replace("  epochs: 2", "  epochs: 2\npretrain: {epochs_per_layer: 1}")
    spec = load_spec(text)
    run_dir = tmp_path / "run"
    from zoo.builders.run.rundir import OwnedDirectory
    from zoo.builders.run.train import resume

    OwnedDirectory.claim(run_dir, "run", spec.resolved().to_yaml()).release()  # a run that stopped after pretraining
    (run_dir / "spec.yaml").write_text(spec.resolved().to_yaml())

    first = train(spec, run_dir=tmp_path / "complete", quiet=True)
    assert (tmp_path / "complete" / "pretrain.json").exists()
    # an interrupted run whose pretraining finished: resume loads those weights and does not pretrain
    import shutil

    for name in ("pretrain.json", "pretrained.weights.h5"):
        shutil.copy(tmp_path / "complete" / name, run_dir / name)
    stamp = (run_dir / "pretrain.json").stat().st_mtime_ns
    result = resume(run_dir, quiet=True)
    assert (run_dir / "pretrain.json").stat().st_mtime_ns == stamp
    assert result.epochs_run == first.epochs_run == 2


def _train_source(tmp_path):
    return train(ROOT / "specs" / "digits_0to4.yaml", ["train.epochs=5"], run_dir=tmp_path / "source", quiet=True)


def test_transfer_section_freezes_reused_layers_and_unfreezes_the_top_one_on_schedule(tmp_path, capsys):
    source = _train_source(tmp_path)
    result = train(ROOT / "specs" / "transfer_digits_5to9.yaml",
                   [f"transfer.from={tmp_path / 'source'}", "train.epochs=12"], run_dir=tmp_path / "transfer", quiet=True)
    assert "UnfreezeSchedule: epoch 11: unfroze features_2 at learning rate 0.0001" in capsys.readouterr().out
    rates = [row["learning_rate"] for row in read_history(tmp_path / "transfer" / "history.csv")]
    assert rates[:10] == [pytest.approx(1e-3)] * 10 and rates[10:] == [pytest.approx(1e-4)] * 2
    trained = result.model
    reference = source.model
    for name in ("features_1", "features_1_bn"):  # never unfrozen: exactly the source's weights
        assert all(np.array_equal(a, b) for a, b in zip(reference.get_layer(name).get_weights(), trained.get_layer(name).get_weights()))
    assert not all(np.array_equal(a, b) for a, b in zip(reference.get_layer("features_2").get_weights(),
                                                         trained.get_layer("features_2").get_weights()))
    assert result.metrics["final_val_accuracy"] > 0.5
    reloaded = keras.saving.load_model(tmp_path / "transfer" / "model.keras", safe_mode=True)
    assert [layer.name for layer in reloaded.layers][2:5] == ["features_1", "features_1_bn", "features_2"]


TRANSFER_ERRORS = [
    ("until-unknown", ["transfer.until=features_9"], "transfer.until", "no layer named 'features_9'"),
    ("too-many-layers", ["transfer.until=null", "transfer.layers=7"], "transfer.layers", "cannot reuse 7"),
    ("unfreeze-too-many", ["transfer.unfreeze.layers=5"], "transfer.unfreeze.layers", "cannot unfreeze 5 layers"),
    ("unfreeze-nothing-frozen", ["transfer.mode=fine_tune"], "transfer.unfreeze", "no layer of the model is frozen"),
    ("unfreeze-too-late", ["transfer.unfreeze.after_epoch=20"], "transfer.unfreeze.after_epoch", "never reached"),
    ("missing-file", ["transfer.from=nowhere/model.keras"], "transfer.from", "not found"),
    ("wrong-shape", ["data.source={mnist1d: {num_samples: 200}}", "data.classes=null"], "transfer.from", "rows of shape"),
]


@pytest.mark.parametrize("overrides, key_path, words", [case[1:] for case in TRANSFER_ERRORS], ids=[c[0] for c in TRANSFER_ERRORS])
def test_bad_transfer_settings_are_spec_errors_before_training(tmp_path, source_model, overrides, key_path, words):
    if "transfer.from=nowhere/model.keras" not in overrides:
        overrides = [f"transfer.from={source_model}", *overrides]
    with pytest.raises(SpecError, match=words) as error:
        train(ROOT / "specs" / "transfer_digits_5to9.yaml", overrides, run_dir=tmp_path / "run", quiet=True)
    assert error.value.key_path == key_path
    assert not (tmp_path / "run" / "history.csv").exists()


@pytest.fixture(scope="module")
def source_model(tmp_path_factory):
    """A small saved 0-4 model for the error cases (they fail before it is trained on)."""
    target = tmp_path_factory.mktemp("source") / "run"
    train(ROOT / "specs" / "digits_0to4.yaml", ["train.epochs=1"], run_dir=target, quiet=True)
    return target


PRETRAIN_ERRORS = [
    ("epochs-list-length", "pretrain: {epochs_per_layer: [1, 2, 3]}", "pretrain.epochs_per_layer", "3 entries for 1 hidden layers"),
    ("residual", "pretrain: {}", "pretrain", "not a chain"),
    ("with-transfer", "pretrain: {}\ntransfer: {from: x.keras}", "transfer.from", "not found"),
    ("bad-mode", "pretrain: {mode: greedy}", "pretrain.mode", "supervised"),
    ("rbm-on-relu", "pretrain: {mode: rbm}", "pretrain.mode", "needs sigmoid hidden layers"),
    ("tied-when-supervised", "pretrain: {tied: true}", "pretrain.tied", "applies to mode unsupervised, not supervised"),
    ("k-when-unsupervised", "pretrain: {mode: unsupervised, k: 3}", "pretrain.k", "applies to mode rbm, not unsupervised"),
    ("noise-out-of-range", "pretrain: {mode: unsupervised, noise: 1.0}", "pretrain.noise", "1.0"),
]


@pytest.mark.parametrize("section, key_path, words", [case[1:] for case in PRETRAIN_ERRORS], ids=[c[0] for c in PRETRAIN_ERRORS])
def test_bad_pretrain_settings_are_spec_errors_before_training(tmp_path, section, key_path, words):
    text = DIGITS_SPEC + section + "\n"
    if "residual" in words or "chain" in words:
        text = text.replace("    - Dense: {units: 32}\n", "    - residual: [Dense: {units: 64}]\n    - Dense: {units: 32}\n")
    with pytest.raises(SpecError, match=words) as error:
        train(load_spec(text), run_dir=tmp_path / "run", quiet=True)
    assert error.value.key_path == key_path
    assert error.value.line is not None
    assert not (tmp_path / "run" / "history.csv").exists()


def test_callbacks_named_in_a_spec_get_a_probe_and_write_their_records(tmp_path):
    text = DIGITS_SPEC + "  callbacks:\n    - GradientMonitor: {every: 5, vanishing: 1.0e-9}\n    - ActivationMonitor: {dead_threshold: 0.9}\n"
    result = train(load_spec(text), run_dir=tmp_path / "run", quiet=True)
    rows = read_history(tmp_path / "run" / "history.csv")
    layers = [layer.name for layer in result.model.layers if layer.trainable_weights]
    relu = layers[0]  # the hidden ReLU layer, then the output layer
    assert {f"grad_norm/{name}" for name in layers} | {f"dead_fraction/{relu}"} <= set(rows[0])
    assert all(row[f"grad_norm/{name}"] > 0 for row in rows for name in layers)
    assert list((tmp_path / "run" / "logs" / "gradients").glob("events.out.tfevents.*"))
    # written back: the spec's own component, from the callback's config
    from zoo.builders.spec.resolve import resolve

    spec = load_spec(text)
    monitor = resolve(spec.get("train", "callbacks", 0), "callback", spec, ("train", "callbacks", 0))
    assert monitor.as_component()["GradientMonitor"]["every"] == 5
    again = load_spec(DIGITS_SPEC + "  callbacks:\n    - " + yaml.safe_dump(monitor.as_component(), default_flow_style=True))
    assert resolve(again.get("train", "callbacks", 0), "callback", again, ("train", "callbacks", 0)).get_config() == monitor.get_config()
    assert result.metrics["epochs_run"] == 2


def test_zoo_doctor_prints_a_report_and_writes_json_and_plots(tmp_path, capsys):
    spec = tmp_path / "deep.yaml"
    spec.write_text(PRETRAIN_SPEC.read_text())
    completed = call_zoo(capsys, "doctor", str(spec), "pretrain=null", "--epochs", "1", "--run-dir", str(tmp_path / "doctor"),
                         "--gradcheck", "8")
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    assert "[  ok] initial loss" in out
    assert "[  ok] gradient check: 8 weights, central differences in float64" in out
    assert "[warn] gradient norms at initialization" in out and "vanishing towards the input" in out
    assert "[warn] overfit a small batch" in out  # 10 sigmoid layers cannot even fit 32 rows
    assert "verdict: high bias" in out
    report = json.loads((tmp_path / "doctor" / "doctor.json").read_text())
    assert report["initial_loss"]["expected"] == pytest.approx(np.log(10))
    assert set(report["at_initialization"]) == {"gradient_norms", "activations", "weights"}
    assert len(report["gradient_check"]["checks"]) == 8 and report["gradient_check"]["max_relative_error"] < 1e-4
    for name in ("doctor.txt", "gradient_norms.png", "activations.png", "overfit.png"):
        assert (tmp_path / "doctor" / name).stat().st_size > 100


def test_zoo_lr_find_suggests_a_rate_and_plots_the_curve(tmp_path, capsys):
    completed = call_zoo(capsys, "lr-find", str(ROOT / "specs" / "digits_mlp.yaml"), "--steps", "60", "--run-dir", str(tmp_path / "lr"))
    assert completed.returncode == 0, completed.stderr
    assert "suggested learning rate:" in completed.stdout
    result = json.loads((tmp_path / "lr" / "lr_find.json").read_text())
    assert 1e-5 < result["suggestion"] < 1.0
    assert (tmp_path / "lr" / "lr_find.png").stat().st_size > 1000
    bad = call_zoo(capsys, "lr-find", str(ROOT / "specs" / "digits_mlp.yaml"), "--min-lr", "1", "--max-lr", "0.1")
    assert bad.returncode == 2 and "must be above" in bad.stderr


EXPLODING_SPEC = """\
version: 1
name: exploding
seed: 0
data: {source: {sklearn: diabetes}, validation_split: 0.2, normalize: true, batch_size: 32}
model:
  layers: [Dense: {units: 64, activation: relu}, Dense: {units: 64, activation: relu}, Dense: {units: 1}]
train:
  optimizer: OPTIMIZER
  loss: mse
  epochs: 6
  callbacks: [TerminateOnNaN]
output: {tensorboard: false, plots: false}
"""


@pytest.mark.parametrize("clipping", [
    "clipnorm: 1.0", "clipvalue: 0.5", "global_clipnorm: 10.0", "layer_clipnorm: {'*': 1.0}",
])
def test_clipping_from_a_spec_turns_a_diverging_regression_into_one_that_trains(tmp_path, clipping):
    """Diabetes targets (25 to 346) under MSE at SGD 0.05: the first steps overflow without clipping."""
    plain = train(load_spec(EXPLODING_SPEC.replace("OPTIMIZER", "{SGD: {learning_rate: 0.05}}")), run_dir=tmp_path / "plain", quiet=True)
    assert plain.epochs_run == 1 and not np.isfinite(plain.history["loss"][0])  # TerminateOnNaN stopped it
    name = "LayerwiseSGD" if "layer_clipnorm" in clipping else "SGD"
    clipped = train(load_spec(EXPLODING_SPEC.replace("OPTIMIZER", f"{{{name}: {{learning_rate: 0.05, {clipping}}}}}")),
                    run_dir=tmp_path / "clipped", quiet=True)
    assert clipped.epochs_run == 6
    assert np.isfinite(clipped.history["val_loss"][-1]) and clipped.history["loss"][-1] < 0.6 * clipped.history["loss"][0]


@pytest.mark.parametrize("monitor, words", [
    ("val_acc", "monitors 'val_acc', which training does not log.*Did you mean 'val_accuracy'"),
    ("accuracy_val", "which training does not log"),
])
def test_a_monitor_that_is_never_logged_is_an_error_before_training(tmp_path, monitor, words):
    text = DIGITS_SPEC + f"  callbacks: [EarlyStopping: {{monitor: {monitor}}}]\n"
    with pytest.raises(SpecError, match=words) as error:
        train(load_spec(text), run_dir=tmp_path / "run", quiet=True)
    assert error.value.key_path == "train.callbacks[0]" and error.value.line == 22
    assert not (tmp_path / "run" / "history.csv").exists()
