"""Transfer learning: reuse the first layers of a trained model, frozen or fine-tuned, and unfreeze on a schedule.

    >>> source = keras.saving.load_model("runs/digits/model.keras")
    >>> model = transfer_model(source, upto="dense_1", head=[keras.layers.Dense(5, activation="softmax")])
    >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    >>> model.fit(x, y, epochs=10, callbacks=[UnfreezeSchedule(after_epoch=5, layers=1, learning_rate=1e-4)])

Frozen layers keep their weights bit for bit; a frozen BatchNormalization
layer also runs in inference mode (Keras does this for `trainable=False`),
so its moving statistics stay as the source model left them.
"""

from __future__ import annotations

from typing import Any, Sequence

import keras

from zoo.callbacks.base import ConfigurableCallback
from zoo.callbacks.chain import chain_of, set_trainable
from zoo import _checks

__all__ = ["reused_blocks", "transfer_model", "UnfreezeSchedule", "make_trainable_later"]

register = keras.saving.register_keras_serializable(package="zoo")


def reused_blocks(source: keras.Model, upto: int | str) -> list[list[keras.layers.Layer]]:
    """The preamble and the first blocks of `source` (see `callbacks.chain`), up to and including `upto`.

    Args:
        source: a trained chain model.
        upto: how many blocks to take (1 = the first layer with weights and what
            follows it), or the name of the last layer to take; its whole block is taken.
    """
    chain = chain_of(source)
    if isinstance(upto, str):
        count = chain.block_of(upto) + 1
    else:
        count = _checks.positive_int("transfer", "layers", upto)
    if count > len(chain.blocks):
        raise ValueError(f"model {source.name!r} has {len(chain.blocks)} layers with weights "
                         f"({', '.join(block[0].name for block in chain.blocks)}); cannot reuse {count}.")
    return [chain.preamble] + chain.blocks[:count]


def transfer_model(
    source: keras.Model,
    upto: int | str,
    head: Sequence[keras.layers.Layer],
    freeze: bool = True,
    name: str | None = None,
) -> keras.Model:
    """A new model: `source`'s first layers (with their trained weights) and then `head`.

    Args:
        source: the trained model whose layers are reused (the layer objects are shared).
        upto: see `reused_blocks`.
        head: new layers on top.
        freeze: freeze the reused layers (feature extraction); False fine-tunes them.
        name: the new model's name.
    """
    reused = [layer for block in reused_blocks(source, upto) for layer in block]
    set_trainable([layer for layer in reused if layer.weights], not freeze)
    inputs = keras.Input(shape=source.input_shape[1:], dtype=source.inputs[0].dtype)
    x = inputs
    for layer in list(reused) + list(head):
        x = layer(x)
    return keras.Model(inputs, x, name=name or f"{source.name}_transfer")


def make_trainable_later(model: keras.Model) -> None:
    """Build the model's optimizer for every weight, frozen ones included.

    Keras builds an optimizer for the weights trainable at the first `fit`; a weight
    unfrozen later would have no slots. Call this after `compile` on a model whose
    frozen layers may be unfrozen during training (`UnfreezeSchedule` does).
    """
    if model.optimizer is None:
        raise ValueError(f"model {model.name!r} is not compiled.")
    if model.optimizer.built:
        return
    frozen = [layer for layer in model.layers if not layer.trainable]
    set_trainable(frozen, True)
    model.optimizer.build(model.trainable_variables)
    set_trainable(frozen, False)


@register
class UnfreezeSchedule(ConfigurableCallback):
    """Unfreezes frozen layers from the top down at the start of epoch `after_epoch`, at a lower learning rate.

    The frozen layers are those with weights and `trainable=False` when training
    starts, in model order; `layers` of them, counted from the top, become trainable.
    Keras compiles `fit`'s train step once with the weights trainable then, so the
    callback rebuilds that step (`make_train_function(force=True)`) for the change
    to take effect in the same `fit`. BatchNormalization layers stay frozen, and
    so in inference mode, unless `batch_norm` is True: fine-tuning on a small
    dataset should not rewrite statistics gathered on a large one.

    Args:
        after_epoch: the (0-based) epoch at whose start the layers unfreeze.
        layers: how many frozen layers to unfreeze, from the top, or "all".
        learning_rate: the optimizer's learning rate from then on (None keeps it).
        batch_norm: unfreeze BatchNormalization layers too.
        verbose: 1 prints what was unfrozen.

    Example:
        >>> model.fit(x, y, epochs=20, callbacks=[UnfreezeSchedule(after_epoch=10, layers=2, learning_rate=1e-5)])
    """

    def __init__(self, after_epoch: int, layers: int | str = "all", learning_rate: float | None = None,
                 batch_norm: bool = False, verbose: int = 1) -> None:
        super().__init__()
        self.after_epoch = _checks.int_at_least("UnfreezeSchedule", "after_epoch", after_epoch, 0)
        if layers != "all":
            _checks.positive_int("UnfreezeSchedule", "layers", layers)
        self.layers = layers
        self.learning_rate = None if learning_rate is None else _checks.positive("UnfreezeSchedule", "learning_rate", learning_rate)
        self.batch_norm = bool(batch_norm)
        self.verbose = verbose
        self.unfrozen: list[str] = []

    def frozen_layers(self, model: keras.Model) -> list[keras.layers.Layer]:
        """The layers this schedule may unfreeze, bottom to top."""
        return [layer for layer in model.layers if layer.weights and not layer.trainable
                and (self.batch_norm or not isinstance(layer, keras.layers.BatchNormalization))]

    def check(self, model: keras.Model) -> None:
        """A ValueError unless `model` has at least `layers` frozen layers to unfreeze."""
        frozen = self.frozen_layers(model)
        if self.layers != "all" and self.layers > len(frozen):
            raise ValueError(f"UnfreezeSchedule: cannot unfreeze {self.layers} layers; model {model.name!r} has "
                             f"{len(frozen)} frozen layer(s) with weights"
                             f"{': ' + ', '.join(layer.name for layer in frozen) if frozen else ''}.")

    def on_train_begin(self, logs=None):
        if keras.backend.backend() != "tensorflow":
            raise NotImplementedError("UnfreezeSchedule changes trainable weights inside fit, which needs the TensorFlow backend.")
        self.check(self.model)
        self._candidates = self.frozen_layers(self.model)
        make_trainable_later(self.model)

    def on_epoch_begin(self, epoch, logs=None):
        if epoch < self.after_epoch or self.unfrozen:
            return
        count = len(self._candidates) if self.layers == "all" else self.layers
        chosen = self._candidates[len(self._candidates) - count:]
        set_trainable(chosen, True)
        self.unfrozen = [layer.name for layer in chosen]
        if self.learning_rate is not None:
            self.model.optimizer.learning_rate = self.learning_rate
        self.model.make_train_function(force=True)
        if self.verbose:
            rate = f" at learning rate {self.learning_rate:g}" if self.learning_rate is not None else ""
            print(f"UnfreezeSchedule: epoch {epoch + 1}: unfroze {', '.join(self.unfrozen)}{rate}", flush=True)

    def get_state(self) -> dict[str, Any]:
        return {"unfrozen": self.unfrozen}

    def set_state(self, state: dict[str, Any]) -> None:
        """On resume: the layers unfrozen before the interruption are trainable again."""
        self.unfrozen = list(state.get("unfrozen", []))
        if self.unfrozen:
            set_trainable([self.model.get_layer(name) for name in self.unfrozen], True)
            self.model.make_train_function(force=True)

    def get_config(self) -> dict[str, Any]:
        return {"after_epoch": self.after_epoch, "layers": self.layers, "learning_rate": self.learning_rate,
                "batch_norm": self.batch_norm, "verbose": self.verbose}
