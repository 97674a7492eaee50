"""Growing the batch size (Smith et al.): the schedule, one training across the stretches, and the paper's claim on digits."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from zoo.callbacks import BatchSizeSchedule, fit_growing_batches
from tests.callbacks.helpers import digits, mlp


def _sgd_mlp(seed: int, learning_rate: float = 0.1) -> keras.Model:
    model = mlp([64, 64], seed=seed)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate, momentum=0.9), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def test_the_schedule_gives_each_epoch_its_batch_size():
    every = BatchSizeSchedule(factor=2, every=3, max_batch_size=100)
    assert [every.batch_size(epoch, 16) for epoch in range(10)] == [16, 16, 16, 32, 32, 32, 64, 64, 64, 100]
    listed = BatchSizeSchedule(factor=5, after_epochs=[60, 120, 160])
    assert [listed.batch_size(epoch, 128) for epoch in (0, 59, 60, 119, 120, 159, 160)] == [128, 128, 640, 640, 3200,
                                                                                           3200, 16000]
    assert every.stretches(2, 8, 16) == [(2, 3, 16), (3, 6, 32), (6, 8, 64)]
    assert every.stretches(0, 9, 16, rows=40) == [(0, 3, 16), (3, 6, 32), (6, 9, 40)]  # never past one batch of all rows
    assert BatchSizeSchedule.from_config(listed.get_config()).get_config() == listed.get_config()
    assert keras.saving.get_registered_object("zoo>BatchSizeSchedule") is BatchSizeSchedule


@pytest.mark.parametrize("arguments, message", [
    ({"every": 2, "after_epochs": [3]}, "give one of `every`"),
    ({}, "give one of `every`"),
    ({"factor": 1, "every": 2}, "`factor` got 1"),
    ({"factor": 2.5, "every": 2}, "`factor` got 2.5"),
    ({"every": 0}, "`every` got 0"),
    ({"after_epochs": [5, 3]}, "increasing"),
    ({"after_epochs": "5"}, "non-empty list"),
    ({"after_epochs": [2, float("nan")]}, r"after_epochs\[1\]"),
    ({"every": 2, "max_batch_size": True}, "`max_batch_size` got True"),
])
def test_bad_arguments_fail_at_construction_naming_the_argument(arguments, message):
    with pytest.raises(ValueError, match=message):
        BatchSizeSchedule(**arguments)


def test_a_plain_fit_refuses_the_schedule_instead_of_ignoring_it():
    x, y, _, _ = digits()
    with pytest.raises(RuntimeError, match="fit_growing_batches"):
        _sgd_mlp(0).fit(x, y, epochs=1, callbacks=[BatchSizeSchedule(every=1)], verbose=0)


def test_batches_grow_and_callbacks_see_one_training(capsys):
    """Each epoch runs at its batch size (the optimizer's step count says so), and EarlyStopping's patience and
    restore_best_weights span the stretches: begun once, ended once."""
    x, y, xv, yv = digits()
    model = _sgd_mlp(1)
    stopper = keras.callbacks.EarlyStopping(monitor="loss", min_delta=10, patience=2, restore_best_weights=True)
    seen = []

    class Epochs(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(("begin", self.params["epochs"]))

        def on_epoch_begin(self, epoch, logs=None):
            seen.append(epoch)

        def on_train_end(self, logs=None):
            seen.append("end")

    history = fit_growing_batches(model, x, y, batch_size=16, epochs=6, validation_data=(xv, yv), verbose=0,
                                  callbacks=[BatchSizeSchedule(every=1, max_batch_size=64), stopper, Epochs()])
    # min_delta 10 never counts as an improvement: patience 2 stops after 3 epochs, as in one plain fit.
    assert history.epoch == [0, 1, 2] and seen == [("begin", 6), 0, 1, 2, "end"]
    assert history.history["batch_size"] == [16, 32, 64]
    assert int(model.optimizer.iterations) == sum(math.ceil(len(x) / size) for size in (16, 32, 64))
    assert len(history.history["val_loss"]) == 3 and model.history is history
    printed = capsys.readouterr().out
    assert "BatchSizeSchedule: epoch 2: batch size 32" in printed and "epoch 3: batch size 64" in printed


def test_growing_the_batch_matches_decaying_the_rate_in_fewer_steps():
    """Smith et al.'s claim on digits, SGD with momentum at 0.1 for 12 epochs: dividing the rate by 4 after
    epochs 4 and 8, or multiplying the batch (16) by 4 there instead, end at the same accuracy; growing takes
    well under half the parameter updates. (Seeds 1-3 gave 0.977/0.977/0.982 against 0.980/0.972/0.980
    with 1,056 against 464 steps; the constant rate, 0.21/0.92/0.96.)"""
    x, y, xv, yv = digits()
    decayed = _sgd_mlp(1)
    rate = keras.callbacks.LearningRateScheduler(lambda epoch: 0.1 / 4 ** sum(epoch >= k for k in (4, 8)))
    decayed.fit(x, y, batch_size=16, epochs=12, callbacks=[rate], verbose=0)
    grown = _sgd_mlp(1)
    fit_growing_batches(grown, x, y, batch_size=16, epochs=12, verbose=0, seed=1,
                        callbacks=[BatchSizeSchedule(factor=4, after_epochs=[4, 8], verbose=0)])
    decayed_accuracy = decayed.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"]
    grown_accuracy = grown.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"]
    assert decayed_accuracy > 0.95 and grown_accuracy > 0.95
    assert abs(decayed_accuracy - grown_accuracy) < 0.03
    assert int(grown.optimizer.iterations) < 0.5 * int(decayed.optimizer.iterations)


def test_a_restored_epoch_the_stretches_were_not_planned_from_is_an_error(tmp_path):
    x, y, _, _ = digits()
    model = _sgd_mlp(0)
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=False)
    fit_growing_batches(model, x, y, batch_size=64, epochs=2, callbacks=[BatchSizeSchedule(every=1), backup], verbose=0)
    with pytest.raises(RuntimeError, match="restored epoch 2.*initial_epoch=2"):
        fit_growing_batches(_sgd_mlp(0), x, y, batch_size=64, epochs=4, verbose=0,
                            callbacks=[BatchSizeSchedule(every=1), backup])
    history = fit_growing_batches(_sgd_mlp(0), x, y, batch_size=64, epochs=4, initial_epoch=2, verbose=0,
                                  callbacks=[BatchSizeSchedule(every=1), backup])
    assert history.epoch == [2, 3] and history.history["batch_size"] == [256, 512]
