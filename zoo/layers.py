"""Layers Keras 3 does not ship, written with `keras.ops` for every backend.

    >>> import keras
    >>> from zoo.layers import Maxout
    >>> model = keras.Sequential([keras.Input((64,)), Maxout(32, pieces=3), keras.layers.Dense(10)])

Each is registered as `zoo>ClassName`, so a saved model reloads with
`keras.saving.load_model(path, safe_mode=True)` once `zoo.layers` is imported,
and a spec names it as `- Maxout: {units: 32, pieces: 3}`.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from zoo import _checks

__all__ = [
    "Maxout",
    "DropConnectDense",
    "WeightNormDense",
    "CosineNormDense",
    "RBFDense",
    "SpatialGatingUnit",
    "GatedMLPBlock",
    "ResidualBlock",
    "StochasticDepth",
    "NoisyReLU",
    "Highway",
    "DenseTied",
    "RBM",
    "Whitening",
    "whitening_statistics",
]

register = keras.saving.register_keras_serializable(package="zoo")
_serialize = keras.saving.serialize_keras_object


class _DenseLike(keras.layers.Layer):
    """Shared arguments and config of the dense-style layers below."""

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _checks.positive_int(type(self).__name__, "units", units)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)

    def _kernel(self, shape, name="kernel"):
        return self.add_weight(
            name=name,
            shape=shape,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )

    def _bias(self, shape):
        if not self.use_bias:
            return None
        return self.add_weight(
            name="bias",
            shape=shape,
            initializer=self.bias_initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
        )

    def _finish(self, z):
        """Bias and activation, after the layer's own product."""
        if self.bias is not None:
            z = z + ops.cast(self.bias, z.dtype)
        return self.activation(z)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            activation=keras.activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=_serialize(self.kernel_initializer),
            bias_initializer=_serialize(self.bias_initializer),
            kernel_regularizer=_serialize(self.kernel_regularizer),
            bias_regularizer=_serialize(self.bias_regularizer),
            kernel_constraint=_serialize(self.kernel_constraint),
            bias_constraint=_serialize(self.bias_constraint),
        )
        return config


@register
class Maxout(_DenseLike):
    """Maxout units (Goodfellow et al., 2013): each output is the max of `pieces` linear functions.

    y_j = max_k (x · W[:, j, k] + b[j, k]). A maxout network learns its own
    piecewise-linear, convex activation; it pairs well with dropout.

    Args:
        units: number of outputs.
        pieces: linear pieces per output, at least 2.
        use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, kernel_constraint, bias_constraint: as in `Dense`.

    Example:
        >>> Maxout(64, pieces=3)(keras.ops.ones((2, 10))).shape
        (2, 64)
    """

    def __init__(self, units, pieces=2, **kwargs):
        kwargs.pop("activation", None)  # the max is the activation
        super().__init__(units, **kwargs)
        self.pieces = _checks.int_at_least("Maxout", "pieces", pieces, 2)

    def build(self, input_shape):
        self.kernel = self._kernel((input_shape[-1], self.units * self.pieces))
        self.bias = self._bias((self.units * self.pieces,))

    def call(self, inputs):
        z = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            z = z + self.bias
        z = ops.reshape(z, tuple(ops.shape(z)[:-1]) + (self.units, self.pieces))
        return ops.max(z, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.pop("activation")
        config["pieces"] = self.pieces
        return config


@register
class DropConnectDense(_DenseLike):
    """A dense layer that drops weights, not activations (DropConnect, Wan et al., 2013).

    While training, each kernel entry is zeroed with probability `rate` (one
    mask per batch) and the kept ones are scaled by 1 / (1 - rate), so the
    expected pre-activation is unchanged; at inference the full kernel is used.

    Args:
        units: number of outputs.
        rate: probability of dropping a weight, in [0, 1).
        activation, use_bias, initializers, regularizers, constraints: as in `Dense`.
        seed: seed of the dropping masks.

    Example:
        >>> layer = DropConnectDense(32, rate=0.3, activation="relu")
    """

    def __init__(self, units, rate=0.5, seed=None, **kwargs):
        super().__init__(units, **kwargs)
        self.rate = _checks.rate("DropConnectDense", "rate", rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self.kernel = self._kernel((input_shape[-1], self.units))
        self.bias = self._bias((self.units,))

    def call(self, inputs, training=False):
        kernel = ops.convert_to_tensor(self.kernel)
        if training and self.rate > 0:
            keep = keras.random.uniform(ops.shape(kernel), seed=self.seed_generator, dtype=kernel.dtype) >= self.rate
            kernel = ops.where(keep, kernel / (1.0 - self.rate), ops.zeros_like(kernel))
        z = ops.matmul(inputs, ops.cast(kernel, inputs.dtype))
        return self._finish(z)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@register
class WeightNormDense(_DenseLike):
    """A dense layer with weight normalization (Salimans & Kingma, 2016): w = g · v / ‖v‖.

    Each output unit's weight vector is split into a direction v and a length g,
    which decouples the step size of the length from that of the direction.
    g starts at ‖v‖, so the layer initially computes what `Dense` with kernel v would.

    Args:
        units, activation, use_bias, initializers, regularizers, constraints: as in `Dense`
        (the kernel ones apply to the direction v).
        epsilon: added to ‖v‖ to avoid dividing by zero.

    Example:
        >>> layer = WeightNormDense(64, activation="relu")
    """

    def __init__(self, units, epsilon=1e-12, **kwargs):
        super().__init__(units, **kwargs)
        self.epsilon = _checks.positive("WeightNormDense", "epsilon", epsilon)

    def build(self, input_shape):
        self.kernel = self._kernel((input_shape[-1], self.units), name="direction")
        self.g = self.add_weight(name="g", shape=(self.units,), initializer="ones")
        self.g.assign(ops.sqrt(ops.sum(ops.square(self.kernel), axis=0)))
        self.bias = self._bias((self.units,))

    def call(self, inputs):
        norm = ops.sqrt(ops.sum(ops.square(self.kernel), axis=0)) + self.epsilon
        z = ops.matmul(inputs, self.kernel * (self.g / norm))
        return self._finish(z)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@register
class CosineNormDense(_DenseLike):
    """Cosine normalization (Luo et al., 2017): y_j = (x · w_j) / (‖x‖ ‖w_j‖).

    The pre-activation is a cosine in [-1, 1], bounded whatever the scale of
    inputs or weights, which keeps deep networks' activations in range
    without batch statistics.

    Args:
        units, activation, use_bias (default False), initializers, regularizers,
        constraints: as in `Dense`.
        epsilon: added to each norm.

    Example:
        >>> layer = CosineNormDense(32, activation="relu")
    """

    def __init__(self, units, epsilon=1e-7, use_bias=False, **kwargs):
        super().__init__(units, use_bias=use_bias, **kwargs)
        self.epsilon = _checks.positive("CosineNormDense", "epsilon", epsilon)

    def build(self, input_shape):
        self.kernel = self._kernel((input_shape[-1], self.units))
        self.bias = self._bias((self.units,))

    def call(self, inputs):
        x_norm = ops.sqrt(ops.sum(ops.square(inputs), axis=-1, keepdims=True)) + self.epsilon
        w_norm = ops.sqrt(ops.sum(ops.square(self.kernel), axis=0)) + self.epsilon
        z = ops.matmul(inputs, self.kernel) / (x_norm * w_norm)
        return self._finish(z)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@register
class RBFDense(keras.layers.Layer):
    """Radial-basis units: y_j = exp(-γ_j ‖x − c_j‖²) with trainable centres c_j.

    Each unit responds to inputs near its centre; γ_j > 0 sets the width and is
    learned through its logarithm, so it stays positive.

    Args:
        units: number of radial-basis units.
        gamma: initial γ of every unit, > 0.
        trainable_gamma: learn γ (default) or keep it fixed.
        centers_initializer: initializer of the centres (default uniform in [-1, 1]).

    Example:
        >>> layer = RBFDense(16, gamma=0.5)
    """

    def __init__(self, units, gamma=1.0, trainable_gamma=True, centers_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.units = _checks.positive_int("RBFDense", "units", units)
        self.gamma = _checks.positive("RBFDense", "gamma", gamma)
        self.trainable_gamma = bool(trainable_gamma)
        self.centers_initializer = keras.initializers.get(centers_initializer or keras.initializers.RandomUniform(-1.0, 1.0))

    def build(self, input_shape):
        self.centers = self.add_weight(name="centers", shape=(self.units, input_shape[-1]), initializer=self.centers_initializer)
        self.log_gamma = self.add_weight(
            name="log_gamma",
            shape=(self.units,),
            initializer=keras.initializers.Constant(math.log(self.gamma)),
            trainable=self.trainable_gamma,
        )

    def call(self, inputs):
        # ‖x − c‖² = ‖x‖² − 2 x·c + ‖c‖², without materializing x − c per unit.
        squared = (
            ops.sum(ops.square(inputs), axis=-1, keepdims=True)
            - 2.0 * ops.matmul(inputs, ops.transpose(self.centers))
            + ops.sum(ops.square(self.centers), axis=-1)
        )
        return ops.exp(-ops.exp(self.log_gamma) * ops.maximum(squared, 0.0))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "gamma": self.gamma,
            "trainable_gamma": self.trainable_gamma,
            "centers_initializer": _serialize(self.centers_initializer),
        }


@register
class SpatialGatingUnit(keras.layers.Layer):
    """The spatial gating unit of gMLP (Liu et al., 2021).

    Splits the channels of a (batch, tokens, channels) input into halves u and
    v, normalizes v, mixes it across tokens with a learned tokens x tokens
    projection (weights near zero, bias one, so the unit starts as identity
    gating) and returns u ⊙ v, with half the channels.

    Args:
        epsilon: of the layer normalization.

    Example:
        >>> SpatialGatingUnit()(keras.ops.ones((2, 16, 64))).shape
        (2, 16, 32)
    """

    def __init__(self, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = _checks.positive("SpatialGatingUnit", "epsilon", epsilon)
        self.norm = keras.layers.LayerNormalization(epsilon=self.epsilon)

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[1] is None or input_shape[-1] is None or input_shape[-1] % 2:
            raise ValueError(
                f"SpatialGatingUnit: input shape {tuple(input_shape)}; allowed: (batch, tokens, channels) "
                "with a known number of tokens and an even number of channels."
            )
        tokens, half = input_shape[1], input_shape[-1] // 2
        self.norm.build((input_shape[0], tokens, half))
        self.spatial_kernel = self.add_weight(
            name="spatial_kernel", shape=(tokens, tokens), initializer=keras.initializers.RandomUniform(-1e-3, 1e-3)
        )
        self.spatial_bias = self.add_weight(name="spatial_bias", shape=(tokens, 1), initializer="ones")

    def call(self, inputs):
        u, v = ops.split(inputs, 2, axis=-1)
        v = self.norm(v)
        v = ops.einsum("ts,bsc->btc", self.spatial_kernel, v) + self.spatial_bias
        return u * v

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (input_shape[-1] // 2,)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@register
class GatedMLPBlock(keras.layers.Layer):
    """One gMLP block (Liu et al., 2021): x + Dense(SGU(GELU(Dense(LayerNorm(x))))).

    Input and output are (batch, tokens, channels); `ffn_units` (even) is the
    width inside the block.

    Args:
        ffn_units: hidden width, an even integer.
        dropout: dropout rate on the block's output, in [0, 1).
        drop_path: probability of skipping the whole block while training
            (stochastic depth), in [0, 1).

    Example:
        >>> GatedMLPBlock(128)(keras.ops.ones((2, 16, 64))).shape
        (2, 16, 64)
    """

    def __init__(self, ffn_units, dropout=0.0, drop_path=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.ffn_units = _checks.positive_int("GatedMLPBlock", "ffn_units", ffn_units)
        if self.ffn_units % 2:
            raise ValueError(f"GatedMLPBlock: argument `ffn_units` got {ffn_units!r}; allowed: an even integer (the gate halves it).")
        self.dropout = _checks.rate("GatedMLPBlock", "dropout", dropout)
        self.drop_path = _checks.rate("GatedMLPBlock", "drop_path", drop_path)
        self.seed = seed
        self.norm = keras.layers.LayerNormalization(epsilon=1e-6)
        self.expand = keras.layers.Dense(self.ffn_units, activation="gelu")
        self.gate = SpatialGatingUnit()
        self.dropout_layer = keras.layers.Dropout(self.dropout, seed=seed)
        self.skip = StochasticDepth(self.drop_path, seed=seed)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.project = keras.layers.Dense(channels)
        self.norm.build(input_shape)
        self.expand.build(input_shape)
        hidden = tuple(input_shape[:-1]) + (self.ffn_units,)
        self.gate.build(hidden)
        self.project.build(tuple(input_shape[:-1]) + (self.ffn_units // 2,))

    def call(self, inputs, training=False):
        y = self.project(self.gate(self.expand(self.norm(inputs))))
        y = self.dropout_layer(y, training=training)
        return self.skip([inputs, y], training=training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "ffn_units": self.ffn_units, "dropout": self.dropout, "drop_path": self.drop_path, "seed": self.seed}


@register
class StochasticDepth(keras.layers.Layer):
    """Residual connection whose branch is skipped at random while training (Huang et al., 2016).

    Called on `[shortcut, branch]`: while training, returns `shortcut + branch / (1 - rate)`
    for each sample with probability 1 - rate and `shortcut` otherwise; at
    inference, `shortcut + branch`.

    Args:
        rate: probability of dropping the branch, in [0, 1).
        seed: seed of the per-sample draws.

    Example:
        >>> y = StochasticDepth(0.1)([x, residual_branch(x)])
    """

    def __init__(self, rate=0.1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _checks.rate("StochasticDepth", "rate", rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        shortcut, branch = inputs
        if training and self.rate > 0:
            shape = (ops.shape(branch)[0],) + (1,) * (len(branch.shape) - 1)
            keep = ops.cast(keras.random.uniform(shape, seed=self.seed_generator) >= self.rate, branch.dtype)
            branch = branch * keep / (1.0 - self.rate)
        return shortcut + branch

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@register
class ResidualBlock(keras.layers.Layer):
    """Two layers and a shortcut: y = act(shortcut(x) + F(x)) (He et al., 2016).

    F is [Dense or Conv, BatchNorm, activation, Dense or Conv, BatchNorm]. The
    shortcut is the identity when the shapes agree, otherwise a projection
    (a Dense, or a 1x1 convolution with the block's strides).

    Args:
        units: output width (Dense units or conv filters).
        kind: "dense", "conv1d" or "conv2d".
        kernel_size: of the convolutions.
        strides: of the first convolution (downsampling).
        activation: inside the block and after the addition.
        batch_norm: add BatchNormalization after each layer.
        drop_path: stochastic-depth rate of the residual branch, in [0, 1).
        kernel_initializer, kernel_regularizer: of every layer in the block.

    Example:
        >>> block = ResidualBlock(64, kind="conv2d", strides=2)
    """

    KINDS = ("dense", "conv1d", "conv2d")

    def __init__(
        self,
        units,
        kind="dense",
        kernel_size=3,
        strides=1,
        activation="relu",
        batch_norm=True,
        drop_path=0.0,
        kernel_initializer="he_normal",
        kernel_regularizer=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _checks.positive_int("ResidualBlock", "units", units)
        self.kind = _checks.one_of("ResidualBlock", "kind", kind, self.KINDS)
        self.kernel_size = _checks.positive_int("ResidualBlock", "kernel_size", kernel_size)
        self.strides = _checks.positive_int("ResidualBlock", "strides", strides)
        if kind == "dense" and strides != 1:
            raise ValueError(f"ResidualBlock: argument `strides` got {strides!r}; allowed: 1 for kind 'dense'.")
        self.activation = keras.activations.get(activation)
        self.batch_norm = bool(batch_norm)
        self.drop_path = _checks.rate("ResidualBlock", "drop_path", drop_path)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.seed = seed
        self.first = self._layer(self.strides)
        self.second = self._layer(1)
        self.norms = [keras.layers.BatchNormalization() for _ in range(2)] if self.batch_norm else []
        self.skip = StochasticDepth(self.drop_path, seed=seed)
        self.projection = None

    def _layer(self, strides, kernel_size=None, use_bias=None):
        common = {
            "kernel_initializer": keras.initializers.get(_serialize(self.kernel_initializer)),  # one object per layer
            "kernel_regularizer": self.kernel_regularizer,
            "use_bias": (not self.batch_norm) if use_bias is None else use_bias,
        }
        if self.kind == "dense":
            return keras.layers.Dense(self.units, **common)
        conv = keras.layers.Conv1D if self.kind == "conv1d" else keras.layers.Conv2D
        return conv(self.units, kernel_size or self.kernel_size, strides=strides, padding="same", **common)

    def build(self, input_shape):
        rank = {"dense": 2, "conv1d": 3, "conv2d": 4}[self.kind]
        if len(input_shape) != rank:
            raise ValueError(f"ResidualBlock: kind {self.kind!r} takes inputs of rank {rank}; got shape {tuple(input_shape)}.")
        self.first.build(input_shape)
        middle = self.first.compute_output_shape(input_shape)
        self.second.build(middle)
        for norm in self.norms:
            norm.build(middle)
        if input_shape[-1] != self.units or self.strides != 1:
            self.projection = self._layer(self.strides, kernel_size=1, use_bias=False)
            self.projection.build(input_shape)

    def call(self, inputs, training=False):
        y = self.first(inputs)
        if self.norms:
            y = self.norms[0](y, training=training)
        y = self.second(self.activation(y))
        if self.norms:
            y = self.norms[1](y, training=training)
        shortcut = self.projection(inputs) if self.projection is not None else inputs
        return self.activation(self.skip([shortcut, y], training=training))

    def compute_output_shape(self, input_shape):
        return self.first.compute_output_shape(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "kind": self.kind,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "activation": keras.activations.serialize(self.activation),
            "batch_norm": self.batch_norm,
            "drop_path": self.drop_path,
            "kernel_initializer": _serialize(self.kernel_initializer),
            "kernel_regularizer": _serialize(self.kernel_regularizer),
            "seed": self.seed,
        }


@register
class NoisyReLU(keras.layers.Layer):
    """ReLU with Gaussian noise added while training: max(0, x + N(0, stddev²)) (Nair & Hinton, 2010).

    At inference it is a plain ReLU. A spec reaches it as `activation: noisy_relu`.

    Args:
        stddev: standard deviation of the noise, >= 0.
        seed: seed of the noise.

    Example:
        >>> layer = NoisyReLU(stddev=0.2)
    """

    def __init__(self, stddev=0.1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev = _checks.non_negative("NoisyReLU", "stddev", stddev)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        from zoo.activations import noisy_relu

        return noisy_relu(inputs, self.stddev, training=training, seed=self.seed_generator)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


@register
class Highway(keras.layers.Layer):
    """A highway layer (Srivastava et al., 2015): y = T(x) · H(x) + (1 - T(x)) · x.

    H(x) = activation(x W_H + b_H) is the transform, T(x) = sigmoid(x W_T + b_T)
    the transform gate, and 1 - T the carry gate. The gate's bias starts negative
    (`transform_bias`, -1 to -3 in the paper), so a fresh layer mostly carries its
    input through and very deep stacks still train. Input and output have the same
    width.

    Args:
        activation: of the transform H.
        transform_bias: initial value of the gate's bias b_T.
        kernel_initializer, kernel_regularizer: of both W_H and W_T.

    Example:
        >>> Highway(transform_bias=-2.0)(keras.ops.ones((2, 16))).shape
        (2, 16)
    """

    def __init__(self, activation="relu", transform_bias=-2.0, kernel_initializer="glorot_uniform",
                 kernel_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.activation = keras.activations.get(activation)
        self.transform_bias = _checks.finite("Highway", "transform_bias", transform_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        width = input_shape[-1]
        if width is None:
            raise ValueError(f"Highway needs a known last dimension; got input shape {tuple(input_shape)}.")
        self.kernel = self.add_weight(name="kernel", shape=(width, width), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer)
        self.bias = self.add_weight(name="bias", shape=(width,), initializer="zeros")
        self.gate_kernel = self.add_weight(name="gate_kernel", shape=(width, width), initializer=self.kernel_initializer,
                                           regularizer=self.kernel_regularizer)
        self.gate_bias = self.add_weight(name="gate_bias", shape=(width,),
                                         initializer=keras.initializers.Constant(self.transform_bias))

    def call(self, inputs):
        transform = self.activation(ops.matmul(inputs, self.kernel) + self.bias)
        gate = ops.sigmoid(ops.matmul(inputs, self.gate_kernel) + self.gate_bias)
        return gate * transform + (1.0 - gate) * inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "activation": keras.activations.serialize(self.activation),
                "transform_bias": self.transform_bias, "kernel_initializer": _serialize(self.kernel_initializer),
                "kernel_regularizer": _serialize(self.kernel_regularizer)}


@register
class DenseTied(keras.layers.Layer):
    """A Dense layer that reuses another Dense layer's kernel, transposed: y = activation(x Wᵀ + b).

    The decoder of a tied-weight autoencoder: it owns only its bias, so encoder and
    decoder share one weight matrix and one gradient. Its output width is the tied
    layer's input width, and its input must have the tied layer's width.

    The tie survives `model.save` and `keras.saving.load_model` (also with
    `safe_mode=True`): the config names the tied layer through Keras's
    shared-object mechanism, so loading gives back one kernel, not two.

    Args:
        tied_to: the `keras.layers.Dense` (or any layer with a 2-D `kernel`) whose kernel to reuse.
        activation, use_bias, bias_initializer: as in `Dense`.

    Example:
        >>> encoder = keras.layers.Dense(16, activation="sigmoid")
        >>> inputs = keras.Input((64,))
        >>> outputs = DenseTied(encoder, activation="sigmoid")(encoder(inputs))
    """

    def __init__(self, tied_to, activation=None, use_bias=True, bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if isinstance(tied_to, dict):
            tied_to = keras.saving.deserialize_keras_object(tied_to)
        if not isinstance(tied_to, keras.layers.Layer):
            raise ValueError(f"DenseTied: argument `tied_to` got {tied_to!r}; allowed: a Dense layer.")
        # Kept out of Keras's tracking: the kernel belongs to (and is saved with) the tied layer alone.
        object.__setattr__(self, "_tied", tied_to)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    @property
    def tied_to(self) -> keras.layers.Layer:
        return self._tied

    def _tied_kernel(self):
        kernel = getattr(self._tied, "kernel", None)
        if kernel is None or len(kernel.shape) != 2:
            raise ValueError(f"DenseTied {self.name!r}: the tied layer {self._tied.name!r} has no 2-D kernel yet; "
                             "call it on its inputs before this layer.")
        return kernel

    def build(self, input_shape):
        kernel = self._tied_kernel()
        if input_shape[-1] is not None and input_shape[-1] != kernel.shape[1]:
            raise ValueError(f"DenseTied {self.name!r}: inputs of width {input_shape[-1]}, but the tied layer "
                             f"{self._tied.name!r} has {kernel.shape[1]} units.")
        self.units = int(kernel.shape[0])
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer) if self.use_bias else None

    def call(self, inputs):
        kernel = self._tied_kernel()
        y = ops.matmul(inputs, ops.transpose(ops.cast(kernel, inputs.dtype)))
        if self.bias is not None:
            y = y + ops.cast(self.bias, y.dtype)
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (int(self._tied_kernel().shape[0]),)

    def get_config(self):
        return {**super().get_config(), "tied_to": _serialize(self._tied),
                "activation": keras.activations.serialize(self.activation), "use_bias": self.use_bias,
                "bias_initializer": _serialize(self.bias_initializer)}


@register
class RBM(keras.layers.Layer):
    """A restricted Boltzmann machine (Smolensky, 1986; Hinton, 2002), trained by contrastive divergence.

    Visible units v (Bernoulli, or Gaussian with unit variance for standardized
    inputs) and Bernoulli hidden units h, coupled by one weight matrix W:

        Bernoulli visible:  F(v) = -v·b - Σ_j softplus(c_j + v W_j)
        Gaussian visible:   F(v) = ½‖v - b‖² - Σ_j softplus(c_j + v W_j)

    Called, the layer returns p(h = 1 | v) = sigmoid(v W + c), so a stack of trained
    RBMs is a deep belief net's encoder and their weights initialize an MLP.
    While training (`training=True`) it also adds its contrastive-divergence
    objective with `add_loss`: mean F(v_data) - mean F(v_model), with v_model from
    `k` steps of block Gibbs sampling started at the batch (CD-k) or, with
    `persistent=True`, at `chains` fantasy particles kept between batches (PCD,
    Tieleman 2008). The gradient of that difference is the CD estimate of the
    log-likelihood's gradient, so any Keras optimizer trains the RBM with
    `model.fit(x)` (no targets, no compiled loss), on every backend.

    Args:
        units: hidden units.
        visible: "bernoulli" (inputs in [0, 1]) or "gaussian" (standardized inputs).
        k: Gibbs steps per update, >= 1.
        persistent: persistent CD; the chains' count is `chains`.
        chains: fantasy particles of persistent CD.
        kernel_initializer: of W (Hinton's guide: N(0, 0.01²)).
        seed: seed of the sampling.

    Example:
        >>> rbm = RBM(64, k=1)
        >>> model = keras.Sequential([keras.Input((64,)), rbm])
        >>> model.compile(optimizer="adam")                  # the loss is the RBM's own
        >>> model.fit(x_binary, epochs=5)                    # doctest: +SKIP
        >>> rbm.reconstruction_error(x_binary)               # doctest: +SKIP
    """

    def __init__(self, units, visible="bernoulli", k=1, persistent=False, chains=64,
                 kernel_initializer=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.units = _checks.positive_int("RBM", "units", units)
        self.visible = _checks.one_of("RBM", "visible", visible, ("bernoulli", "gaussian"))
        self.k = _checks.positive_int("RBM", "k", k)
        self.persistent = bool(persistent)
        self.chains = _checks.positive_int("RBM", "chains", chains)
        self.kernel_initializer = keras.initializers.get(kernel_initializer or {"class_name": "RandomNormal", "config": {"stddev": 0.01, "seed": seed}})
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(f"RBM {self.name!r} takes rows (batch, features); got input shape {tuple(input_shape)}.")
        width = int(input_shape[-1])
        self.kernel = self.add_weight(name="kernel", shape=(width, self.units), initializer=self.kernel_initializer)
        self.hidden_bias = self.add_weight(name="hidden_bias", shape=(self.units,), initializer="zeros")
        self.visible_bias = self.add_weight(name="visible_bias", shape=(width,), initializer="zeros")
        self.chain = None
        if self.persistent:
            initial = "zeros" if self.visible == "gaussian" else keras.initializers.RandomUniform(0.0, 1.0, seed=self.seed)
            self.chain = self.add_weight(name="chain", shape=(self.chains, width), initializer=initial, trainable=False)

    # -- the model's conditionals and energy ----------------------------------------

    def hidden_probabilities(self, v):
        """p(h = 1 | v) = sigmoid(v W + c)."""
        v = ops.convert_to_tensor(v, dtype=self.compute_dtype)
        return ops.sigmoid(ops.matmul(v, self.kernel) + self.hidden_bias)

    def visible_mean(self, h):
        """E[v | h]: sigmoid(h Wᵀ + b) for Bernoulli units, h Wᵀ + b for Gaussian ones."""
        h = ops.convert_to_tensor(h, dtype=self.compute_dtype)
        activation = ops.matmul(h, ops.transpose(self.kernel)) + self.visible_bias
        return ops.sigmoid(activation) if self.visible == "bernoulli" else activation

    def free_energy(self, v):
        """F(v), one value per row: p(v) ∝ exp(-F(v))."""
        v = ops.convert_to_tensor(v, dtype=self.compute_dtype)  # a NumPy v times a variable would be NumPy: no gradient
        hidden = ops.sum(ops.softplus(ops.matmul(v, self.kernel) + self.hidden_bias), axis=-1)
        if self.visible == "bernoulli":
            return -ops.sum(v * self.visible_bias, axis=-1) - hidden
        return 0.5 * ops.sum(ops.square(v - self.visible_bias), axis=-1) - hidden

    def _bernoulli(self, probabilities):
        draw = keras.random.uniform(ops.shape(probabilities), seed=self.seed_generator, dtype=probabilities.dtype)
        return ops.cast(draw < probabilities, probabilities.dtype)

    def gibbs(self, v, steps=None):
        """`steps` (default k) rounds of block Gibbs sampling v -> h -> v; returns the last visible sample."""
        v = ops.convert_to_tensor(v, dtype=self.compute_dtype)
        for _ in range(self.k if steps is None else steps):
            h = self._bernoulli(self.hidden_probabilities(v))
            mean = self.visible_mean(h)
            if self.visible == "bernoulli":
                v = self._bernoulli(mean)
            else:
                v = mean + keras.random.normal(ops.shape(mean), seed=self.seed_generator, dtype=mean.dtype)
        return v

    def contrastive_divergence_loss(self, v_data, v_model):
        """mean F(v_data) - mean F(v_model), the model's samples held constant: its gradient is CD's."""
        return ops.mean(self.free_energy(v_data)) - ops.mean(self.free_energy(ops.stop_gradient(v_model)))

    def reconstruction_error(self, v):
        """Mean squared difference between v and E[v | h = p(h | v)], per value: the usual progress measure."""
        v = ops.convert_to_tensor(v, dtype=self.compute_dtype)
        return ops.mean(ops.square(v - self.visible_mean(self.hidden_probabilities(v))))

    def call(self, inputs, training=False):
        probabilities = self.hidden_probabilities(inputs)
        if training:
            start = self.chain if self.persistent else inputs
            v_model = ops.stop_gradient(self.gibbs(ops.cast(start, inputs.dtype)))
            if self.persistent:
                self.chain.assign(ops.cast(v_model, self.chain.dtype))
            self.add_loss(self.contrastive_divergence_loss(inputs, v_model))
        return probabilities

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "visible": self.visible, "k": self.k,
                "persistent": self.persistent, "chains": self.chains,
                "kernel_initializer": _serialize(self.kernel_initializer), "seed": self.seed}


def whitening_statistics(batches, method="zca", epsilon=1e-5, components=None):
    """The mean and the whitening matrix of `batches` (an array, or an iterable of array batches), rows flattened.

    PCA: W = U diag(1/sqrt(λ + ε)), keeping the top `components` directions (all by default);
    ZCA: W = U diag(1/sqrt(λ + ε)) Uᵀ, the whitening closest to the identity, which keeps images images;
    center: W = I. Accumulated in float64, so a stream of batches gives what one array would.
    """
    _checks.one_of("Whitening", "method", method, WHITENING_METHODS)
    import numpy as np

    count, total, outer = 0, None, None
    for batch in ([batches] if hasattr(batches, "shape") else batches):
        batch = batch[0] if isinstance(batch, (tuple, list)) else batch
        rows = np.asarray(batch, dtype="float64").reshape(len(batch), -1)
        if total is None:
            total, outer = np.zeros(rows.shape[1]), np.zeros((rows.shape[1], rows.shape[1]))
        count += len(rows)
        total += rows.sum(axis=0)
        if method != "center":
            outer += rows.T @ rows
    if not count:
        raise ValueError("Whitening: no rows to compute statistics from.")
    mean = total / count
    if method == "center":
        return mean, np.eye(len(mean))
    covariance = outer / count - np.outer(mean, mean)
    eigenvalues, eigenvectors = np.linalg.eigh((covariance + covariance.T) / 2)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, eigenvectors = np.maximum(eigenvalues[order], 0.0), eigenvectors[:, order]
    if components is not None:
        eigenvalues, eigenvectors = eigenvalues[:components], eigenvectors[:, :components]
    matrix = eigenvectors / np.sqrt(eigenvalues + epsilon)
    if method == "zca":
        matrix = matrix @ eigenvectors.T
    return mean, matrix


WHITENING_METHODS = ("zca", "pca", "center")


@register
class Whitening(keras.layers.Layer):
    """PCA or ZCA whitening, or centring only, with statistics adapted on the training data (Keras's `adapt`).

    y = (x - μ) W over each row's values flattened: PCA rotates onto the principal
    directions and scales each to unit variance (the output is those components, the
    top `components` ones if given); ZCA then rotates back, so images stay images
    with their correlations removed; `center` subtracts the mean only. ε keeps the
    directions of tiny variance from being blown up. The statistics are
    non-trainable weights: saved with the model, so a saved model whitens its
    inputs itself.

    Args:
        method: "zca", "pca" or "center".
        epsilon: added to each eigenvalue, >= 0.
        components: PCA only, how many directions to keep (default all).

    Example:
        >>> layer = Whitening("zca", epsilon=0.1)
        >>> layer.adapt(x_train)                     # doctest: +SKIP
        >>> model = keras.Sequential([keras.Input(x_train.shape[1:]), layer, ...])  # doctest: +SKIP
    """

    def __init__(self, method="zca", epsilon=1e-5, components=None, **kwargs):
        super().__init__(**kwargs)
        self.method = _checks.one_of("Whitening", "method", method, WHITENING_METHODS)
        self.epsilon = _checks.non_negative("Whitening", "epsilon", epsilon)
        if components is not None:
            components = _checks.positive_int("Whitening", "components", components)
            if self.method != "pca":
                raise ValueError(f"Whitening: argument `components` got {components!r}; allowed: only with method 'pca'.")
        self.components = components
        self.adapted = False

    def build(self, input_shape):
        if any(d is None for d in input_shape[1:]):
            raise ValueError(f"Whitening {self.name!r} needs rows of a fixed shape; got input shape {tuple(input_shape)}.")
        features = math.prod(int(d) for d in input_shape[1:])
        if self.components is not None and self.components > features:
            raise ValueError(f"Whitening {self.name!r}: {self.components} components of {features} features.")
        self.input_features = features
        width = self.components or features
        self.mean = self.add_weight(name="mean", shape=(features,), initializer="zeros", trainable=False)
        self.matrix = self.add_weight(name="matrix", shape=(features, width), initializer="identity" if width == features else "zeros",
                                      trainable=False)

    def adapt(self, data, batch_size=None):
        """Compute μ and W from `data`: an array, a tf.data.Dataset or any iterable of batches (x, or (x, y))."""
        if hasattr(data, "as_numpy_iterator"):
            data = data.as_numpy_iterator()
        elif batch_size is not None and hasattr(data, "shape"):
            array = data
            data = (array[i:i + batch_size] for i in range(0, len(array), batch_size))
        mean, matrix = whitening_statistics(data, self.method, self.epsilon, self.components)
        self.set_statistics(mean, matrix)

    def set_statistics(self, mean, matrix):
        """Set μ and W directly (what `adapt` computes; see `whitening_statistics`)."""
        import numpy as np

        mean, matrix = np.asarray(mean, "float32").reshape(-1), np.asarray(matrix, "float32")
        if not self.built:
            self.build((None, len(mean)))
        if mean.shape != tuple(self.mean.shape) or matrix.shape != tuple(self.matrix.shape):
            raise ValueError(f"Whitening {self.name!r}: statistics of shapes {mean.shape} and {matrix.shape}, "
                             f"the layer needs {tuple(self.mean.shape)} and {tuple(self.matrix.shape)}.")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(matrix))):
            raise ValueError(f"Whitening {self.name!r}: the statistics are not finite (NaN or inf in the data?).")
        self.mean.assign(mean)
        self.matrix.assign(matrix)
        self.adapted = True

    def call(self, inputs):
        shape = ops.shape(inputs)
        rows = ops.reshape(ops.cast(inputs, self.compute_dtype), (shape[0], self.input_features))
        white = ops.matmul(rows - self.mean, self.matrix)
        if self.method == "pca":
            return white
        return ops.reshape(white, shape)

    def compute_output_shape(self, input_shape):
        if self.method == "pca":
            return (input_shape[0], self.components or math.prod(int(d) for d in input_shape[1:]))
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "method": self.method, "epsilon": self.epsilon, "components": self.components}
