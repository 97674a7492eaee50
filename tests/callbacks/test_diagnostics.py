"""The babysitting checks on real models: initial loss, overfitting a batch, dead ReLUs, the verdict."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from zoo.callbacks import (
    ActivationMonitor,
    activation_statistics,
    bias_variance_verdict,
    has_regularization,
    initial_loss,
    overfit_small_batch,
    weight_statistics,
    without_regularization,
)
from tests.callbacks.helpers import digits, mlp


def test_initial_loss_is_near_ln_classes_for_a_sane_classifier_and_far_for_a_big_last_layer():
    x, y, _, _ = digits()
    sane = initial_loss(mlp([32]), x[:256], y[:256], classes=10)
    assert sane["expected"] == pytest.approx(math.log(10))
    assert 0.8 < sane["ratio"] < 1.25
    loud = mlp([32], initializer="glorot_uniform")
    kernel = loud.get_layer("out").kernel
    kernel.assign(kernel * 50.0)  # overconfident logits
    assert initial_loss(loud, x[:256], y[:256], classes=10)["ratio"] > 2


def test_a_small_batch_is_overfitted_without_regularization_and_not_with_it():
    x, y, _, _ = digits()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((64,))
    h = keras.layers.Dense(64, activation="relu", kernel_regularizer=keras.regularizers.L2(0.05))(inputs)
    h = keras.layers.Dropout(0.5)(h)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(h))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    assert has_regularization(model) and not has_regularization(without_regularization(model))
    off = overfit_small_batch(model, x[:32], y[:32], steps=150)
    on = overfit_small_batch(model, x[:32], y[:32], steps=150, regularization=True)
    assert off["final_loss"] < 0.02 * off["start_loss"]
    assert on["final_loss"] > 5 * off["final_loss"]


def test_dead_relus_are_counted_and_the_monitor_warns():
    x, y, _, _ = digits()
    model = mlp([32, 32])
    bias = model.get_layer("hidden_1").bias
    bias.assign(np.full(32, -100.0, "float32"))  # every unit of hidden_1 is dead
    statistics = activation_statistics(model, x[:128])
    assert statistics["hidden_1"]["dead_fraction"] == 1.0
    assert statistics["hidden_0"]["dead_fraction"] < 0.5
    assert "dead_fraction" not in statistics["out"]
    monitor = ActivationMonitor(dead_threshold=0.5, probe=x[:128], verbose=0)
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[monitor])
    assert history.history["dead_fraction/hidden_1"] == [1.0, 1.0]  # dead units get no gradient: they stay dead
    assert any("'hidden_1'" in warning for warning in monitor.warnings_seen)
    weights = weight_statistics(model)
    assert weights[bias.path]["mean"] < -99
    assert ActivationMonitor.from_config(monitor.get_config()).get_config() == monitor.get_config()


@pytest.mark.parametrize("train_error, validation_error, verdict", [
    (0.15, 0.16, "high bias"),
    (0.01, 0.12, "high variance"),
    (0.15, 0.30, "high bias and high variance"),
    (0.01, 0.02, "neither"),
])
def test_bias_variance_verdict(train_error, validation_error, verdict):
    result = bias_variance_verdict(train_error, validation_error, baseline_error=0.0, tolerance=0.02)
    assert result["verdict"] == verdict
    assert result["remedies"]
    # measured against a stated baseline: 15% train error is no bias problem when humans get 14%
    assert bias_variance_verdict(0.15, 0.16, baseline_error=0.14)["verdict"] == "neither"

