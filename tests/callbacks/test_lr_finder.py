"""The learning-rate range test: a real sweep on digits, the model left as it was, a usable suggestion."""

from __future__ import annotations

import numpy as np
import pytest
import keras

from zoo.callbacks import LearningRateFinder
from tests.callbacks.helpers import digits, mlp, same, weights_by_layer


def test_sweep_finds_a_rate_that_trains_and_leaves_the_model_untouched(tmp_path):
    x, y, xv, yv = digits()
    model = mlp([64, 64], learning_rate=1e-3)
    before = weights_by_layer(model)
    finder = LearningRateFinder(min_lr=1e-6, max_lr=10.0, steps=120, verbose=0)
    model.fit(x, y, batch_size=32, epochs=10, callbacks=[finder], verbose=0)
    rates = np.array(finder.rates)
    # exponential: a constant ratio between steps, starting at min_lr
    assert rates[0] == pytest.approx(1e-6)
    np.testing.assert_allclose(rates[1:] / rates[:-1], (10.0 / 1e-6) ** (1 / 119), rtol=1e-6)
    # the loss falls, then blows up, and the sweep stops early when it does
    smoothed = np.array(finder.smoothed)
    assert np.nanmin(smoothed) < 0.5 * smoothed[0]
    assert len(rates) < 120 and not (smoothed[-1] <= 4 * np.nanmin(smoothed))
    assert 1e-4 <= finder.suggestion <= 1e-1
    # weights and the learning rate are as before the sweep
    assert all(same(before[name], weights) for name, weights in weights_by_layer(model).items())
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)
    assert finder.plot(tmp_path / "lr.png").stat().st_size > 1000

    # the suggestion trains: 3 epochs at it beat 3 epochs at the top of the sweep by a wide margin
    def accuracy(rate):
        trained = mlp([64, 64], learning_rate=rate)
        trained.fit(x, y, batch_size=32, epochs=3, verbose=0)
        return trained.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"]

    assert accuracy(finder.suggestion) > 0.9
    assert accuracy(finder.suggestion) > accuracy(rates[-1]) + 0.2


def test_finder_refuses_a_schedule_and_bad_arguments():
    with pytest.raises(ValueError, match="must be above"):
        LearningRateFinder(min_lr=1.0, max_lr=0.1)
    with pytest.raises(ValueError, match="`steps`"):
        LearningRateFinder(steps=2)
    model = mlp([8])
    model.compile(optimizer=keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)),
                  loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="not a schedule"):
        model.fit(*digits()[:2], epochs=1, verbose=0, callbacks=[LearningRateFinder()])
    finder = LearningRateFinder(min_lr=1e-5, steps=50)
    assert LearningRateFinder.from_config(finder.get_config()).get_config() == finder.get_config()
