"""Greedy layer-wise pretraining (Bengio et al., 2007; Hinton et al., 2006).

Deep stacks of saturating units train badly from a random start: the
gradient reaching the first layers is tiny. Training them one layer at a
time gives each layer a useful start before the whole network is tuned.

- supervised: phase k trains hidden layers 1..k under a fresh output layer,
  layers 1..k-1 frozen (or not); after the last phase the model's own output
  layer takes the trained head's weights.
- unsupervised: phase k trains hidden layer k as the encoder of an autoencoder
  that reconstructs layer k-1's output (the inputs, for k = 1), earlier layers
  frozen; then the output layer is trained on top of the frozen stack.

Either way the caller fine-tunes all layers afterwards with an ordinary
`model.fit`: `zoo train` does that with the spec's `train` section.

    >>> report = greedy_layerwise_pretrain(model, (x, y), epochs_per_layer=3,
    ...                                    validation_data=(x_val, y_val))
    >>> model.fit(x, y, epochs=10)     # fine-tune every layer
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import keras

from zoo.batches import map_batches
from zoo.callbacks.chain import Chain, chain_of, set_trainable

__all__ = ["greedy_layerwise_pretrain", "MODES"]

MODES = ("supervised", "unsupervised")


class _ReconstructionLoss(keras.layers.Layer):
    """Adds the squared reconstruction error relative to the target's variance to the model's losses.

    Relative, because hidden sigmoid units vary little: an absolute error would be
    smallest for an encoder that maps every input to the same code (which then
    reconstructs the mean). Predicting the batch mean costs 1 here, whatever the scale.
    The target gets no gradient.
    """

    def call(self, target, reconstruction):
        target = keras.ops.stop_gradient(target)
        error = keras.ops.mean(keras.ops.square(target - reconstruction))
        variance = keras.ops.mean(keras.ops.var(target, axis=0))
        self.add_loss(error / (variance + 1e-6))
        return reconstruction


def _fresh(layer: keras.layers.Layer) -> keras.layers.Layer:
    config = layer.get_config()
    config["name"] = f"{config['name']}_pretrain"
    return layer.__class__.from_config(config)


def _optimizer(optimizer: Any, model: keras.Model) -> keras.optimizers.Optimizer:
    """A new optimizer for one phase: from an identifier, a config, an instance (copied) or the model's own."""
    if optimizer is None:
        if model.optimizer is None:
            raise ValueError(f"model {model.name!r} is not compiled; compile it or pass `optimizer`.")
        optimizer = model.optimizer
    if isinstance(optimizer, keras.optimizers.Optimizer):
        return optimizer.__class__.from_config(optimizer.get_config())
    return keras.optimizers.get(optimizer)


def _epochs(epochs_per_layer: int | Sequence[int], count: int) -> list[int]:
    if isinstance(epochs_per_layer, int):
        epochs = [epochs_per_layer] * count
    else:
        epochs = list(epochs_per_layer)
        if len(epochs) != count:
            raise ValueError(f"epochs_per_layer has {len(epochs)} entries, but the model has {count} hidden layers.")
    if any(not isinstance(e, int) or e < 1 for e in epochs):
        raise ValueError(f"epochs_per_layer must be positive integers; got {epochs_per_layer!r}.")
    return epochs


def _inputs_only(data: Any) -> Any:
    if data is None:
        return None
    if isinstance(data, (tuple, list)):
        return data[0]
    return map_batches(data, lambda x, *rest: x)


def _fit(model: keras.Model, data: Any, validation: Any, epochs: int, batch_size: int | None, verbose: int) -> dict:
    if isinstance(data, (tuple, list)):
        x, y = (data[0], data[1]) if len(data) > 1 else (data[0], None)
        history = model.fit(x, y, batch_size=batch_size, epochs=epochs, validation_data=validation, verbose=verbose)
    else:
        history = model.fit(data, epochs=epochs, validation_data=validation, verbose=verbose, shuffle=False)
    return {key: float(values[-1]) for key, values in history.history.items()}


def _compile_like(phase: keras.Model, model: keras.Model, optimizer: keras.optimizers.Optimizer) -> None:
    config = dict(model.get_compile_config() or {})
    config.pop("optimizer", None)
    phase.compile_from_config(config)
    phase.optimizer = optimizer  # compile_from_config does not take an object


def greedy_layerwise_pretrain(
    model: keras.Model,
    train: Any,
    *,
    mode: str = "supervised",
    epochs_per_layer: int | Sequence[int] = 3,
    head_epochs: int | None = None,
    optimizer: Any = None,
    freeze: bool = True,
    validation_data: Any = None,
    batch_size: int | None = None,
    verbose: int = 0,
) -> list[dict[str, Any]]:
    """Pretrain the hidden layers of a compiled chain model one at a time, in place.

    Args:
        model: a compiled single-input, single-output model whose layers form a chain
            (a spec's `layers`, Sequential, or a functional stack); its last block is the output.
        train: a `tf.data.Dataset` or a `keras.utils.PyDataset` of `(x, y)` batches, or an `(x, y)` pair of arrays.
        mode: "supervised" or "unsupervised" (stacked autoencoders).
        epochs_per_layer: epochs of each phase: one number, or one per hidden layer.
        head_epochs: unsupervised mode, epochs of the output layer on the frozen stack
            (default: the last entry of `epochs_per_layer`).
        optimizer: each phase's optimizer (an identifier, a config or an instance, copied
            fresh for every phase); default a copy of the model's own.
        freeze: keep the layers trained in earlier phases frozen.
        validation_data: like `train`; reported per phase.
        batch_size: for arrays.
        verbose: passed to each phase's `fit`.

    Returns:
        one report per phase: `{"phase", "kind", "trained", "frozen", "epochs", "wall_time_s",
        and the phase's final logs}`. Every layer is trainable again at the end.

    Example:
        >>> report = greedy_layerwise_pretrain(model, (x, y), mode="unsupervised", epochs_per_layer=2)
        >>> [phase["loss"] for phase in report]
    """
    if mode not in MODES:
        raise ValueError(f"greedy_layerwise_pretrain: mode {mode!r} is not one of {', '.join(MODES)}.")
    chain = chain_of(model)
    epochs = _epochs(epochs_per_layer, len(chain.hidden))
    trainable = {id(layer): layer.trainable for layer in chain.layers}
    try:
        if mode == "supervised":
            return _supervised(chain, train, epochs, optimizer, freeze, validation_data, batch_size, verbose)
        head = head_epochs if head_epochs is not None else epochs[-1]
        return _unsupervised(chain, train, epochs, head, optimizer, freeze, validation_data, batch_size, verbose)
    finally:
        for layer in chain.layers:
            layer.trainable = trainable[id(layer)]


def _names(blocks: list[list[keras.layers.Layer]]) -> list[str]:
    return [layer.name for block in blocks for layer in block if layer.weights]


def _train_layer(chain: Chain, k: int, freeze: bool) -> list[list[keras.layers.Layer]]:
    """Hidden layers 1..k trainable, then 1..k-1 frozen again when `freeze`; returns the frozen ones."""
    frozen = chain.hidden[: k - 1] if freeze else []
    for block in chain.hidden[:k]:
        set_trainable(block, True)
    for block in frozen:
        set_trainable(block, False)
    return frozen


def _phase_report(phase: int, kind: str, trained, frozen, epochs: int, started: float, logs: dict) -> dict[str, Any]:
    return {"phase": phase, "kind": kind, "trained": _names(trained), "frozen": _names(frozen), "epochs": epochs,
            "wall_time_s": round(time.perf_counter() - started, 3), **logs}


def _supervised(chain: Chain, train, epochs, optimizer, freeze, validation, batch_size, verbose) -> list[dict]:
    reports = []
    head: list[keras.layers.Layer] = []
    for k, phase_epochs in enumerate(epochs, start=1):
        started = time.perf_counter()
        frozen = _train_layer(chain, k, freeze)
        head = [_fresh(layer) for layer in chain.head]
        inputs = chain.inputs()
        phase = keras.Model(inputs, chain.apply(inputs, chain.hidden[:k] + [head]), name=f"pretrain_{k}")
        _compile_like(phase, chain.model, _optimizer(optimizer, chain.model))
        logs = _fit(phase, train, validation, phase_epochs, batch_size, verbose)
        reports.append(_phase_report(k, "supervised", chain.hidden[k - 1:k], frozen, phase_epochs, started, logs))
    # The model's own output layer starts from the last phase's head.
    for ours, trained in zip(chain.head, head):
        ours.set_weights(trained.get_weights())
    return reports


def _unsupervised(chain: Chain, train, epochs, head_epochs, optimizer, freeze, validation, batch_size, verbose) -> list[dict]:
    reports = []
    x_train, x_validation = _inputs_only(train), _inputs_only(validation)
    for k, phase_epochs in enumerate(epochs, start=1):
        started = time.perf_counter()
        frozen = _train_layer(chain, k, freeze)
        inputs = chain.inputs()
        below = chain.apply(inputs, chain.hidden[: k - 1])
        if len(below.shape) != 2:
            raise ValueError(f"unsupervised pretraining stacks dense autoencoders; the input of hidden layer {k} "
                             f"has shape {tuple(below.shape)}, not (batch, features).")
        code = below
        for layer in chain.hidden[k - 1]:
            code = layer(code)
        reconstruction = keras.layers.Dense(below.shape[-1], name=f"decoder_{k}")(code)
        output = _ReconstructionLoss(name=f"reconstruction_{k}")(below, reconstruction)
        phase = keras.Model(inputs, output, name=f"autoencoder_{k}")
        phase.compile(optimizer=_optimizer(optimizer, chain.model))
        logs = _fit(phase, x_train, x_validation, phase_epochs, batch_size, verbose)
        reports.append(_phase_report(k, "autoencoder", chain.hidden[k - 1:k], frozen, phase_epochs, started, logs))
    # The output layer on top of the frozen stack.
    started = time.perf_counter()
    for block in chain.hidden:
        set_trainable(block, False)
    set_trainable(chain.head, True)
    inputs = chain.inputs()
    phase = keras.Model(inputs, chain.apply(inputs, chain.blocks), name="pretrain_output")
    _compile_like(phase, chain.model, _optimizer(optimizer, chain.model))
    logs = _fit(phase, train, validation, head_epochs, batch_size, verbose)
    reports.append(_phase_report(len(epochs) + 1, "output layer", [chain.head], chain.hidden, head_epochs, started, logs))
    return reports
