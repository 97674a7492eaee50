"""Per-layer gradient norms, and a callback that watches them during `fit`.

Keras's compiled train step does not hand gradients to callbacks, so the
monitor computes them itself on a fixed probe batch, with the model's loss,
in a compiled function of its own (a `tf.function` on TensorFlow, `jax.jit`
on JAX). The training step stays untouched and as fast as before.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import keras
import numpy as np

from zoo.callbacks.base import ConfigurableCallback
from zoo import _checks
from zoo.batches import first_batch

__all__ = ["GradientMonitor", "layer_gradient_norms", "probe_batch", "weighted_layers"]

register = keras.saving.register_keras_serializable(package="zoo")


def weighted_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The model's top-level layers that own trainable weights, in order."""
    return [layer for layer in model.layers if layer.trainable_weights]


def probe_batch(data: Any, size: int | None = None) -> tuple[Any, Any]:
    """The first `(x, y)` batch of a dataset or an `(x, y)` pair of arrays, cut to `size` rows."""
    if isinstance(data, (tuple, list)) and len(data) >= 2:
        x, y = data[0], data[1]
    else:
        x, y = first_batch(data)[:2]
    x, y = np.asarray(x), np.asarray(y)
    return (x[:size], y[:size]) if size else (x, y)


def loss_function(model: keras.Model):
    loss = getattr(model, "loss", None)
    if loss is None or isinstance(loss, (dict, list, tuple)):
        raise ValueError(
            "gradient norms need a model compiled with one loss for one output; "
            f"{model.name!r} has loss={loss!r}."
        )
    return keras.losses.get(loss) if isinstance(loss, str) else loss


class _GradientFunction:
    """Compiled `(x, y) -> [gradient norm per weighted layer]` for one model."""

    def __init__(self, model: keras.Model) -> None:
        self.model = model
        self.layers = weighted_layers(model)
        self.loss = loss_function(model)
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            self.function = tf.function(self._tensorflow, reduce_retracing=True)
        elif backend == "jax":
            self.function = self._jax
        else:
            raise NotImplementedError(f"gradient norms are implemented for the TensorFlow and JAX backends, not {backend!r}.")

    def _objective(self, y, y_pred, losses):
        value = keras.ops.mean(self.loss(y, y_pred))
        return value + sum(losses) if losses else value

    def _norms(self, gradients):
        norms, index = [], 0
        for layer in self.layers:
            count = len(layer.trainable_weights)
            squares = [keras.ops.sum(keras.ops.square(keras.ops.cast(g, "float32")))
                       for g in gradients[index:index + count] if g is not None]
            norms.append(keras.ops.sqrt(sum(squares)) if squares else keras.ops.zeros(()))
            index += count
        return norms

    def _variables(self):
        return [v for layer in self.layers for v in layer.trainable_weights]

    def _tensorflow(self, x, y):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            y_pred = self.model(x, training=True)
            value = self._objective(y, y_pred, self.model.losses)
        return value, self._norms(tape.gradient(value, self._variables()))

    def _jax(self, x, y):
        import jax

        model = self.model
        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        ours = {id(v) for v in self._variables()}
        position = [i for i, v in enumerate(model.trainable_variables) if id(v) in ours]

        def objective(weights):
            y_pred, _, losses = model.stateless_call(weights, non_trainable, x, training=True, return_losses=True)
            return self._objective(y, y_pred, losses)

        value, gradients = jax.value_and_grad(objective)(trainable)
        return value, self._norms([gradients[i] for i in position])

    def __call__(self, x, y) -> tuple[float, dict[str, float]]:
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:  # inside a JAX fit the weights live in the trainer's state until synced
            sync()
        value, norms = self.function(x, y)
        return float(value), {layer.name: float(n) for layer, n in zip(self.layers, norms)}


def layer_gradient_norms(model: keras.Model, x, y) -> dict[str, float]:
    """The L2 norm of the loss gradient with respect to each layer's trainable weights.

    Args:
        model: a compiled single-output model.
        x, y: one batch of inputs and targets.

    Returns:
        `{layer name: norm}` for every top-level layer with trainable weights, in order.

    Example:
        >>> norms = layer_gradient_norms(model, x_train[:256], y_train[:256])
        >>> norms["dense"] / norms["dense_9"]   # << 1: vanishing gradients
    """
    return _GradientFunction(model)(x, y)[1]


@register
class GradientMonitor(ConfigurableCallback):
    """Records per-layer gradient norms every `every` batches and warns when they vanish or explode.

    The norms are computed on a fixed probe batch (set with `probe` or `set_probe`;
    `zoo train` gives it the first training batch) with the model's loss and its
    weights as they are at that step, in a compiled function beside `fit`'s own.
    Each record goes to `history` (a list of `{"step", "epoch", layer: norm}`),
    to TensorBoard under `gradient_norm/<layer>` when `log_dir` is given, and the
    epoch's last norms go into the epoch logs as `grad_norm/<layer>` (so they land
    in history.csv). A layer whose norm falls below `vanishing` or rises above
    `exploding` gets one warning per epoch.

    Args:
        every: record every this many training batches (and at step 0).
        vanishing: norms below this are reported as vanishing.
        exploding: norms above this are reported as exploding.
        probe_size: rows of the probe batch used.
        log_dir: a TensorBoard directory for the norms (TensorFlow backend), or None.
        verbose: 1 prints the warnings; 0 keeps them in `warnings_seen` only.
        probe: an `(x, y)` pair of arrays, or None to set later with `set_probe`.

    Example:
        >>> monitor = GradientMonitor(every=50, vanishing=1e-6, probe=(x[:128], y[:128]))
        >>> model.fit(x, y, epochs=5, callbacks=[monitor])
        >>> monitor.history[-1]["dense"]
    """

    def __init__(
        self,
        every: int = 100,
        vanishing: float = 1e-7,
        exploding: float = 1e3,
        probe_size: int = 256,
        log_dir: str | None = None,
        verbose: int = 1,
        probe: tuple | None = None,
    ) -> None:
        super().__init__()
        owner = "GradientMonitor"
        self.every = _checks.positive_int(owner, "every", every)
        self.vanishing = _checks.non_negative(owner, "vanishing", vanishing)
        self.exploding = _checks.positive(owner, "exploding", exploding)
        if self.vanishing >= self.exploding:
            raise ValueError(f"GradientMonitor: `vanishing` ({vanishing}) must be below `exploding` ({exploding}).")
        self.probe_size = _checks.positive_int(owner, "probe_size", probe_size)
        self.log_dir = log_dir
        self.verbose = verbose
        self.probe = None
        if probe is not None:
            self.set_probe(*probe)
        self.history: list[dict[str, float]] = []
        self.warnings_seen: list[str] = []

    def set_probe(self, x, y) -> None:
        """The batch the norms are computed on."""
        self.probe = (np.asarray(x)[: self.probe_size], np.asarray(y)[: self.probe_size])

    def on_train_begin(self, logs=None):
        if self.probe is None:
            raise ValueError("GradientMonitor has no probe batch: pass probe=(x, y) or call set_probe(x, y) before fit.")
        self._function = _GradientFunction(self.model)
        self._step = 0
        self._epoch = 0
        self._writer = None
        if self.log_dir and keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            self._writer = tf.summary.create_file_writer(str(self.log_dir))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._warned: set[tuple[str, str]] = set()

    def on_train_batch_begin(self, batch, logs=None):
        if self._step % self.every == 0:
            self._record()
        self._step += 1

    def _record(self) -> dict[str, float]:
        loss, norms = self._function(*self.probe)
        self.history.append({"step": self._step, "epoch": self._epoch, "probe_loss": loss, **norms})
        for name, norm in norms.items():
            kind = "vanishing" if norm < self.vanishing else "exploding" if not (norm <= self.exploding) else None
            if kind and (name, kind) not in self._warned:
                self._warned.add((name, kind))
                bound = self.vanishing if kind == "vanishing" else self.exploding
                message = (f"GradientMonitor: {kind} gradients in layer {name!r} at step {self._step} "
                           f"(epoch {self._epoch + 1}): norm {norm:.3g} {'<' if kind == 'vanishing' else '>'} {bound:g}")
                self.warnings_seen.append(message)
                if self.verbose:
                    warnings.warn(message, RuntimeWarning, stacklevel=2)
        if self._writer is not None:
            import tensorflow as tf

            with self._writer.as_default(step=self._step):
                for name, norm in norms.items():
                    tf.summary.scalar(f"gradient_norm/{name}", norm if math.isfinite(norm) else 0.0)
        return norms

    def on_epoch_end(self, epoch, logs=None):
        norms = self._record()
        if logs is not None:
            logs.update({f"grad_norm/{name}": norm for name, norm in norms.items()})

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.flush()

    def get_config(self) -> dict[str, Any]:
        return {"every": self.every, "vanishing": self.vanishing, "exploding": self.exploding,
                "probe_size": self.probe_size, "log_dir": self.log_dir, "verbose": self.verbose}
