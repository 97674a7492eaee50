"""Transfer learning: frozen means bit-identical, unfreezing takes effect inside fit, BN stays in inference mode."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from zoo.callbacks import UnfreezeSchedule, reused_blocks, transfer_model
from tests.callbacks.helpers import digits, same, weights_by_layer


def _source() -> keras.Model:
    """An MLP with BatchNormalization trained on the digits 0-4."""
    x, y, _, _ = digits()
    keras.utils.set_random_seed(3)
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(32, name="a"),
        keras.layers.BatchNormalization(name="bn"),
        keras.layers.Activation("relu", name="relu"),
        keras.layers.Dense(32, activation="relu", name="b"),
        keras.layers.Dense(5, activation="softmax", name="out"),
    ], name="source")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x[y < 5], y[y < 5], epochs=3, verbose=0)
    return model


class _Snapshots(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(weights_by_layer(self.model))


def _five_to_nine():
    x, y, xv, yv = digits()
    return x[y >= 5], y[y >= 5] - 5, xv[yv >= 5], yv[yv >= 5] - 5


def test_frozen_weights_are_bit_identical_until_the_schedule_unfreezes_them_inside_fit():
    source = _source()
    model = transfer_model(source, upto="b", head=[keras.layers.Dense(5, activation="softmax", name="new")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = weights_by_layer(model)
    snapshots = _Snapshots()
    schedule = UnfreezeSchedule(after_epoch=2, layers=2, learning_rate=1e-4, verbose=0)
    x, y, _, _ = _five_to_nine()
    model.fit(x, y, epochs=4, batch_size=32, callbacks=[schedule, snapshots], verbose=0)
    assert not model.run_eagerly
    assert schedule.unfrozen == ["a", "b"]
    for epoch in (0, 1):  # frozen: bit for bit, BatchNormalization's moving statistics included
        for name in ("a", "bn", "b"):
            assert same(start[name], snapshots.epochs[epoch][name]), (epoch, name)
        assert not same(start["new"], snapshots.epochs[epoch]["new"])
    for name in ("a", "b"):  # unfrozen in the same fit: they move
        assert not same(snapshots.epochs[1][name], snapshots.epochs[2][name])
        assert not same(snapshots.epochs[2][name], snapshots.epochs[3][name])
    assert same(start["bn"], snapshots.epochs[3]["bn"])  # BN stays frozen, so in inference mode
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-4)


def test_without_rebuilding_the_train_step_keras_would_ignore_the_change():
    """The reason UnfreezeSchedule calls make_train_function(force=True): flipping
    `trainable` alone inside fit leaves the compiled step training the old set."""
    source = _source()
    model = transfer_model(source, upto="b", head=[keras.layers.Dense(5, activation="softmax", name="new")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")

    class FlipOnly(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                self.model.get_layer("b").trainable = True

    snapshots = _Snapshots()
    x, y, _, _ = _five_to_nine()
    model.fit(x, y, epochs=2, batch_size=32, callbacks=[FlipOnly(), snapshots], verbose=0)
    assert same(snapshots.epochs[0]["b"], snapshots.epochs[1]["b"])


def test_reuse_by_count_or_name_and_clear_errors():
    source = _source()
    assert [[layer.name for layer in block] for block in reused_blocks(source, 1)] == [[], ["a", "bn", "relu"]]
    assert [layer.name for block in reused_blocks(source, "b") for layer in block] == ["a", "bn", "relu", "b"]
    with pytest.raises(ValueError, match="has no layer named 'c'.*a, bn, relu, b, out"):
        reused_blocks(source, "c")
    with pytest.raises(ValueError, match="has 3 layers with weights"):
        reused_blocks(source, 4)
    model = transfer_model(source, 1, [keras.layers.Dense(5)])
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="cannot unfreeze 2 layers.*1 frozen layer"):
        model.fit(np.zeros((4, 64)), np.zeros((4, 5)), epochs=1, verbose=0, callbacks=[UnfreezeSchedule(after_epoch=0, layers=2)])
    schedule = UnfreezeSchedule(after_epoch=3, layers="all", learning_rate=1e-5)
    assert UnfreezeSchedule.from_config(schedule.get_config()).get_config() == schedule.get_config()
    with pytest.raises(ValueError, match="`layers`"):
        UnfreezeSchedule(after_epoch=1, layers=0)
