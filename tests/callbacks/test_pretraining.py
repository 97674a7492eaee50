"""Greedy layer-wise pretraining on a deep sigmoid MLP: what it trains, freezes, and wins."""

from __future__ import annotations

import keras
import pytest

from zoo.callbacks import chain_of, greedy_layerwise_pretrain
from tests.callbacks.helpers import digits, mlp, same, weights_by_layer


def test_supervised_phases_freeze_earlier_layers_and_hand_the_head_over():
    x, y, xv, yv = digits()
    model = mlp([32, 32, 32], activation="sigmoid", learning_rate=1e-2)
    before = weights_by_layer(model)
    report = greedy_layerwise_pretrain(model, (x, y), epochs_per_layer=[2, 2, 2], validation_data=(xv, yv), batch_size=64)
    assert [phase["trained"] for phase in report] == [["hidden_0"], ["hidden_1"], ["hidden_2"]]
    assert [phase["frozen"] for phase in report] == [[], ["hidden_0"], ["hidden_0", "hidden_1"]]
    assert all({"loss", "val_loss", "val_accuracy", "wall_time_s"} <= set(phase) for phase in report)
    after = weights_by_layer(model)
    assert not any(same(before[name], after[name]) for name in before)  # every layer trained, head included
    assert all(layer.trainable for layer in model.layers)
    # the model's own output layer took the last phase's trained head: same predictions, same score
    assert model.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"] == pytest.approx(report[-1]["val_accuracy"])
    assert report[-1]["val_accuracy"] > 0.5


def test_frozen_layers_do_not_move_in_later_phases():
    x, y, _, _ = digits()
    model = mlp([16, 16], activation="sigmoid", learning_rate=1e-2)
    report = greedy_layerwise_pretrain(model, (x, y), epochs_per_layer=[2, 1], batch_size=64)
    # redo the first phase on a fresh copy to get hidden_0 as phase 1 left it
    twin = mlp([16, 16], activation="sigmoid", learning_rate=1e-2)
    greedy_layerwise_pretrain(twin, (x, y), epochs_per_layer=[2, 1], batch_size=64, freeze=True)
    assert same(model.get_layer("hidden_0").get_weights(), twin.get_layer("hidden_0").get_weights())
    free = mlp([16, 16], activation="sigmoid", learning_rate=1e-2)
    greedy_layerwise_pretrain(free, (x, y), epochs_per_layer=[2, 1], batch_size=64, freeze=False)
    assert not same(model.get_layer("hidden_0").get_weights(), free.get_layer("hidden_0").get_weights())
    assert report[1]["frozen"] == ["hidden_0"]


def test_unsupervised_mode_trains_autoencoders_then_the_output_layer():
    x, y, xv, yv = digits()
    model = mlp([32, 16], activation="relu", learning_rate=3e-3)
    before = weights_by_layer(model)
    report = greedy_layerwise_pretrain(model, (x, y), mode="unsupervised", epochs_per_layer=8, head_epochs=5,
                                       validation_data=(xv, yv), batch_size=32)
    assert [phase["kind"] for phase in report] == ["autoencoder", "autoencoder", "output layer"]
    # reconstruction error relative to the target variance: well below predicting the mean (1.0)
    assert report[0]["val_loss"] < 0.5
    assert report[2]["trained"] == ["out"] and report[2]["frozen"] == ["hidden_0", "hidden_1"]
    # the autoencoder features beat the same network's random features under the same head training
    random = mlp([32, 16], activation="relu", learning_rate=3e-3)
    for name in ("hidden_0", "hidden_1"):
        random.get_layer(name).trainable = False
    random.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    random.fit(x, y, batch_size=32, epochs=5, verbose=0)
    random_accuracy = random.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"]
    assert report[2]["val_accuracy"] > random_accuracy + 0.05, (report[2]["val_accuracy"], random_accuracy)
    after = weights_by_layer(model)
    assert not any(same(before[name], after[name]) for name in before)


@pytest.mark.slow  # the same claim through the spec's pretrain section is in the default run (test_procedures.py)
def test_pretraining_beats_training_from_scratch_on_a_deep_sigmoid_network():
    """10 sigmoid layers, Glorot start, Adam 1e-2, 55 epochs in all, seed 1: pretraining
    (10 phases x 5 epochs, then 5 epochs of fine-tuning) against 55 epochs from scratch."""
    x, y, xv, yv = digits()
    scratch = mlp([64] * 10, activation="sigmoid", learning_rate=1e-2, seed=1)
    scratch.fit(x, y, batch_size=64, epochs=55, verbose=0)
    scratch_accuracy = scratch.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"]

    model = mlp([64] * 10, activation="sigmoid", learning_rate=1e-2, seed=1)
    report = greedy_layerwise_pretrain(model, (x, y), epochs_per_layer=5, batch_size=64)
    model.fit(x, y, batch_size=64, epochs=55 - sum(phase["epochs"] for phase in report), verbose=0)
    pretrained_accuracy = model.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"]
    assert scratch_accuracy < 0.3, scratch_accuracy
    assert pretrained_accuracy > 0.85, pretrained_accuracy


def test_bad_input_is_a_clear_error_before_training():
    model = mlp([8, 8])
    x, y, _, _ = digits()
    with pytest.raises(ValueError, match="2 hidden layers"):
        greedy_layerwise_pretrain(model, (x, y), epochs_per_layer=[1, 1, 1])
    with pytest.raises(ValueError, match="mode 'greedy'"):
        greedy_layerwise_pretrain(model, (x, y), mode="greedy")
    inputs = keras.Input((64,))
    hidden = keras.layers.Dense(64)(inputs)
    residual = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Add()([inputs, hidden])))
    with pytest.raises(ValueError, match="not a chain"):
        chain_of(residual)
