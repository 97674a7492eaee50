"""Data preparation in the spec: normalize per channel, feature or globally, PCA/ZCA whitening and centring,
all adapted on the training split and saved inside the model; target scaling for regression."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from zoo.builders.run.train import train
from zoo.builders.spec.document import load_spec
from zoo.builders.spec.errors import SpecError
from zoo.builders.run.saved import load_model
from zoo.layers import Whitening, whitening_statistics

RNG = np.random.default_rng(0)


def _spec(data: str, layers: str = "[Flatten, Dense: {units: 32, activation: relu}]", train_section: str = "{epochs: 2}") -> str:
    return (f"version: 1\nseed: 1\ndata: {data}\nmodel:\n  head: auto\n  layers: {layers}\ntrain: {train_section}\n"
            "output: {plots: false, tensorboard: false}\n")


def _correlated(rows: int = 400, features: int = 6) -> np.ndarray:
    mixing = RNG.normal(size=(features, features))
    return (RNG.normal(size=(rows, features)) @ mixing + RNG.normal(size=features) * 3).astype("float32")


@pytest.mark.parametrize("method", ["zca", "pca", "center"])
def test_whitening_matches_numpy_and_streams_like_one_array(method, tmp_path):
    x = _correlated()
    layer = Whitening(method, epsilon=1e-6)
    layer.adapt(x, batch_size=64)  # streamed in batches of 64: the same as one array
    mean, matrix = whitening_statistics(x, method, 1e-6)
    np.testing.assert_allclose(layer.mean.numpy(), mean, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.matrix.numpy(), matrix, rtol=1e-4, atol=1e-5)
    y = np.asarray(layer(x), "float64")
    centred = x - x.mean(axis=0)
    if method == "center":
        np.testing.assert_allclose(y, centred, atol=1e-4)
    else:  # unit covariance
        np.testing.assert_allclose(np.cov(y, rowvar=False, bias=True), np.eye(6), atol=1e-3)
    if method == "zca":  # the symmetric whitening: W = Σ^(-1/2)
        covariance = np.cov(x.astype("float64"), rowvar=False, bias=True)
        values, vectors = np.linalg.eigh(covariance)
        np.testing.assert_allclose(layer.matrix.numpy(), vectors @ np.diag(values ** -0.5) @ vectors.T, rtol=1e-3, atol=1e-4)
    inputs = keras.Input((6,))
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "w.keras")
    reloaded = keras.saving.load_model(tmp_path / "w.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def test_pca_keeps_the_top_components_and_epsilon_damps_tiny_directions():
    x = _correlated()
    x[:, 5] = x[:, 0] * 2.0  # one direction of zero variance
    pca = Whitening("pca", epsilon=1e-3, components=3)
    pca.adapt(x)
    y = np.asarray(pca(x))
    assert y.shape == (400, 3)
    variances = y.var(axis=0)
    assert np.all(variances > 0.99) and np.all(np.diff(variances) <= 1e-3)  # the largest directions, whitened
    zca = Whitening("zca", epsilon=1e-3)
    zca.adapt(x)
    assert np.all(np.isfinite(zca.matrix.numpy())) and np.abs(zca.matrix.numpy()).max() < 1e3
    with pytest.raises(ValueError, match="argument `components` got 3; allowed: only with method 'pca'"):
        Whitening("zca", components=3)
    with pytest.raises(ValueError, match="not finite"):
        Whitening("center").set_statistics(np.array([np.nan, 1.0]), np.eye(2))


@pytest.mark.parametrize("normalize, layer, check", [
    ("true", "Normalization", "channel"),
    ("feature", "Normalization", "feature"),
    ("global", "Normalization", "global"),
    ("{method: zca, epsilon: 0.1}", "Whitening", "white"),
    ("{method: pca, epsilon: 1.0e-3, components: 20}", "Whitening", "pca"),
    ("center", "Whitening", "center"),
])
def test_each_normalize_method_adapts_on_the_training_split_and_travels_inside_the_model(normalize, layer, check, tmp_path):
    text = _spec(f"{{source: {{sklearn: digits}}, validation_split: 0.25, rescale: 0.0625, normalize: {normalize}}}")
    result = train(load_spec(text), run_dir=tmp_path / "run", quiet=True)
    model = result.model
    assert type(model.layers[2]).__name__ == layer  # Input, Rescaling, then the normalization
    from sklearn.datasets import load_digits

    x = load_digits().data.astype("float32")
    inner = keras.Model(model.inputs, model.layers[2].output)
    y = np.asarray(inner(x), "float64")
    x = x / 16.0
    if check == "channel":  # flat rows: per pixel, like feature
        assert abs(y.mean()) < 0.1 and 0.5 < y.std() < 1.5
    elif check == "feature":
        assert y.shape == (1797, 64) and np.abs(y.mean(axis=0)).max() < 0.5
    elif check == "global":
        np.testing.assert_allclose(np.asarray(model.layers[2].mean).reshape(-1), [x.mean()], rtol=0.05)
    elif check == "white":
        kept = x.std(axis=0) > 0.05  # pixels that vary; ε = 0.1 keeps the others from being blown up

        def correlation(values):
            c = np.corrcoef(values[:, kept], rowvar=False)
            return np.abs(c - np.diag(np.diag(c))).mean()

        assert correlation(y) < 0.5 * correlation(x), (correlation(y), correlation(x))
    elif check == "pca":
        assert y.shape == (1797, 20) and np.all(np.abs(y.var(axis=0) - 1) < 0.3)
    else:
        assert abs(y.mean()) < 0.02
    assert result.metrics["final_val_accuracy"] > 0.5  # 2 epochs; chance is 0.1
    reloaded = load_model(tmp_path / "run")  # the statistics are in the saved model
    np.testing.assert_allclose(reloaded.predict(x * 16, verbose=0), model.predict(x * 16, verbose=0), atol=1e-5)


def test_scaled_targets_train_a_regression_that_unscaled_ones_do_not_and_report_in_the_units(tmp_path):
    """Diabetes targets run from 25 to 346. Two epochs of Adam 1e-3: unscaled, the MSE stays near the
    targets' mean square (about 29,000); scaled, predictions and metrics are still in the targets' units."""
    data = "{source: {sklearn: diabetes}, validation_split: 0.25, normalize: true, batch_size: 16}"
    section = "{epochs: 2, optimizer: {Adam: {learning_rate: 1.0e-2}}, metrics: [mae]}"
    plain = train(load_spec(_spec(data, train_section=section)), run_dir=tmp_path / "plain", quiet=True)
    scaled_data = data.replace("normalize: true", "normalize: true, scale_targets: true")
    scaled = train(load_spec(_spec(scaled_data, train_section=section)), run_dir=tmp_path / "scaled", quiet=True)
    assert plain.metrics["final_val_mae"] > 100, plain.metrics
    assert scaled.metrics["final_val_mae"] < 70, scaled.metrics  # original units: the targets' std is about 77
    assert scaled.model.layers[-1].name == "target_units"
    assert type(scaled.model.loss).__name__ == "StandardizedLoss" and scaled.metrics["final_val_loss"] < 1.0
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    predictions = load_model(tmp_path / "scaled").predict(x.astype("float32"), verbose=0).reshape(-1)
    assert 100 < predictions.mean() < 200 and np.abs(predictions - y).mean() < 70  # in the targets' units


@pytest.mark.parametrize("data, key_path, words", [
    ("{source: {sklearn: digits}, scale_targets: true}", "data.scale_targets", "applies to regression targets; these are multiclass"),
    ("{source: {sklearn: digits}, normalize: {method: pca, components: 100}}", "data.normalize", "components: 100 of 64 features"),
    ("{source: {sklearn: digits}, normalize: whiten}", "data.normalize", "zca"),
    ("{source: {sklearn: digits}, normalize: {method: zca, epsilon: -1}}", "data.normalize.epsilon", "expected a number >= 0"),
], ids=["classes-scaled", "too-many-components", "unknown-method", "negative-epsilon"])
def test_bad_preparation_settings_are_spec_errors(data, key_path, words, tmp_path):
    with pytest.raises(SpecError, match=words) as error:
        train(load_spec(_spec(data)), run_dir=tmp_path / "run", quiet=True)
    assert error.value.key_path == key_path
    assert not (tmp_path / "run" / "history.csv").exists()
