"""The "babysitting" checks of a training run, as functions and callbacks.

- the initial loss of a classifier against ln(number of classes);
- overfitting one small batch with regularization off (the loss should go to
  about zero), and the loss staying higher with regularization on;
- per-layer activation statistics and the fraction of dead ReLU units;
- per-layer weight statistics (gradient norms are in `callbacks.gradients`);
- the train / validation gap against a baseline error, as a bias / variance verdict.

`zoo doctor SPEC` runs them all on a spec's model; `ActivationMonitor` watches
activations during `fit`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import keras
import numpy as np

from zoo.callbacks.base import ConfigurableCallback
from zoo.callbacks.gradients import loss_function
from zoo import _checks

__all__ = [
    "ActivationMonitor",
    "activation_statistics",
    "bias_variance_verdict",
    "initial_loss",
    "overfit_small_batch",
    "weight_statistics",
    "without_regularization",
    "has_regularization",
    "REMEDIES",
]

register = keras.saving.register_keras_serializable(package="zoo")

_RELU_LIKE = {"relu", "relu6"}


def initial_loss(model: keras.Model, x, y, classes: int | None = None) -> dict[str, float | None]:
    """The data loss of an untrained model on a batch, and what a classifier should start at.

    For a classifier over C classes whose outputs start near uniform, the
    cross-entropy starts at ln(C). Much higher means overconfident initial logits
    (initialization or last-layer scale); much lower, a bug in labels or loss.

    Args:
        classes: the number of classes (2 for a one-unit sigmoid output); None for a
            regression, which has no expected value.
    """
    loss = float(keras.ops.convert_to_numpy(keras.ops.mean(loss_function(model)(y, model(x, training=False)))))
    expected = math.log(classes) if classes and classes > 1 else None
    return {"loss": loss, "expected": expected, "classes": classes, "ratio": loss / expected if expected else None}


def _relu_like(layer: keras.layers.Layer) -> bool:
    if isinstance(layer, keras.layers.ReLU):
        return True
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None) in _RELU_LIKE


def activation_statistics(model: keras.Model, x) -> dict[str, dict[str, float]]:
    """Mean, standard deviation and fraction of zeros of each top-level layer's output on `x`.

    For layers with a ReLU output, `dead_fraction` is the fraction of units that
    output zero for every example in `x`; for sigmoid / tanh outputs,
    `saturated_fraction` is the fraction of outputs within 0.02 of the bounds.
    """
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    probe = keras.Model(inputs, [layer.output for layer in layers])
    outputs = probe(x, training=False)
    statistics = {}
    for layer, output in zip(layers, outputs if isinstance(outputs, (list, tuple)) else [outputs]):
        values = np.asarray(keras.ops.convert_to_numpy(output), dtype="float64")
        entry = {"mean": float(values.mean()), "std": float(values.std()), "zero_fraction": float((values == 0).mean())}
        flat = values.reshape(values.shape[0], -1)
        if _relu_like(layer):
            entry["dead_fraction"] = float((flat <= 0).all(axis=0).mean())
        name = getattr(getattr(layer, "activation", None), "__name__", None)
        if name == "sigmoid":
            entry["saturated_fraction"] = float(((flat < 0.02) | (flat > 0.98)).mean())
        elif name == "tanh":
            entry["saturated_fraction"] = float((np.abs(flat) > 0.98).mean())
        statistics[layer.name] = entry
    return statistics


def weight_statistics(model: keras.Model) -> dict[str, dict[str, float]]:
    """Mean, standard deviation, extreme absolute value and L2 norm of every weight, keyed by its path."""
    statistics = {}
    for variable in model.weights:
        values = np.asarray(variable, dtype="float64")
        statistics[variable.path] = {"mean": float(values.mean()), "std": float(values.std()),
                                     "max_abs": float(np.abs(values).max()) if values.size else 0.0,
                                     "norm": float(np.sqrt((values ** 2).sum()))}
    return statistics


_NOISE_WORDS = ("Dropout", "Noise", "DropConnect", "StochasticDepth")
_NOISE_ARGUMENTS = ("rate", "stddev")


def _strip(config: Any, noisy: bool = False) -> Any:
    if isinstance(config, dict):
        stripped = {}
        for key, value in config.items():
            if key.endswith("_regularizer"):
                stripped[key] = None
            elif noisy and key in _NOISE_ARGUMENTS and isinstance(value, (int, float)):
                stripped[key] = 0.0
            else:
                stripped[key] = _strip(value, noisy)
        return stripped
    if isinstance(config, list):
        return [_strip(item, noisy) for item in config]
    return config


def without_regularization(model: keras.Model) -> keras.Model:
    """A copy of `model` with its weights, without weight or activity regularizers, dropout or noise.

    Layers whose class name says Dropout, Noise, DropConnect or StochasticDepth get
    their `rate` / `stddev` set to 0; every `*_regularizer` argument becomes None.
    """
    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        noisy = any(word in type(layer).__name__ for word in _NOISE_WORDS)
        return layer.__class__.from_config(_strip(layer.get_config(), noisy))

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def has_regularization(model: keras.Model) -> bool:
    def noisy(config: Any) -> bool:
        if isinstance(config, dict):
            return any((key.endswith("_regularizer") and value is not None) or noisy(value) for key, value in config.items())
        return isinstance(config, list) and any(noisy(item) for item in config)

    def dropping(layer: keras.layers.Layer) -> bool:
        config = layer.get_config()
        return any(word in type(layer).__name__ for word in _NOISE_WORDS) and any(
            isinstance(config.get(key), (int, float)) and config[key] > 0 for key in _NOISE_ARGUMENTS)

    return any(noisy(layer.get_config()) or dropping(layer) for layer in model.layers)


def overfit_small_batch(model: keras.Model, x, y, steps: int = 200, regularization: bool = False) -> dict[str, Any]:
    """Train a copy of `model` (same starting weights) on one small batch for `steps` steps.

    A model that cannot drive the loss on a few examples towards zero has a bug or
    too little capacity; with regularization on, the loss should stay higher.

    Returns:
        `{"regularization", "steps", "start_loss", "final_loss", "losses"}`, the losses
        being the data loss plus any regularization, per step.
    """
    if regularization:
        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
    else:
        copy = without_regularization(model)
    optimizer = model.optimizer.__class__.from_config(model.optimizer.get_config())
    copy.compile(optimizer=optimizer, loss=model.loss)
    x, y = np.asarray(x), np.asarray(y)
    history = copy.fit(x, y, batch_size=len(x), epochs=steps, shuffle=False, verbose=0)
    losses = [float(v) for v in history.history["loss"]]
    return {"regularization": regularization, "steps": steps, "start_loss": losses[0], "final_loss": losses[-1], "losses": losses}


REMEDIES = {
    "high bias": "bigger network (more units or layers), train longer, a better optimizer or learning rate, less regularization",
    "high variance": "more data or augmentation, more regularization (L2, dropout, early stopping), a smaller network",
    "high bias and high variance": "first reduce bias (bigger network, train longer), then variance (regularize, more data)",
    "neither": "nothing to fix on this split: look at the test set and at the baseline itself",
}


def bias_variance_verdict(train_error: float, validation_error: float, baseline_error: float = 0.0,
                          tolerance: float = 0.02) -> dict[str, Any]:
    """The train / validation gap as a verdict, against a baseline error (e.g. human-level).

    avoidable bias = train error - baseline; variance = validation error - train error.
    Each is "high" when it exceeds `tolerance` (same units as the errors).
    """
    tolerance = _checks.non_negative("bias_variance_verdict", "tolerance", tolerance)
    bias = train_error - baseline_error
    variance = validation_error - train_error
    high_bias, high_variance = bias > tolerance, variance > tolerance
    verdict = ("high bias and high variance" if high_bias and high_variance else "high bias" if high_bias
               else "high variance" if high_variance else "neither")
    return {"train_error": train_error, "validation_error": validation_error, "baseline_error": baseline_error,
            "avoidable_bias": bias, "variance": variance, "tolerance": tolerance, "verdict": verdict,
            "remedies": REMEDIES[verdict]}


@register
class ActivationMonitor(ConfigurableCallback):
    """Records per-layer activation statistics on a probe batch at the end of each epoch; warns about dead ReLUs.

    Adds `dead_fraction/<layer>` for ReLU layers to the epoch logs (and so to
    history.csv) and keeps every epoch's `activation_statistics` in `history`.

    Args:
        dead_threshold: warn when more than this fraction of a layer's ReLU units is dead.
        probe_size: rows of the probe batch.
        verbose: 1 prints the warnings.
        probe: the probe inputs `x` (or an `(x, y)` pair); `zoo train` gives it the first training batch.

    Example:
        >>> monitor = ActivationMonitor(dead_threshold=0.5, probe=x_train[:256])
        >>> model.fit(x_train, y_train, epochs=5, callbacks=[monitor])
        >>> monitor.history[-1]["dense"]["dead_fraction"]
    """

    def __init__(self, dead_threshold: float = 0.5, probe_size: int = 256, verbose: int = 1, probe: Any = None) -> None:
        super().__init__()
        self.dead_threshold = _checks.rate("ActivationMonitor", "dead_threshold", dead_threshold)
        self.probe_size = _checks.positive_int("ActivationMonitor", "probe_size", probe_size)
        self.verbose = verbose
        self.probe = None
        if probe is not None:
            self.set_probe(*(probe if isinstance(probe, (tuple, list)) else (probe,)))
        self.history: list[dict[str, dict[str, float]]] = []
        self.warnings_seen: list[str] = []

    def set_probe(self, x, y=None) -> None:
        self.probe = np.asarray(x)[: self.probe_size]

    def on_train_begin(self, logs=None):
        if self.probe is None:
            raise ValueError("ActivationMonitor has no probe batch: pass probe=x or call set_probe(x) before fit.")

    def on_epoch_end(self, epoch, logs=None):
        statistics = activation_statistics(self.model, self.probe)
        self.history.append(statistics)
        for name, entry in statistics.items():
            dead = entry.get("dead_fraction")
            if dead is None:
                continue
            if logs is not None:
                logs[f"dead_fraction/{name}"] = dead
            if dead > self.dead_threshold:
                message = f"ActivationMonitor: epoch {epoch + 1}: {dead:.0%} of the ReLU units of layer {name!r} are dead"
                self.warnings_seen.append(message)
                if self.verbose:
                    warnings.warn(message, RuntimeWarning, stacklevel=2)

    def get_config(self) -> dict[str, Any]:
        return {"dead_threshold": self.dead_threshold, "probe_size": self.probe_size, "verbose": self.verbose}
