"""Every data source end to end, normalization from the training split only, clear data errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zoo.builders.data.load import load_data
from zoo.builders.run.model import build_model
from zoo.builders.spec.document import load_spec
from zoo.builders.spec.errors import SpecError
from tests.conftest import DIGITS_SPEC


def _spec(data: str, layers: str = "[Flatten, Dense: {units: 16, activation: relu}]") -> str:
    return f"version: 1\nseed: 1\ndata: {data}\nmodel:\n  head: auto\n  layers: {layers}\ntrain: {{epochs: 1}}\n"


def _train_one_epoch(spec):
    data = load_data(spec)
    model = build_model(spec, data.info)
    history = model.fit(data.train, validation_data=data.validation, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])
    return data, model


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(200, 4)), columns=["a", "b", "c", "d"])
    frame["kind"] = np.where(frame["a"] + frame["b"] > 0, "yes", "no")
    frame["target"] = frame["a"] * 2.5 + 0.1
    frame.to_csv(tmp_path / "rows.csv", index=False)
    frame.to_parquet(tmp_path / "rows.parquet")
    return tmp_path


@pytest.mark.parametrize("name, task", [("digits", "multiclass"), ("iris", "multiclass"), ("wine", "multiclass"), ("breast_cancer", "binary"), ("diabetes", "regression")])
def test_sklearn_sources(name, task):
    data, _ = _train_one_epoch(load_spec(_spec(f"{{source: {{sklearn: {name}}}, validation_split: 0.2, normalize: true}}")))
    assert data.info.task == task


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_table_sources_classification_and_regression(table, kind):
    path = table / f"rows.{kind}"
    data, _ = _train_one_epoch(load_spec(_spec(f"{{source: {{{kind}: {path}, label: kind, features: [a, b, c]}}, validation_split: 0.25}}")))
    assert data.info.task == "binary" and data.info.input_shape == (3,) and data.info.class_names == ["no", "yes"]
    data, _ = _train_one_epoch(load_spec(_spec(f"{{source: {{{kind}: {path}, label: target, features: [a, b]}}, test_split: 0.1}}")))
    assert data.info.task == "regression" and data.info.sizes == {"test": 20, "train": 180}


def test_npz_source_with_explicit_validation_file(tmp_path):
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "train.npz", x=rng.normal(size=(64, 5, 5, 1)), y=rng.integers(0, 3, 64))
    np.savez(tmp_path / "val.npz", features=rng.normal(size=(16, 5, 5, 1)), labels=rng.integers(0, 3, 16))
    data, _ = _train_one_epoch(load_spec(_spec(
        f"{{source: {{npz: {tmp_path / 'train.npz'}}}, validation: {{npz: {tmp_path / 'val.npz'}, x: features, y: labels}}}}")))
    assert data.info.input_shape == (5, 5, 1) and data.info.sizes == {"validation": 16, "train": 64}


def test_mnist1d_generated_locally():
    data, _ = _train_one_epoch(load_spec(_spec("{source: {mnist1d: {num_samples: 600}}, validation_split: 0.2}")))
    assert data.info.input_shape == (40, 1) and data.info.num_classes == 10
    assert data.info.sizes["test"] == 120  # mnist1d's own train/test split


def test_tfds_source_offline_with_split_slicing(tmp_path):
    spec = load_spec(_spec(
        f"{{source: {{tfds: zoo_digits, data_dir: {tmp_path}, split: 'train[:90%]'}}, validation: 'train[90%:]', test: test, normalize: true, batch_size: 50}}"))
    data, model = _train_one_epoch(spec)
    assert data.info.input_shape == (8, 8, 1) and data.info.task == "multiclass"
    assert data.info.sizes == {"train": 1293, "validation": 144, "test": 360}
    assert (tmp_path / "zoo_digits" / "1.0.0").is_dir()
    assert np.isfinite(model.evaluate(data.test, verbose=0)[0])


def test_limit_on_a_tfds_source_is_a_spec_error_not_ignored(tmp_path):
    spec = load_spec(_spec(f"{{source: {{tfds: zoo_digits, data_dir: {tmp_path}}}, limit: 100}}"))
    with pytest.raises(SpecError, match=r"slice the split instead \(split: 'train\[:1000\]'\)") as error:
        load_data(spec)
    assert error.value.key_path == "data.limit"
    assert not (tmp_path / "zoo_digits").exists()  # refused before anything was prepared


def test_normalization_statistics_come_from_the_training_split_only():
    spec = load_spec(_spec("{source: {sklearn: diabetes}, validation_split: 0.3, normalize: true}"))
    data = load_data(spec)
    x_train = data.arrays["train"][0]
    everything = np.concatenate([x_train, data.arrays["validation"][0]])
    np.testing.assert_allclose(data.info.mean, x_train.mean(axis=0), rtol=1e-5)
    assert not np.allclose(data.info.mean, everything.mean(axis=0), rtol=1e-3)
    model = build_model(spec, data.info)
    normalization = model.layers[1]
    assert type(normalization).__name__ == "Normalization"
    np.testing.assert_allclose(np.asarray(normalization.mean).reshape(-1), x_train.mean(axis=0), rtol=1e-5)


def test_a_feature_constant_in_training_is_centred_not_blown_up_in_validation():
    # Digits, seed 7: pixel 56 is 0 in every training row and not in some validation rows.
    spec = load_spec(DIGITS_SPEC)
    data = load_data(spec)
    x_train, x_val = data.arrays["train"][0], data.arrays["validation"][0]
    constant = np.flatnonzero(x_train.std(axis=0) == 0)
    assert any(np.any(x_val[:, i] != 0) for i in constant)
    model = build_model(spec, data.info)
    normalize = next(layer for layer in model.layers if type(layer).__name__ == "Normalization")
    out = np.asarray(normalize(x_val))
    expected = (x_val - x_train.mean(axis=0)) / np.where(x_train.std(axis=0) == 0, 1.0, x_train.std(axis=0))
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)  # StandardScaler's rule; Keras alone gives 1e8
    history = model.fit(data.train, validation_data=data.validation, epochs=3, verbose=0, shuffle=False)
    assert history.history["val_loss"][-1] < 2.5  # below chance (ln 10 = 2.3); it was over 3000 before


def test_rescale_and_augmentation_layers_in_the_model(tmp_path):
    rng = np.random.default_rng(2)
    np.savez(tmp_path / "images.npz", x=rng.integers(0, 255, size=(40, 8, 8, 1)), y=rng.integers(0, 2, 40))
    spec = load_spec(_spec(f"{{source: {{npz: {tmp_path / 'images.npz'}}}, rescale: 0.00392156862}}",
                           "[RandomFlip: {mode: horizontal}, RandomContrast: {factor: 0.1}, Flatten]"))
    _, model = _train_one_epoch(spec)
    assert [type(l).__name__ for l in model.layers[1:4]] == ["Rescaling", "RandomFlip", "RandomContrast"]


@pytest.mark.parametrize("data, path, words", [
    ("{source: {csv: missing.csv, label: y}}", "data.source.csv", "not found"),
    ("{source: {csv: TABLE/rows.csv, label: knd}}", "data.source.label", "did you mean 'kind'"),
    ("{source: {csv: TABLE/rows.csv}}", "data.source", "needs `label:`"),
    ("{source: {csv: TABLE/rows.csv, label: kind, features: [a, zz]}}", "data.source.features", "no column 'zz'"),
    ("{source: {csv: TABLE/rows.csv, label: target, features: [kind]}}", "data.source.features", "not numeric"),
    ("{source: {sklearn: iris}, validation_split: 0.001}", "data.validation_split", "leaves no validation rows"),
    ("{source: {sklearn: iris, csv: x.csv}}", "data.source", "exactly one"),
    ("{source: {npz: TABLE/rows.csv}}", "data.source.npz", "cannot read"),
    ("{source: {tfds: zoo_digitz}}", "data.source.tfds", "did you mean 'zoo_digits'"),
    ("{source: {sklearn: iris}, validation: test}", "data.validation", "needs a TFDS source"),
])
def test_data_errors_are_clear_before_training(table, data, path, words):
    spec = load_spec(_spec(data.replace("TABLE", str(table))))
    with pytest.raises(SpecError) as caught:
        load_data(spec)
    assert caught.value.key_path == path and words.lower() in str(caught.value).lower(), str(caught.value)


def test_input_shape_that_does_not_match_the_data_is_an_error():
    spec = load_spec("version: 1\ndata: {source: {sklearn: iris}}\nmodel:\n  input_shape: [5]\n  layers: [Dense: {units: 3}]\ntrain: {loss: mse}\n")
    with pytest.raises(SpecError, match=r"does not match the data, whose rows have shape \[4\]"):
        build_model(spec, load_data(spec).info)


def test_label_noise_replaces_training_labels_only_from_the_seed():
    data = "{source: {sklearn: digits}, validation_split: 0.2, label_noise: 0.5}"
    noisy, again = load_data(load_spec(_spec(data))), load_data(load_spec(_spec(data)))
    clean = load_data(load_spec(_spec(data.replace(", label_noise: 0.5", ""))))
    changed = np.mean(noisy.arrays["train"][1] != clean.arrays["train"][1])
    assert 0.40 < changed < 0.50  # half the rows drawn anew from 10 classes: about 9 in 10 of those change
    assert np.array_equal(noisy.arrays["train"][0], clean.arrays["train"][0])
    assert np.array_equal(noisy.arrays["validation"][1], clean.arrays["validation"][1])
    assert np.array_equal(noisy.arrays["train"][1], again.arrays["train"][1])
    assert set(np.unique(noisy.arrays["train"][1])) == set(range(10))


@pytest.mark.parametrize("value, message", [("1.0", "expected a number >= 0 and < 1"), ("-0.1", "expected a number >= 0"),
                                            ("abc", "expected a number, got str")])
def test_label_noise_out_of_range_is_a_spec_error(value, message):
    with pytest.raises(SpecError, match=message) as error:
        load_spec(_spec(f"{{source: {{sklearn: digits}}, label_noise: {value}}}"))
    assert error.value.line == 3


def test_label_noise_on_regression_targets_is_refused_at_its_key():
    with pytest.raises(SpecError, match="label_noise draws wrong classes: it needs integer class labels") as error:
        load_data(load_spec(_spec("{source: {sklearn: diabetes}, label_noise: 0.2}")))
    assert error.value.line == 3 and "data.label_noise" in str(error.value)
