"""The learning-rate range test (Smith, 2017, "Cyclical Learning Rates for Training Neural Networks").

Train for a few hundred steps while the learning rate grows exponentially
from `min_lr` to `max_lr`, record the loss at each step, and read the
curve: the loss falls fastest a little below the rate where it blows up.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import keras
import numpy as np

from zoo.callbacks.base import ConfigurableCallback
from zoo import _checks
from zoo._keras import learning_rate_object

__all__ = ["LearningRateFinder"]

register = keras.saving.register_keras_serializable(package="zoo")


@register
class LearningRateFinder(ConfigurableCallback):
    """Sweeps the learning rate exponentially over `steps` batches and suggests one.

    At step i the rate is `min_lr * (max_lr / min_lr) ** (i / (steps - 1))`. The
    batch loss is smoothed with an exponential moving average (bias-corrected);
    the sweep stops early when the smoothed loss exceeds `stop_factor` times its
    best, or is not finite. At the end the model's weights, optimizer state and
    learning rate are put back as they were, and `suggestion` holds the rate at
    the steepest descent of the smoothed loss (in log-rate), taken before the
    minimum. Train for enough epochs to cover `steps` batches; the sweep stops
    training when it is done.

    Args:
        min_lr: the first rate.
        max_lr: the last rate.
        steps: how many batches the sweep takes.
        smoothing: the moving average's factor, in [0, 1).
        stop_factor: stop when the smoothed loss exceeds this times its minimum.
        verbose: 1 prints the suggestion.

    Example:
        >>> finder = LearningRateFinder(min_lr=1e-6, max_lr=1.0, steps=200)
        >>> model.fit(x, y, epochs=10, callbacks=[finder])
        >>> finder.suggestion, finder.plot("lr_find.png")
    """

    def __init__(self, min_lr: float = 1e-6, max_lr: float = 1.0, steps: int = 100, smoothing: float = 0.9,
                 stop_factor: float = 4.0, verbose: int = 1) -> None:
        super().__init__()
        owner = "LearningRateFinder"
        self.min_lr = _checks.positive(owner, "min_lr", min_lr)
        self.max_lr = _checks.positive(owner, "max_lr", max_lr)
        if self.max_lr <= self.min_lr:
            raise ValueError(f"LearningRateFinder: `max_lr` ({max_lr}) must be above `min_lr` ({min_lr}).")
        self.steps = _checks.int_at_least(owner, "steps", steps, 5)
        if not 0 <= smoothing < 1:
            raise ValueError(f"LearningRateFinder: argument `smoothing` got {smoothing!r}; allowed: a number in [0, 1).")
        self.smoothing = float(smoothing)
        self.stop_factor = _checks.positive(owner, "stop_factor", stop_factor)
        self.verbose = verbose
        self.rates: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.suggestion: float | None = None

    def rate_at(self, step: int) -> float:
        return self.min_lr * (self.max_lr / self.min_lr) ** (step / (self.steps - 1))

    def on_train_begin(self, logs=None):
        learning_rate = learning_rate_object(self.model.optimizer)
        if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
            raise ValueError("LearningRateFinder sets the learning rate itself; compile with a plain rate, not a schedule.")
        self._saved_weights = [np.array(v) for v in self.model.weights]
        self._saved_rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self._optimizer_built = self.model.optimizer.built
        self._saved_optimizer = [np.array(v) for v in self.model.optimizer.variables] if self._optimizer_built else None
        self.rates, self.losses, self.smoothed = [], [], []
        self._average = 0.0
        self.model.optimizer.learning_rate = self.rate_at(0)

    def on_epoch_begin(self, epoch, logs=None):
        self._previous_mean, self._seen = 0.0, 0

    def on_train_batch_end(self, batch, logs=None):
        step = len(self.rates)
        # Keras logs the running mean of the epoch's losses; undo it to get this batch's loss.
        mean = float((logs or {}).get("loss", math.nan))
        loss = mean * (self._seen + 1) - self._previous_mean * self._seen
        self._previous_mean, self._seen = mean, self._seen + 1
        self.rates.append(self.rate_at(step))
        self.losses.append(loss)
        self._average = self.smoothing * self._average + (1 - self.smoothing) * loss
        smoothed = self._average / (1 - self.smoothing ** (step + 1))
        self.smoothed.append(smoothed)
        best = min(v for v in self.smoothed if math.isfinite(v)) if any(map(math.isfinite, self.smoothed)) else math.inf
        if step + 1 >= self.steps or not math.isfinite(smoothed) or smoothed > self.stop_factor * best:
            self.model.stop_training = True
            return
        self.model.optimizer.learning_rate = self.rate_at(step + 1)

    def on_train_end(self, logs=None):
        for variable, value in zip(self.model.weights, self._saved_weights):
            variable.assign(value)
        if self._saved_optimizer is not None:
            for variable, value in zip(self.model.optimizer.variables, self._saved_optimizer):
                variable.assign(value)
        self.model.optimizer.learning_rate = self._saved_rate
        self.suggestion = self.suggest()
        if self.verbose and self.suggestion is not None:
            print(f"LearningRateFinder: suggested learning rate {self.suggestion:.3g} "
                  f"(swept {self.rates[0]:.2g} to {self.rates[-1]:.2g} in {len(self.rates)} steps)", flush=True)

    def suggest(self) -> float | None:
        """The rate where the smoothed loss falls fastest, before its minimum; None if the sweep was too short."""
        smoothed = np.array(self.smoothed, dtype="float64")
        finite = np.isfinite(smoothed)
        if finite.sum() < 5:
            return None
        end = int(np.nanargmin(np.where(finite, smoothed, np.nan))) + 1
        if end < 3:
            return None
        slopes = np.gradient(smoothed[:end], np.log(self.rates[:end]))
        return float(self.rates[int(np.argmin(slopes))])

    def plot(self, path: str | Path) -> Path:
        """Loss against learning rate (log axis), raw and smoothed, the suggestion marked; written as PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axis = plt.subplots(figsize=(6, 4))
        axis.plot(self.rates, self.losses, alpha=0.3, label="batch loss")
        axis.plot(self.rates, self.smoothed, label="smoothed")
        if self.suggestion is not None:
            axis.axvline(self.suggestion, color="red", linestyle="--", label=f"suggested {self.suggestion:.2g}")
        finite = [v for v in self.smoothed if math.isfinite(v)]
        if finite:  # from below the lowest loss to above the sweep's start; the divergence at the end is cut
            low, start = min(finite), finite[0]
            axis.set_ylim(low - 0.1 * abs(low), max(start, min(max(finite), 4 * low)) + 0.1 * abs(start))
        axis.set_xscale("log")
        axis.set_xlabel("learning rate")
        axis.set_ylabel("loss")
        axis.legend()
        figure.tight_layout()
        path = Path(path)
        figure.savefig(path, format="png", dpi=100)
        plt.close(figure)
        return path

    def get_config(self) -> dict[str, Any]:
        return {"min_lr": self.min_lr, "max_lr": self.max_lr, "steps": self.steps, "smoothing": self.smoothing,
                "stop_factor": self.stop_factor, "verbose": self.verbose}
