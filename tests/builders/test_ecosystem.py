"""Shipping and tracking runs: export (SavedModel, TFLite, ONNX) reloaded by each runtime, MODEL_CARD.md,
run.json, TensorBoard hparams, MLflow on a local store, per-class reports, `zoo compare`, and the Python
API with data in memory (arrays, a DataFrame, a tf.data.Dataset) and named inputs."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

import zoo
from zoo.builders.run.train import resume, train
from zoo.builders.spec.document import load_spec
from zoo.builders.spec.errors import RunError, SpecError
from tests.conftest import DIGITS_SPEC, call_zoo

# A digits model with a zoo layer in it, a test split, three epochs: the run every test here starts from.
ZOO_LAYER_SPEC = DIGITS_SPEC.replace("    - Dense: {units: 32}\n", "    - Maxout: {units: 16, pieces: 2}\n").replace(
    "  validation_split: 0.2\n", "  validation_split: 0.2\n  test_split: 0.2\n").replace("epochs: 2", "epochs: 3")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "run"
    result = train(load_spec(ZOO_LAYER_SPEC), run_dir=run_dir, verbose=0)
    return run_dir, result


def _rows(run_dir):
    from zoo.builders.data.load import load_data

    data = load_data(load_spec(run_dir / "spec.yaml").resolved())
    return data.arrays["test"][0][:32].astype("float32")


def test_export_saved_model_tflite_and_onnx_reload_with_their_runtimes(finished_run, tmp_path, capsys):
    import onnxruntime
    import tensorflow as tf

    run_dir, result = finished_run
    rows = _rows(run_dir)
    expected = result.model.predict(rows, verbose=0)
    assert any(type(layer).__name__ == "Maxout" for layer in result.model.layers)  # a zoo layer exports too

    saved = call_zoo(capsys, "export", str(run_dir), "--format", "saved_model", "--output", str(tmp_path / "saved"))
    assert saved.returncode == 0, saved.stderr
    loaded = tf.saved_model.load(str(tmp_path / "saved"))  # kept: its variables go with it
    served = loaded.serve(tf.constant(rows)).numpy()
    np.testing.assert_allclose(served, expected, atol=1e-5)
    assert (tmp_path / "saved" / "MODEL_CARD.md").is_file()

    lite = call_zoo(capsys, "export", str(run_dir), "--format", "tflite", "--output", str(tmp_path / "model.tflite"))
    assert lite.returncode == 0, lite.stderr
    interpreter = tf.lite.Interpreter(model_path=str(tmp_path / "model.tflite"))
    entry = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(entry["index"], list(rows.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(entry["index"], rows)
    interpreter.invoke()
    np.testing.assert_allclose(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), expected, atol=1e-4)

    onnx = call_zoo(capsys, "export", str(run_dir), "--format", "onnx", "--output", str(tmp_path / "model.onnx"))
    assert onnx.returncode == 0, onnx.stderr
    assert "match the Keras model's" in onnx.stdout
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {session.get_inputs()[0].name: rows})[0], expected, atol=1e-4)


def test_export_refuses_without_touching_anything(finished_run, tmp_path, capsys):
    run_dir, _ = finished_run
    existing = tmp_path / "model.onnx"
    existing.write_text("the user's file")
    refused = call_zoo(capsys, "export", str(run_dir), "--format", "onnx", "--output", str(existing))
    assert refused.returncode == 1 and "exists" in refused.stderr and existing.read_text() == "the user's file"
    suffix = call_zoo(capsys, "export", str(run_dir), "--format", "tflite", "--output", str(tmp_path / "model.bin"))
    assert suffix.returncode == 1 and "ends in .tflite" in suffix.stderr
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "spec.yaml").write_text(ZOO_LAYER_SPEC)
    assert "no finished run" in call_zoo(capsys, "export", str(unfinished), "--format", "saved_model",
                                         "--output", str(tmp_path / "x")).stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "unfinished"]  # no staging folder left


def test_the_run_records_itself(finished_run):
    run_dir, result = finished_run
    record = json.loads((run_dir / "run.json").read_text())
    assert {"python", "keras", "keras-tuner", "keras-zoo", "tensorflow"} <= set(record["versions"])
    assert record["backend"] == "tensorflow" and record["devices"] and record["command"]
    assert "git" in record  # a commit inside a repository, null outside one
    card = (run_dir / "MODEL_CARD.md").read_text()
    for words in ("## Intended use", "_to be filled in by the model's owner_", "Rows per split", "On the test split:",
                  f"| accuracy | {result.metrics['test_accuracy']:.4f} |", "Per class, validation split", "```yaml"):
        assert words in card
    # best_epoch counts from 1, as the console and the plot do
    losses = result.history["val_loss"]
    assert result.metrics["best_epoch"] == int(np.argmin(losses)) + 1


def test_per_class_report_matches_the_models_predictions(finished_run):
    from sklearn.metrics import precision_recall_fscore_support

    from zoo.builders.data.load import load_data

    run_dir, result = finished_run
    data = load_data(load_spec(run_dir / "spec.yaml").resolved())
    x, y = data.arrays["validation"]
    predicted = result.model.predict(x, verbose=0).argmax(axis=1)
    precision, recall, _, support = precision_recall_fscore_support(y, predicted, labels=list(range(10)), zero_division=0)
    table = pd.read_csv(run_dir / "classes_validation.csv")
    np.testing.assert_allclose(table["precision"], precision, atol=1e-4)
    np.testing.assert_allclose(table["recall"], recall, atol=1e-4)
    assert table["support"].sum() == len(y) and list(table["support"]) == list(support)
    for split in ("validation", "test"):
        assert (run_dir / f"confusion_{split}.png").stat().st_size > 1000


def test_hparams_of_a_run_reach_tensorboard(finished_run):
    import tensorflow as tf
    from tensorboard.plugins.hparams import plugin_data_pb2

    run_dir, result = finished_run
    hparams, scalars = {}, set()
    for events in (run_dir / "logs").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "hparams":
                    data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
                    hparams.update(data.session_start_info.hparams)
                elif value.tag.startswith(("final_", "test_")):
                    scalars.add(value.tag)
    assert hparams["train.optimizer.Adam.learning_rate"].number_value == pytest.approx(1e-3)
    assert hparams["model.layers[0].Maxout.pieces"].number_value == 2
    assert hparams["data.source.sklearn"].string_value == "digits"
    assert {"final_val_accuracy", "test_accuracy"} <= scalars


def test_mlflow_logs_params_epochs_files_and_the_model_to_a_local_store(tmp_path):
    from mlflow.tracking import MlflowClient

    output = tmp_path / "runs"
    run_dir = tmp_path / "run"
    result = train(load_spec(DIGITS_SPEC, [f"output.directory={output}", "output.mlflow={experiment: digits}"]),
                   run_dir=run_dir, verbose=0)
    saved = json.loads((run_dir / "mlflow.json").read_text())
    assert saved["tracking_uri"] == f"sqlite:///{output.resolve() / 'mlflow.db'}"
    client = MlflowClient(saved["tracking_uri"])
    run = client.get_run(saved["run_id"])
    assert run.info.status == "FINISHED" and client.get_experiment(run.info.experiment_id).name == "digits"
    assert run.data.params["model.layers.0.Dense.units"] == "32" and run.data.params["data.batch_size"] == "64"
    history = [m.value for m in client.get_metric_history(saved["run_id"], "val_loss")]
    assert history == pytest.approx(result.history["val_loss"])
    assert run.data.metrics["final_val_accuracy"] == pytest.approx(result.metrics["final_val_accuracy"])
    files = {a.path for a in client.list_artifacts(saved["run_id"])} | {a.path for a in client.list_artifacts(saved["run_id"], "model")}
    assert {"spec.yaml", "metrics.json", "MODEL_CARD.md", "model/model.keras"} <= files
    assert (output / "mlartifacts").is_dir()  # artifacts stay under the output directory, not the working folder


def test_mlflow_settings_are_checked():
    with pytest.raises(SpecError, match="output.mlflow.tracking_uri"):
        load_spec(DIGITS_SPEC, ["output.mlflow={tracking_uri: 3}"])
    with pytest.raises(SpecError, match="unknown key 'experimnt'"):
        load_spec(DIGITS_SPEC, ["output.mlflow={experimnt: x}"])


def test_compare_shows_spec_differences_metrics_and_overlaid_curves(finished_run, tmp_path, capsys):
    run_dir, result = finished_run
    other = tmp_path / "wider"
    train(load_spec(ZOO_LAYER_SPEC, ["model.layers[0].Maxout.units=24", "train.epochs=2"]), run_dir=other, verbose=0)
    plot = tmp_path / "compare.png"
    shown = call_zoo(capsys, "compare", str(run_dir), str(other), "--output", str(plot))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert any(line.split()[:3] == ["model.layers[0].Maxout.units", "16", "24"] for line in lines)
    assert any(line.split()[:3] == ["train.epochs", "3", "2"] for line in lines)
    assert any(line.split()[:2] == ["test_accuracy", f"{result.metrics['test_accuracy']:.4f}"] for line in lines)
    assert not any(line.startswith("seed") for line in lines)  # equal values are not differences
    assert plot.stat().st_size > 1000
    again = call_zoo(capsys, "compare", str(run_dir), str(other), "--output", str(plot))
    assert again.returncode == 1 and "exists" in again.stderr
    alone = call_zoo(capsys, "compare", str(run_dir), "--output", str(tmp_path / "x.png"))
    assert alone.returncode == 1 and "at least two" in alone.stderr
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    assert "not a finished run" in call_zoo(capsys, "compare", str(run_dir), str(stranger), "--output",
                                            str(tmp_path / "y.png")).stderr


# -- the Python API with data in memory ----------------------------------------------------------

API_SPEC = {"version": 1, "name": "in_memory", "seed": 1,
            "model": {"layers": [{"Dense": {"units": 16, "activation": "relu"}}], "head": "auto"},
            "train": {"epochs": 15, "metrics": ["accuracy"], "optimizer": {"Adam": {"learning_rate": 0.01}}},
            "data": {"batch_size": 16, "normalize": True}}


def _iris():
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(x))
    return x[order], y[order]


def test_train_takes_arrays_a_dataframe_and_a_tf_dataset(tmp_path):
    import tensorflow as tf

    x, y = _iris()
    arrays = zoo.train(API_SPEC, data=(x[:120], y[:120]), validation_data=(x[120:], y[120:]), run_dir=tmp_path / "a", verbose=0)
    assert arrays.metrics["final_val_accuracy"] > 0.8 and arrays.model.output_shape == (None, 3)
    assert set(arrays.paths) >= {"model.keras", "metrics.json", "MODEL_CARD.md", "history.csv"}
    assert arrays.history["val_accuracy"][-1] == arrays.metrics["final_val_accuracy"]
    # the data went straight into the plan: the spec the run wrote names no source, given_data.json fingerprints it
    assert "source" not in yaml_of(tmp_path / "a" / "spec.yaml")["data"]
    assert set(json.loads((tmp_path / "a" / "given_data.json").read_text())["digests"]) == {"source", "validation"}

    frame = pd.DataFrame(x, columns=["sepal_l", "sepal_w", "petal_l", "petal_w"])
    frame["species"] = np.array(["setosa", "versicolor", "virginica"])[y]
    tabled = zoo.train({**API_SPEC, "data": {**API_SPEC["data"], "validation_split": 0.2}}, data=frame, label="species",
                       run_dir=tmp_path / "b", verbose=0)
    assert tabled.metrics["final_val_accuracy"] > 0.8
    assert json.loads((tmp_path / "b" / "data.json").read_text())["class_names"] == ["setosa", "versicolor", "virginica"]

    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(10)
    streamed = zoo.train(API_SPEC, data=dataset, run_dir=tmp_path / "c", verbose=0)
    assert streamed.metrics["final_accuracy"] > 0.8


def test_data_in_memory_gets_the_checks_file_sources_get(tmp_path):
    x, y = _iris()
    frame = pd.DataFrame(x, columns=list("abcd")).assign(species=y)
    cases = [((x[:, 0], y), "give it a row axis"), ((x, y[:5]), "150 rows but y has 5"),
             ((np.where(x > 7, np.nan, x), y), "NaN or infinite values (row"), ("hello", "expected (x, y) arrays"),
             ((x.astype(str), y), "the inputs must be numbers")]
    for data, words in cases:
        with pytest.raises(SpecError, match=re.escape(words)):
            zoo.train(API_SPEC, data=data, run_dir=tmp_path / "never")
    with pytest.raises(SpecError, match="needs label="):
        zoo.train(API_SPEC, data=frame, run_dir=tmp_path / "never")
    with pytest.raises(SpecError, match="no column 'specis'") as error:
        zoo.train(API_SPEC, data=frame, label="specis", run_dir=tmp_path / "never")
    assert "species" in error.value.suggestions
    assert not (tmp_path / "never").exists()


def test_a_run_of_data_in_memory_resumes_with_the_same_data_only(tmp_path, capsys, monkeypatch):
    import keras

    from zoo.builders.run import plan as plan_module

    class CtrlC(keras.callbacks.Callback):  # the run is stopped after its second epoch, as Ctrl-C would stop it
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    fit = plan_module.RunPlan.fit
    x, y = _iris()
    run_dir = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(plan_module.RunPlan, "fit", lambda self, callbacks, **kw: fit(self, callbacks + [CtrlC()], **kw))
        with pytest.raises(KeyboardInterrupt):
            zoo.train(API_SPEC, data=(x, y), run_dir=run_dir, verbose=0)
    refused = call_zoo(capsys, "train", "--resume", str(run_dir))  # the CLI has no arrays to give
    assert refused.returncode == 1 and "given in Python" in refused.stderr
    with pytest.raises(RunError, match="the data given differ from what"):
        resume(run_dir, data=(x[:100], y[:100]), verbose=0)
    with pytest.raises(RunError, match="validation_data given differ"):
        resume(run_dir, data=(x, y), validation_data=(x[:10], y[:10]), verbose=0)
    done = resume(run_dir, data=(x, y), verbose=0)
    assert done.epochs_run == 15


def test_named_inputs_from_csv_columns_train_a_graph(tmp_path):
    from sklearn.datasets import load_digits

    digits = load_digits()
    frame = pd.DataFrame(digits.data, columns=[f"p{i}" for i in range(64)])
    frame["ink"] = digits.data.sum(axis=1)
    frame["digit"] = digits.target
    frame.to_csv(tmp_path / "digits.csv", index=False)
    pixels = "[" + ", ".join(f"p{i}" for i in range(64)) + "]"
    text = f"""\
version: 1
name: named
seed: 2
data:
  source: {{csv: digits.csv, label: digit, features: {{pixels: {pixels}, summary: [ink]}}}}
  validation_split: 0.2
  normalize: true
model:
  inputs: {{pixels: [64], summary: [1]}}
  graph:
    - {{name: hidden, inputs: pixels, layer: {{Dense: {{units: 32, activation: relu}}}}}}
    - {{name: joined, inputs: [hidden, summary], layer: Concatenate}}
    - {{name: label, inputs: joined, layer: {{Dense: {{units: 10, activation: softmax}}}}}}
  outputs: [label]
train: {{epochs: 5, metrics: [accuracy]}}
"""
    (tmp_path / "named.yaml").write_text(text)
    result = train(load_spec(tmp_path / "named.yaml"), run_dir=tmp_path / "run", verbose=0)
    assert result.metrics["final_val_accuracy"] > 0.85
    assert [i.name for i in result.model.inputs] == ["pixels", "summary"]
    assert {"pixels_normalization", "summary_normalization"} <= {layer.name for layer in result.model.layers}
    wrong = text.replace("summary: [1]}", "summary: [2]}")
    with pytest.raises(SpecError, match="'summary' is declared \\[2\\]"):
        zoo.validate(load_spec(wrong.replace("digits.csv", str(tmp_path / "digits.csv"))))
    renamed = text.replace("summary: [ink]", "extra: [ink]").replace("digits.csv", str(tmp_path / "digits.csv"))
    with pytest.raises(SpecError, match="the data feeds the inputs \\['extra', 'pixels'\\]"):
        zoo.validate(load_spec(renamed))
    one = text.replace("features: {pixels: " + pixels + ", summary: [ink]}", "features: " + pixels).replace(
        "digits.csv", str(tmp_path / "digits.csv"))
    with pytest.raises(SpecError, match="give the data source named inputs"):
        zoo.validate(load_spec(one))


def test_tune_takes_data_in_memory_too(tmp_path):
    x, y = _iris()
    spec = {**API_SPEC, "train": {**API_SPEC["train"], "epochs": 3,
                                  "optimizer": {"Adam": {"learning_rate": {"hp": "Choice", "values": [0.01, 0.03]}}}},
            "data": {**API_SPEC["data"], "validation_split": 0.25},
            "tune": {"tuner": {"GridSearch": {}}, "objective": "val_accuracy", "directory": str(tmp_path)}}
    summary = zoo.tune(spec, data=(x, y), report=lambda *_: None)
    assert summary["counts"] == {"COMPLETED": 2}
    best = yaml_of(tmp_path / "in_memory" / "best.yaml")
    assert "source" not in best["data"]  # trained again with zoo.train(best, data=...)


def yaml_of(path):
    import yaml

    return yaml.safe_load(path.read_text())


def test_a_run_of_a_spec_with_files_beside_it_is_usable_from_any_folder(tmp_path, monkeypatch, capsys):
    from tests.conftest import ROOT

    monkeypatch.chdir(tmp_path)  # not the spec's folder: its npz is found beside it
    result = train(load_spec(ROOT / "specs" / "digits_graph.yaml", ["train.epochs=1"]), run_dir=tmp_path / "run", verbose=0)
    written = yaml_of(tmp_path / "run" / "spec.yaml")["data"]["source"]["npz"]
    assert written == str((ROOT / "specs" / "data" / "digits_images.npz").resolve())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert zoo.evaluate(tmp_path / "run")["accuracy"] == pytest.approx(result.history["val_accuracy"][-1], abs=1e-6)
    rows = np.load(ROOT / "specs" / "data" / "digits_images.npz")
    np.savez(elsewhere / "rows.npz", image=rows["image"][:3], meta=rows["meta"][:3])
    predicted = call_zoo(capsys, "predict", str(tmp_path / "run"), "rows.npz")  # named inputs by the training keys
    assert predicted.returncode == 0 and len(predicted.stdout.strip().splitlines()) == 4, predicted.stderr


def test_an_unreachable_mlflow_server_is_a_run_error(tmp_path):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RunError, match=f"MLflow refused http://127.0.0.1:{port}"):
        train(load_spec(DIGITS_SPEC, [f"output.mlflow={{tracking_uri: 'http://127.0.0.1:{port}'}}"]),
              run_dir=tmp_path / "run", verbose=0)


def test_data_given_in_python_needs_no_data_section_and_no_store(tmp_path):
    from zoo.builders.spec.schema import SOURCE_SCHEMA

    x, y = _iris()
    spec = {key: value for key, value in API_SPEC.items() if key != "data"}
    result = zoo.train({**spec, "train": {**spec["train"], "epochs": 2}}, data=(x, y), run_dir=tmp_path / "run", verbose=0)
    assert result.metrics["epochs_run"] == 2 and yaml_of(tmp_path / "run" / "spec.yaml")["data"]["batch_size"] == 32
    assert "memory" not in SOURCE_SCHEMA["properties"]  # nothing in the spec language that users must not write
    with pytest.raises(SpecError, match="give the training rows too"):
        zoo.train(spec, validation_data=(x, y), run_dir=tmp_path / "never")
    with pytest.raises(SpecError, match="needs a `data` section"):
        zoo.train(spec, run_dir=tmp_path / "never")
    with pytest.raises(SpecError, match="names no source"):
        zoo.train({**spec, "data": {"batch_size": 8}}, run_dir=tmp_path / "never")
    assert not (tmp_path / "never").exists()
