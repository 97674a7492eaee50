"""Losses Keras does not ship, registered as `zoo>Name`.

    >>> from zoo.losses import StandardizedLoss
    >>> model.compile(optimizer="adam", loss=StandardizedLoss("mse", mean=152.1, std=77.0))  # doctest: +SKIP
"""

from __future__ import annotations

import math

import keras
from keras import ops

__all__ = ["StandardizedLoss"]


def _floats(name: str, value, positive: bool = False) -> float | list[float]:
    values = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or (positive and v <= 0):
            raise ValueError(f"StandardizedLoss: argument `{name}` got {value!r}; allowed: "
                             f"{'positive ' if positive else ''}finite numbers (one, or one per output).")
        out.append(float(v))
    return out if isinstance(value, (list, tuple)) else out[0]


@keras.saving.register_keras_serializable(package="zoo")
class StandardizedLoss(keras.losses.Loss):
    """A regression loss on standardized targets: loss((y_true - mean) / std, (y_pred - mean) / std).

    With a model whose output is in the targets' own units (a fixed rescaling y = z·std + mean
    at its end, as `data.scale_targets` builds), training sees targets of unit scale, while
    predictions and metrics (mae, mse...) stay in the original units. The diabetes data's
    targets run from 25 to 346: unscaled, an MSE of 28,861 after two epochs.

    Args:
        loss: the loss on the standardized values (a name, a function or a Keras loss).
        mean, std: the training targets' mean and standard deviation, one value or one per output.
    """

    def __init__(self, loss="mean_squared_error", mean=0.0, std=1.0, name="standardized_loss",
                 reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.inner = keras.losses.get(loss)
        self.mean = _floats("mean", mean)
        self.std = _floats("std", std, positive=True)

    def call(self, y_true, y_pred):
        mean = ops.convert_to_tensor(self.mean, dtype=y_pred.dtype)
        std = ops.convert_to_tensor(self.std, dtype=y_pred.dtype)
        y_true = (ops.cast(y_true, y_pred.dtype) - mean) / std
        y_pred = (y_pred - mean) / std
        inner = self.inner.call if isinstance(self.inner, keras.losses.Loss) else self.inner
        return inner(y_true, y_pred)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction, "loss": keras.losses.serialize(self.inner),
                "mean": self.mean, "std": self.std}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["loss"] = keras.losses.deserialize(config["loss"])
        return cls(**config)
