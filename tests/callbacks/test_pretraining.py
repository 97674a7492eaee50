"""Greedy layer-wise pretraining on a deep sigmoid MLP: what it trains, freezes, and wins."""

from __future__ import annotations

import keras
import numpy as np
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
    report = greedy_layerwise_pretrain(model, (x, y), mode="unsupervised", epochs_per_layer=4, head_epochs=5,
                                       validation_data=(xv, yv), batch_size=32)
    assert [phase["kind"] for phase in report] == ["autoencoder", "autoencoder", "output layer"]
    # inputs in [0, 1]: cross-entropy against a sigmoid decoder; ReLU codes below the second: squared error
    assert [phase.get("reconstruction_loss") for phase in report] == ["binary_crossentropy", "mse", None]
    # the first autoencoder reconstructs far better than predicting each pixel's mean
    mean = np.clip(x.mean(axis=0), 1e-7, 1 - 1e-7)
    baseline = float(np.mean(-(xv * np.log(mean) + (1 - xv) * np.log(1 - mean))))
    assert report[0]["val_loss"] < 0.8 * baseline, (report[0]["val_loss"], baseline)
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


@pytest.mark.slow  # the same claim through the spec's pretrain section is in the slow set too (test_procedures.py)
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


def test_a_one_row_batch_costs_what_it_costs_in_a_full_batch():
    """The reconstruction loss is per element: it no longer divides by the batch's own variance (a last
    validation batch of one row gave val_loss 131)."""
    x, y, xv, yv = digits()
    model = mlp([16, 8], activation="sigmoid", learning_rate=3e-3)
    report = greedy_layerwise_pretrain(model, (x, y), mode="unsupervised", epochs_per_layer=[2, 1], head_epochs=1,
                                       validation_data=(xv[:65], yv[:65]), batch_size=64)  # batches of 64 and 1
    assert report[0]["val_loss"] < 1.0 and report[1]["val_loss"] < 1.0, report


def test_tied_and_denoising_autoencoders_train_the_hidden_layers():
    x, y, _, _ = digits()
    model = mlp([16, 8], activation="sigmoid", learning_rate=3e-3)
    before = weights_by_layer(model)
    report = greedy_layerwise_pretrain(model, (x, y), mode="unsupervised", epochs_per_layer=1, head_epochs=1,
                                       tied=True, noise=0.2, batch_size=64)
    assert [(phase["tied"], phase["noise"]) for phase in report[:2]] == [(True, 0.2), (True, 0.2)]
    after = weights_by_layer(model)
    assert not same(before["hidden_0"], after["hidden_0"]) and not same(before["hidden_1"], after["hidden_1"])
    assert [layer.name for layer in model.layers][-1] == "out" and len(model.weights) == 6  # no decoder left behind
    with pytest.raises(ValueError, match=r"noise 1.5 must be a number in \[0, 1\)"):
        greedy_layerwise_pretrain(model, (x, y), mode="unsupervised", noise=1.5)


def test_rbm_mode_initializes_each_sigmoid_layer_from_a_trained_rbm():
    x, y, xv, yv = digits()
    model = mlp([32, 16], activation="sigmoid", learning_rate=1e-2)
    before = weights_by_layer(model)
    report = greedy_layerwise_pretrain(model, (x, y), mode="rbm", epochs_per_layer=2, head_epochs=1,
                                       validation_data=(xv, yv), batch_size=32)
    assert [phase["kind"] for phase in report] == ["rbm", "rbm", "output layer"]
    assert [phase["visible"] for phase in report[:2]] == ["bernoulli", "bernoulli"]  # digits scaled to [0, 1]
    assert all(np.isfinite(phase["reconstruction_error"]) and phase["reconstruction_error"] < 0.1 for phase in report[:2])
    after = weights_by_layer(model)
    assert not any(same(before[name], after[name]) for name in before)
    relu = mlp([8, 8], activation="relu")
    with pytest.raises(ValueError, match="needs sigmoid hidden layers.*'hidden_0'"):
        greedy_layerwise_pretrain(relu, (x, y), mode="rbm")


@pytest.mark.slow  # about 30 s: 8 phases of 5 epochs and 45 epochs from scratch
def test_unsupervised_pretraining_beats_training_from_scratch_on_an_8_layer_sigmoid_network():
    """8 sigmoid layers of 64, Glorot, Adam 1e-2, 45 epochs in all, seed 1: stacked autoencoders (cross-entropy,
    untied, no noise: the defaults) for 8 x 5 epochs, the output layer for 5, then fine-tuning, against 45 epochs
    from scratch. Measured while choosing the defaults (seeds 1, 2, 3): 0.916 / 0.924 / 0.909 against 0.21 / 0.28
    / 0.10 from scratch; tied 0.900 / 0.909 / 0.902, with 10% or 20% masking noise 0.80 to 0.86, and with squared
    error (tied, noise or neither; seeds 1 and 2) 0.10."""
    x, y, xv, yv = digits()
    scratch = mlp([64] * 8, activation="sigmoid", learning_rate=1e-2, seed=1)
    scratch.fit(x, y, batch_size=64, epochs=45, verbose=0)
    scratch_accuracy = scratch.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"]
    model = mlp([64] * 8, activation="sigmoid", learning_rate=1e-2, seed=1)
    report = greedy_layerwise_pretrain(model, (x, y), mode="unsupervised", epochs_per_layer=5, batch_size=64)
    model.fit(x, y, batch_size=64, epochs=45 - sum(phase["epochs"] for phase in report), verbose=0)
    pretrained_accuracy = model.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"]
    assert scratch_accuracy < 0.4 and pretrained_accuracy > 0.8, (scratch_accuracy, pretrained_accuracy)


@pytest.mark.slow  # about 25 s
def test_dbn_pretraining_beats_the_same_mlp_from_scratch_at_equal_fine_tuning_epochs():
    """6 sigmoid layers of 64, seed 1: RBMs (CD-1, SGD 0.1 with momentum 0.9, 10 epochs each at batch 32) and
    3 epochs of the output layer, then 10 epochs of fine-tuning, against the same 10 epochs from scratch."""
    x, y, xv, yv = digits()
    scratch = mlp([64] * 6, activation="sigmoid", learning_rate=1e-2, seed=1)
    scratch.fit(x, y, batch_size=64, epochs=10, verbose=0)
    scratch_accuracy = scratch.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"]
    model = mlp([64] * 6, activation="sigmoid", learning_rate=1e-2, seed=1)
    greedy_layerwise_pretrain(model, (x, y), mode="rbm", epochs_per_layer=10, head_epochs=3, batch_size=32)
    model.fit(x, y, batch_size=64, epochs=10, verbose=0)
    dbn_accuracy = model.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"]
    assert dbn_accuracy > scratch_accuracy + 0.15, (dbn_accuracy, scratch_accuracy)


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
