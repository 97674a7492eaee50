"""Greedy layer-wise pretraining (Bengio et al., 2007; Hinton et al., 2006).

Deep stacks of saturating units train badly from a random start: the
gradient reaching the first layers is tiny. Training them one layer at a
time gives each layer a useful start before the whole network is tuned.

- supervised: phase k trains hidden layers 1..k under a fresh output layer,
  layers 1..k-1 frozen (or not); after the last phase the model's own output
  layer takes the trained head's weights.
- unsupervised: phase k trains hidden layer k as the encoder of an autoencoder
  that reconstructs layer k-1's output (the inputs, for k = 1), earlier layers
  frozen; then the output layer is trained on top of the frozen stack. The
  decoder may be tied to the encoder's kernel (`zoo.layers.DenseTied`), the inputs
  may be corrupted (denoising), and the reconstruction is scored by
  cross-entropy where its targets are probabilities (sigmoid units, inputs in
  [0, 1]): with squared error a deep sigmoid layer learns to map everything to
  one code, which reconstructs the previous (equally collapsed) layer well.
- rbm: a deep belief net (Hinton et al., 2006): phase k trains a restricted
  Boltzmann machine (`zoo.layers.RBM`, contrastive divergence) on layer k-1's
  sigmoid outputs and copies its weights and hidden biases into hidden layer k
  (which must be a sigmoid Dense layer); then the output layer is trained on top.

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
import numpy as np

from zoo.batches import first_batch, map_batches
from zoo.callbacks.chain import Chain, chain_of, set_trainable
from zoo.layers import RBM, DenseTied

__all__ = ["greedy_layerwise_pretrain", "MODES", "LOSSES"]

MODES = ("supervised", "unsupervised", "rbm")


LOSSES = ("auto", "binary_crossentropy", "mse")
# Contrastive divergence's default (Hinton's practical guide: learning rate 0.1, momentum up to 0.9); the model's
# own optimizer (Adam at 1e-2, say) drives the hidden units of deeper RBMs to constant outputs.
RBM_OPTIMIZER = {"class_name": "SGD", "config": {"learning_rate": 0.1, "momentum": 0.9}}
# The mode-specific options and their defaults (a spec that changes one for another mode is refused).
PRETRAIN_DEFAULTS = {"tied": False, "noise": 0.0, "loss": "auto", "k": 1, "persistent": False}


class _ReconstructionLoss(keras.layers.Layer):
    """Adds the reconstruction error to the model's losses: the mean over rows and features of
    binary cross-entropy (targets in [0, 1], a sigmoid decoder) or of the squared error.

    Per element, so a batch of one row costs what it costs in a large batch (an earlier
    version divided by the batch's own variance: a one-row batch then cost 100 times more).
    The target gets no gradient.
    """

    def __init__(self, loss="mse", **kwargs):
        super().__init__(**kwargs)
        self.loss = loss

    def call(self, target, reconstruction):
        target = keras.ops.stop_gradient(target)
        if self.loss == "binary_crossentropy":
            error = keras.losses.binary_crossentropy(target, reconstruction)
        else:
            error = keras.ops.mean(keras.ops.square(target - reconstruction), axis=-1)
        self.add_loss(keras.ops.mean(error))
        return reconstruction


class _MaskingNoise(keras.layers.Layer):
    """Denoising (Vincent et al., 2008): while training, each input value is set to 0 with probability `rate`."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or not self.rate:
            return inputs
        keep = keras.random.uniform(keras.ops.shape(inputs), seed=self.seed_generator) >= self.rate
        return inputs * keras.ops.cast(keep, inputs.dtype)


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
    tied: bool = PRETRAIN_DEFAULTS["tied"],
    noise: float = PRETRAIN_DEFAULTS["noise"],
    loss: str = PRETRAIN_DEFAULTS["loss"],
    k: int = PRETRAIN_DEFAULTS["k"],
    persistent: bool = PRETRAIN_DEFAULTS["persistent"],
    validation_data: Any = None,
    batch_size: int | None = None,
    verbose: int = 0,
) -> list[dict[str, Any]]:
    """Pretrain the hidden layers of a compiled chain model one at a time, in place.

    Args:
        model: a compiled single-input, single-output model whose layers form a chain
            (a spec's `layers`, Sequential, or a functional stack); its last block is the output.
        train: a `tf.data.Dataset` or a `keras.utils.PyDataset` of `(x, y)` batches, or an `(x, y)` pair of arrays.
        mode: "supervised", "unsupervised" (stacked autoencoders) or "rbm" (a deep belief net).
        epochs_per_layer: epochs of each phase: one number, or one per hidden layer.
        head_epochs: unsupervised and rbm modes, epochs of the output layer on the frozen stack
            (default: the last entry of `epochs_per_layer`).
        optimizer: each phase's optimizer (an identifier, a config or an instance, copied
            fresh for every phase); default a copy of the model's own, except for the RBMs of
            rbm mode, which default to SGD with learning rate 0.1 and momentum 0.9.
        freeze: keep the layers trained in earlier phases frozen.
        tied: unsupervised mode, each autoencoder's decoder reuses its encoder's kernel transposed
            (`zoo.layers.DenseTied`); False gives it a kernel of its own.
        noise: unsupervised mode, the fraction of each autoencoder's inputs set to 0 while it
            trains (a denoising autoencoder); 0 for none.
        k, persistent: rbm mode, Gibbs steps of contrastive divergence and persistent CD.
        loss: unsupervised mode, "binary_crossentropy" (a sigmoid decoder; targets in [0, 1]),
            "mse" (a linear decoder), or "auto": cross-entropy where the layer below is a sigmoid
            (for the first layer: where the first batch of inputs lies in [0, 1]), else mse.
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
    if loss not in LOSSES:
        raise ValueError(f"greedy_layerwise_pretrain: loss {loss!r} is not one of {', '.join(LOSSES)}.")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise < 1:
        raise ValueError(f"greedy_layerwise_pretrain: noise {noise!r} must be a number in [0, 1).")
    chain = chain_of(model)
    epochs = _epochs(epochs_per_layer, len(chain.hidden))
    trainable = {id(layer): layer.trainable for layer in chain.layers}
    try:
        if mode == "supervised":
            return _supervised(chain, train, epochs, optimizer, freeze, validation_data, batch_size, verbose)
        head = head_epochs if head_epochs is not None else epochs[-1]
        options = {"tied": bool(tied), "noise": float(noise), "loss": loss, "k": k, "persistent": bool(persistent)}
        if mode == "rbm":
            return _rbm(chain, train, epochs, head, optimizer, validation_data, batch_size, verbose, options)
        return _unsupervised(chain, train, epochs, head, optimizer, freeze, validation_data, batch_size, verbose, options)
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


def _sample(data: Any) -> np.ndarray:
    """Up to 1024 input rows of an array, or the first batch of a feed."""
    sample = np.asarray(data[:1024]) if hasattr(data, "shape") else first_batch(data)
    return sample[0] if isinstance(sample, tuple) else sample


def _inputs_in_unit_interval(chain: Chain, data: Any) -> bool:
    """Whether the first layer's inputs (the data through the model's preamble) lie in [0, 1], on a sample."""
    sample = _sample(data)
    inputs = chain.inputs()
    values = np.asarray(keras.Model(inputs, chain.apply(inputs, []))(sample), dtype="float64")
    return bool(values.size) and float(values.min()) >= 0.0 and float(values.max()) <= 1.0


def _sigmoid_output(block: list[keras.layers.Layer]) -> bool:
    """Whether a block's output is a logistic sigmoid of its pre-activation (values in (0, 1))."""
    last = [layer for layer in block if getattr(layer, "activation", None) is not None]
    if not last:
        return False
    return getattr(last[-1].activation, "__name__", "") == "sigmoid"


def _decoder(encoder: keras.layers.Layer, width: int, k: int, loss: str, tied: bool) -> keras.layers.Layer:
    activation = "sigmoid" if loss == "binary_crossentropy" else None
    if tied:
        kernel = getattr(encoder, "kernel", None)
        if kernel is None or len(kernel.shape) != 2:
            raise ValueError(f"tied autoencoders need a Dense-like hidden layer; {encoder.name!r} has no 2-D kernel "
                             "(set tied: false).")
        return DenseTied(encoder, activation=activation, name=f"decoder_{k}")
    return keras.layers.Dense(width, activation=activation, name=f"decoder_{k}")


def _unsupervised(chain: Chain, train, epochs, head_epochs, optimizer, freeze, validation, batch_size, verbose,
                  options: dict) -> list[dict]:
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
        loss = options["loss"]
        if loss == "auto":
            unit = _sigmoid_output(chain.hidden[k - 2]) if k > 1 else _inputs_in_unit_interval(chain, x_train)
            loss = "binary_crossentropy" if unit else "mse"
        code = _MaskingNoise(options["noise"], name=f"noise_{k}")(below) if options["noise"] else below
        for layer in chain.hidden[k - 1]:
            code = layer(code)
        reconstruction = _decoder(chain.hidden[k - 1][0], below.shape[-1], k, loss, options["tied"])(code)
        output = _ReconstructionLoss(loss, name=f"reconstruction_{k}")(below, reconstruction)
        phase = keras.Model(inputs, output, name=f"autoencoder_{k}")
        phase.compile(optimizer=_optimizer(optimizer, chain.model))
        logs = _fit(phase, x_train, x_validation, phase_epochs, batch_size, verbose)
        report = _phase_report(k, "autoencoder", chain.hidden[k - 1:k], frozen, phase_epochs, started, logs)
        reports.append({**report, "reconstruction_loss": loss, "tied": options["tied"], "noise": options["noise"]})
    reports.append(_head_phase(chain, train, validation, len(epochs) + 1, head_epochs, optimizer, batch_size, verbose))
    return reports


def _head_phase(chain: Chain, train, validation, phase_number: int, epochs: int, optimizer, batch_size, verbose) -> dict:
    """The output layer trained on top of the frozen hidden stack."""
    started = time.perf_counter()
    for block in chain.hidden:
        set_trainable(block, False)
    set_trainable(chain.head, True)
    inputs = chain.inputs()
    phase = keras.Model(inputs, chain.apply(inputs, chain.blocks), name="pretrain_output")
    _compile_like(phase, chain.model, _optimizer(optimizer, chain.model))
    logs = _fit(phase, train, validation, epochs, batch_size, verbose)
    return _phase_report(phase_number, "output layer", [chain.head], chain.hidden, epochs, started, logs)


def rbm_layers(chain: Chain) -> list[keras.layers.Layer]:
    """The hidden layers a DBN initializes: one sigmoid Dense-like layer (kernel and bias) per block."""
    layers = []
    for index, block in enumerate(chain.hidden, start=1):
        layer = block[0]
        kernel, bias = getattr(layer, "kernel", None), getattr(layer, "bias", None)
        if kernel is None or len(kernel.shape) != 2 or bias is None:
            raise ValueError(f"rbm pretraining initializes Dense layers with a bias; hidden layer {index} "
                             f"({layer.name!r}, {type(layer).__name__}) is not one.")
        if not _sigmoid_output(block):
            raise ValueError(f"rbm pretraining needs sigmoid hidden layers (an RBM's hidden units are logistic); "
                             f"hidden layer {index} ({layer.name!r}) is not sigmoid.")
        layers.append(layer)
    return layers


def _rbm(chain: Chain, train, epochs, head_epochs, optimizer, validation, batch_size, verbose, options: dict) -> list[dict]:
    reports = []
    layers = rbm_layers(chain)
    x_train, x_validation = _inputs_only(train), _inputs_only(validation)
    visible = "bernoulli" if _inputs_in_unit_interval(chain, x_train) else "gaussian"
    for k, (layer, phase_epochs) in enumerate(zip(layers, epochs), start=1):
        started = time.perf_counter()
        for block in chain.hidden:
            set_trainable(block, False)
        inputs = chain.inputs()
        below = chain.apply(inputs, chain.hidden[: k - 1])
        if len(below.shape) != 2:
            raise ValueError(f"rbm pretraining stacks RBMs on rows; the input of hidden layer {k} has shape "
                             f"{tuple(below.shape)}, not (batch, features).")
        rbm = RBM(int(layer.kernel.shape[1]), visible=visible if k == 1 else "bernoulli", k=options["k"],
                  persistent=options["persistent"], name=f"rbm_{k}")
        phase = keras.Model(inputs, rbm(below), name=f"rbm_{k}")
        phase.compile(optimizer=_optimizer(RBM_OPTIMIZER if optimizer is None else optimizer, chain.model))
        logs = _fit(phase, x_train, None, phase_epochs, batch_size, verbose)  # CD has no loss outside training
        layer.kernel.assign(rbm.kernel)
        layer.bias.assign(rbm.hidden_bias)
        error = _reconstruction_error(rbm, keras.Model(inputs, below), x_validation if x_validation is not None else x_train)
        report = _phase_report(k, "rbm", chain.hidden[k - 1:k], chain.hidden[: k - 1], phase_epochs, started, logs)
        reports.append({**report, "visible": rbm.visible, "reconstruction_error": error})
    reports.append(_head_phase(chain, train, validation, len(epochs) + 1, head_epochs, optimizer, batch_size, verbose))
    return reports


def _reconstruction_error(rbm: RBM, below: keras.Model, data: Any) -> float:
    """The RBM's mean squared reconstruction error on (a sample of) `data`, as its visible units see it."""
    return float(rbm.reconstruction_error(below(_sample(data))))
