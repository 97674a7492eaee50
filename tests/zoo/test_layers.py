"""The zoo's layers: NumPy references, config round trips, safe reloading, gradient flow, argument errors."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.zoo.helpers import run_layer_test
from zoo.layers import (
    CosineNormDense,
    DropConnectDense,
    GatedMLPBlock,
    Maxout,
    NoisyReLU,
    RBFDense,
    ResidualBlock,
    SpatialGatingUnit,
    StochasticDepth,
    WeightNormDense,
)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(5, 6)).astype("float32")


def weights(layer):
    return {w.path.rsplit("/", 1)[-1]: np.asarray(w.numpy() if hasattr(w, "numpy") else w) for w in layer.weights}


@pytest.mark.parametrize(
    "factory, input_shape, output_shape",
    [
        (lambda: Maxout(4, pieces=3), (6,), (4,)),
        (lambda: DropConnectDense(4, rate=0.3, activation="relu", seed=1), (6,), (4,)),
        (lambda: WeightNormDense(4, activation="tanh"), (6,), (4,)),
        (lambda: CosineNormDense(4), (6,), (4,)),
        (lambda: RBFDense(4, gamma=0.5), (6,), (4,)),
        (lambda: SpatialGatingUnit(), (5, 8), (5, 4)),
        (lambda: GatedMLPBlock(16, dropout=0.1, drop_path=0.1, seed=1), (5, 8), (5, 8)),
        (lambda: ResidualBlock(6, kind="dense"), (6,), (6,)),
        (lambda: ResidualBlock(8, kind="dense", drop_path=0.2, seed=2), (6,), (8,)),
        (lambda: ResidualBlock(8, kind="conv1d", strides=2), (10, 3), (5, 8)),
        (lambda: ResidualBlock(4, kind="conv2d", strides=2), (6, 6, 2), (3, 3, 4)),
    ],
)
def test_layer_contract(factory, input_shape, output_shape, tmp_path):
    run_layer_test(factory, input_shape, tmp_path, expected_output_shape=output_shape)


def test_noisy_relu_and_stochastic_depth_reload_safely(tmp_path):
    inputs = keras.Input((6,))
    branch = keras.layers.Dense(6)(inputs)
    model = keras.Model(inputs, NoisyReLU(0.3, seed=1)(StochasticDepth(0.5, seed=1)([inputs, branch])))
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_array_equal(reloaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_maxout_is_the_max_of_its_linear_pieces():
    layer = Maxout(3, pieces=4)
    y = np.asarray(layer(X))
    w = weights(layer)
    z = (X @ w["kernel"] + w["bias"]).reshape(5, 3, 4)
    np.testing.assert_allclose(y, z.max(axis=-1), rtol=1e-5, atol=1e-6)


def test_dropconnect_drops_weights_while_training_only():
    layer = DropConnectDense(8, rate=0.5, bias_initializer="ones", seed=3)
    row = np.eye(6, dtype="float32")[:1]  # picks kernel row 0
    inference = np.asarray(layer(row))
    w = weights(layer)
    np.testing.assert_allclose(inference, row @ w["kernel"] + 1, rtol=1e-6)
    trained = np.asarray(layer(row, training=True))[0]
    kept = np.isclose(trained, 1 + 2 * w["kernel"][0], rtol=1e-5)  # kept weights are scaled by 1 / (1 - rate)
    dropped = np.isclose(trained, 1.0)
    assert np.all(kept | dropped) and kept.any() and dropped.any()


def test_weight_norm_starts_as_the_dense_layer_of_its_direction_and_rescales_with_g():
    layer = WeightNormDense(4)
    y = np.asarray(layer(X))
    w = weights(layer)
    np.testing.assert_allclose(y, X @ w["direction"] + w["bias"], rtol=1e-4, atol=1e-5)
    layer.g.assign(np.full(4, 2.0, "float32"))
    v = w["direction"]
    np.testing.assert_allclose(np.asarray(layer(X)), X @ (2.0 * v / np.linalg.norm(v, axis=0)) + w["bias"], rtol=1e-4, atol=1e-5)


def test_cosine_norm_is_a_bounded_cosine():
    layer = CosineNormDense(4)
    y = np.asarray(layer(X * 1000.0))  # the scale of the inputs does not matter
    w = weights(layer)["kernel"]
    expected = (X @ w) / (np.linalg.norm(X, axis=1, keepdims=True) * np.linalg.norm(w, axis=0))
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)
    assert np.all(np.abs(y) <= 1 + 1e-6)


def test_rbf_units_respond_to_distance_from_their_centres():
    layer = RBFDense(3, gamma=0.7)
    y = np.asarray(layer(X))
    c = weights(layer)["centers"]
    expected = np.exp(-0.7 * ((X[:, None, :] - c[None]) ** 2).sum(-1))
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(layer(c)).diagonal(), 1.0, rtol=1e-5)  # at a centre: 1


def test_spatial_gating_unit_matches_its_formula():
    x = RNG.normal(size=(2, 5, 8)).astype("float32")
    layer = SpatialGatingUnit()
    y = np.asarray(layer(x))
    w = weights(layer)
    u, v = x[..., :4], x[..., 4:]
    v = (v - v.mean(-1, keepdims=True)) / np.sqrt(v.var(-1, keepdims=True) + 1e-6)
    expected = u * (np.einsum("ts,bsc->btc", w["spatial_kernel"], v) + w["spatial_bias"])
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


def test_residual_block_uses_the_identity_when_shapes_agree():
    same, wider = ResidualBlock(6), ResidualBlock(8)
    same(X), wider(X)
    assert same.projection is None and wider.projection is not None


def test_stochastic_depth_keeps_or_drops_whole_branches_per_sample():
    shortcut = np.zeros((64, 3), "float32")
    branch = np.ones((64, 3), "float32")
    layer = StochasticDepth(0.25, seed=4)
    np.testing.assert_array_equal(np.asarray(layer([shortcut, branch])), 1.0)  # inference: the plain sum
    trained = np.asarray(layer([shortcut, branch], training=True))
    kept = np.all(np.isclose(trained, 1 / 0.75), axis=1)
    dropped = np.all(trained == 0.0, axis=1)
    assert np.all(kept | dropped) and kept.any() and dropped.any()


def test_noisy_relu_adds_noise_only_while_training():
    layer = NoisyReLU(0.5, seed=5)
    x = RNG.normal(size=(2000,)).astype("float32")
    np.testing.assert_array_equal(np.asarray(layer(x)), np.maximum(x, 0))
    noisy = np.asarray(layer(x, training=True))
    assert np.all(noisy >= 0) and not np.allclose(noisy, np.maximum(x, 0))
    assert np.std(noisy - np.maximum(x, 0)) > 0.1


@pytest.mark.parametrize(
    "factory, argument",
    [
        (lambda: Maxout(-3), "units"),
        (lambda: Maxout(4, pieces=1), "pieces"),
        (lambda: DropConnectDense(4, rate=1.0), "rate"),
        (lambda: DropConnectDense(4, rate=-0.1), "rate"),
        (lambda: WeightNormDense(0), "units"),
        (lambda: RBFDense(4, gamma=0), "gamma"),
        (lambda: GatedMLPBlock(15), "ffn_units"),
        (lambda: ResidualBlock(4, kind="conv3d"), "kind"),
        (lambda: ResidualBlock(4, drop_path=1.5), "drop_path"),
        (lambda: StochasticDepth(1.0), "rate"),
        (lambda: NoisyReLU(stddev=-1), "stddev"),
    ],
)
def test_bad_arguments_fail_at_construction_naming_the_argument(factory, argument):
    with pytest.raises(ValueError, match=rf"argument `{argument}` got .*; allowed: "):
        factory()
