"""Named, parameterized architectures: `zoo.architectures.get("mlp", input_shape=(64,), outputs=10)`.

Each family is a function that returns an uncompiled `keras.Model` built from
Keras layers and this package's layers. From the command line, `zoo list`
names them and `zoo show NAME` prints one's parameters; in a spec,

    model: {zoo: cnn, filters: [16, 32], dropout: 0.2}

builds it with the input shape and output layer the data implies.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Callable, Sequence

import keras

from zoo import _checks
from zoo.layers import DenseTied, GatedMLPBlock, Highway, ResidualBlock

__all__ = ["get", "family", "names", "describe", "parameters", "register", "reconstructs", "VAESampling"]

_REGISTRY: dict[str, Callable[..., keras.Model]] = {}


def register(function: Callable[..., keras.Model]) -> Callable[..., keras.Model]:
    """Add a family to the registry under its function name."""
    _REGISTRY[function.__name__] = function
    return function


def names() -> list[str]:
    return sorted(_REGISTRY)


def family(name: str) -> Callable[..., keras.Model]:
    """The registered function that builds architecture `name`; a ValueError with the closest name otherwise."""
    if name not in _REGISTRY:
        near = difflib.get_close_matches(name, _REGISTRY, n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        raise ValueError(f"unknown architecture {name!r}; the zoo has {', '.join(names())}.{hint}")
    return _REGISTRY[name]


def parameters(name: str) -> dict[str, object]:
    """A family's parameters and their defaults (`inspect.Parameter.empty` when required)."""
    return {p.name: p.default for p in inspect.signature(family(name)).parameters.values()}


def get(name: str, **params) -> keras.Model:
    """Build architecture `name` with `params` (see `describe(name)`)."""
    build = family(name)
    accepted = parameters(name)
    for key in params:
        if key not in accepted:
            near = difflib.get_close_matches(key, accepted, n=1)
            hint = f" Did you mean {near[0]!r}?" if near else ""
            raise ValueError(f"architecture {name!r} takes no parameter {key!r}; its parameters are {', '.join(accepted)}.{hint}")
    return build(**params)


def reconstructs(name: str, **params) -> bool:
    """Whether the family, with `params`, is trained to reproduce its input (its targets are its inputs)."""
    flag = getattr(family(name), "reconstructs", False)
    return bool(flag(**params)) if callable(flag) else bool(flag)


def describe(name: str) -> str:
    """The family's docstring and parameters, as `zoo show NAME` prints them."""
    lines = [f"{name}: {inspect.getdoc(family(name))}", "", "parameters:"]
    for key, default in parameters(name).items():
        shown = "(required)" if default is inspect.Parameter.empty else f"= {default!r}"
        lines.append(f"  {key} {shown}")
    return "\n".join(lines)


# -- shared pieces -------------------------------------------------------------


def _inputs(input_shape: Sequence[int]) -> keras.KerasTensor:
    shape = tuple(input_shape)
    if not shape or any(not isinstance(d, int) or d < 1 for d in shape):
        raise ValueError(f"argument `input_shape` got {input_shape!r}; allowed: a list of positive integers.")
    return keras.Input(shape, name="inputs")


def _as_signal(x, minimum_rank: int = 2):
    """Flat rows (features,) become 1-D signals (features, 1) for convolutions and RNNs."""
    if len(x.shape) - 1 < minimum_rank:
        x = keras.layers.Reshape(tuple(x.shape[1:]) + (1,))(x)
    return x


def _head(x, outputs: int, output_activation: str):
    _checks.positive_int("architecture", "outputs", outputs)
    return keras.layers.Dense(outputs, activation=output_activation, dtype="float32", name="head")(x)


def _widths(name: str, value, what: str) -> list[int]:
    values = [value] if isinstance(value, int) else list(value)
    if not values:
        raise ValueError(f"{name}: argument `{what}` got {value!r}; allowed: one or more positive integers.")
    return [_checks.positive_int(name, what, v) for v in values]


# -- families ------------------------------------------------------------------


@register
def mlp(
    input_shape,
    outputs=10,
    output_activation="softmax",
    depth=2,
    units=128,
    activation="relu",
    kernel_initializer="he_normal",
    batch_norm=False,
    dropout=0.0,
):
    """Multilayer perceptron: `depth` Dense layers of `units` (an int, or one width per layer),
    each optionally followed by BatchNorm and dropout. The baseline for tabular rows and
    small flattened images."""
    depth = _checks.positive_int("mlp", "depth", depth)
    widths = _widths("mlp", units, "units")
    widths = widths * depth if len(widths) == 1 else widths
    dropout = _checks.rate("mlp", "dropout", dropout)
    inputs = _inputs(input_shape)
    x = keras.layers.Flatten()(inputs) if len(inputs.shape) > 2 else inputs
    for width in widths:
        x = keras.layers.Dense(width, activation=None if batch_norm else activation, kernel_initializer=kernel_initializer, use_bias=not batch_norm)(x)
        if batch_norm:
            x = keras.layers.Activation(activation)(keras.layers.BatchNormalization()(x))
        if dropout:
            x = keras.layers.Dropout(dropout)(x)
    return keras.Model(inputs, _head(x, outputs, output_activation), name="mlp")


@register
def cnn(
    input_shape,
    outputs=10,
    output_activation="softmax",
    filters=(32, 64),
    kernel_size=3,
    dense_units=128,
    activation="relu",
    batch_norm=False,
    dropout=0.0,
):
    """LeNet-like convolutional network: per entry of `filters`, a convolution and 2x max
    pooling, then a Dense layer and the output. 2-D for images (H, W, C), 1-D for signals
    (length, C) or flat rows. For small images and 1-D signals such as MNIST-1D."""
    filters = _widths("cnn", filters, "filters")
    kernel_size = _checks.positive_int("cnn", "kernel_size", kernel_size)
    dropout = _checks.rate("cnn", "dropout", dropout)
    inputs = _inputs(input_shape)
    x = _as_signal(inputs)
    two_d = len(x.shape) == 4
    conv = keras.layers.Conv2D if two_d else keras.layers.Conv1D
    pool = keras.layers.MaxPooling2D if two_d else keras.layers.MaxPooling1D
    for width in filters:
        x = conv(width, kernel_size, padding="same", use_bias=not batch_norm, kernel_initializer="he_normal")(x)
        if batch_norm:
            x = keras.layers.BatchNormalization()(x)
        x = keras.layers.Activation(activation)(x)
        if min(x.shape[1:-1]) >= 2:
            x = pool(2)(x)
    x = keras.layers.Flatten()(x)
    if dense_units:
        x = keras.layers.Dense(_checks.positive_int("cnn", "dense_units", dense_units), activation=activation, kernel_initializer="he_normal")(x)
    if dropout:
        x = keras.layers.Dropout(dropout)(x)
    return keras.Model(inputs, _head(x, outputs, output_activation), name="cnn")


@register
def resnet(
    input_shape,
    outputs=10,
    output_activation="softmax",
    filters=(32, 64),
    blocks_per_stage=2,
    kernel_size=3,
    drop_path=0.0,
):
    """A small residual network (He et al., 2016) for 1-D signals or 2-D images: a stem
    convolution, then per entry of `filters` a stage of `blocks_per_stage` ResidualBlocks
    (the first of each later stage downsamples by 2), global average pooling and the output.
    `drop_path` adds stochastic depth, rising linearly to that rate at the last block."""
    filters = _widths("resnet", filters, "filters")
    blocks = _checks.positive_int("resnet", "blocks_per_stage", blocks_per_stage)
    drop_path = _checks.rate("resnet", "drop_path", drop_path)
    inputs = _inputs(input_shape)
    x = _as_signal(inputs)
    two_d = len(x.shape) == 4
    kind = "conv2d" if two_d else "conv1d"
    conv = keras.layers.Conv2D if two_d else keras.layers.Conv1D
    x = conv(filters[0], kernel_size, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
    x = keras.layers.Activation("relu")(keras.layers.BatchNormalization()(x))
    total, index = len(filters) * blocks, 0
    for stage, width in enumerate(filters):
        for block in range(blocks):
            strides = 2 if stage > 0 and block == 0 and min(x.shape[1:-1]) >= 2 else 1
            rate = drop_path * index / max(1, total - 1)
            x = ResidualBlock(width, kind=kind, kernel_size=kernel_size, strides=strides, drop_path=rate)(x)
            index += 1
    pooling = keras.layers.GlobalAveragePooling2D if two_d else keras.layers.GlobalAveragePooling1D
    return keras.Model(inputs, _head(pooling()(x), outputs, output_activation), name="resnet")


@register
def rnn(
    input_shape,
    outputs=10,
    output_activation="softmax",
    cell="lstm",
    units=64,
    layers=1,
    dropout=0.0,
    recurrent_dropout=0.0,
    bidirectional=False,
):
    """Recurrent network over a sequence (steps, features), or flat rows read one value per
    step: `layers` stacked LSTM or GRU layers of `units` with input and recurrent dropout,
    optionally bidirectional; the last state feeds the output."""
    cell = _checks.one_of("rnn", "cell", cell, ("lstm", "gru"))
    units = _checks.positive_int("rnn", "units", units)
    layers = _checks.positive_int("rnn", "layers", layers)
    dropout = _checks.rate("rnn", "dropout", dropout)
    recurrent_dropout = _checks.rate("rnn", "recurrent_dropout", recurrent_dropout)
    inputs = _inputs(input_shape)
    x = _as_signal(inputs)
    if len(x.shape) != 3:
        raise ValueError(f"rnn: argument `input_shape` got {tuple(input_shape)!r}; allowed: (steps, features) or (steps,).")
    layer_class = keras.layers.LSTM if cell == "lstm" else keras.layers.GRU
    for index in range(layers):
        layer = layer_class(units, dropout=dropout, recurrent_dropout=recurrent_dropout, return_sequences=index < layers - 1)
        x = keras.layers.Bidirectional(layer)(x) if bidirectional else layer(x)
    return keras.Model(inputs, _head(x, outputs, output_activation), name="rnn")


@register
def gmlp(
    input_shape,
    outputs=10,
    output_activation="softmax",
    patch_size=4,
    width=64,
    depth=2,
    ffn_units=128,
    dropout=0.0,
    drop_path=0.0,
):
    """gMLP (Liu et al., 2021): the input is cut into patches (1-D signals or 2-D images),
    each embedded to `width` channels; `depth` GatedMLPBlocks mix channels and, through
    their spatial gating units, tokens; then layer norm, average pooling and the output.
    Attention-free token mixing for small sequences and images."""
    patch_size = _checks.positive_int("gmlp", "patch_size", patch_size)
    width = _checks.positive_int("gmlp", "width", width)
    depth = _checks.positive_int("gmlp", "depth", depth)
    inputs = _inputs(input_shape)
    x = _as_signal(inputs)
    two_d = len(x.shape) == 4
    size = min(patch_size, *x.shape[1:-1])
    conv = keras.layers.Conv2D if two_d else keras.layers.Conv1D
    x = conv(width, size, strides=size)(x)  # patch embedding
    if two_d:
        x = keras.layers.Reshape((x.shape[1] * x.shape[2], width))(x)
    for index in range(depth):
        x = GatedMLPBlock(ffn_units, dropout=dropout, drop_path=drop_path * (index + 1) / depth)(x)
    x = keras.layers.GlobalAveragePooling1D()(keras.layers.LayerNormalization(epsilon=1e-6)(x))
    return keras.Model(inputs, _head(x, outputs, output_activation), name="gmlp")


@register
def autoencoder(
    input_shape,
    latent_dim=16,
    hidden=(128, 64),
    kind="dense",
    noise=0.0,
    activation="relu",
    output_activation="linear",
    tied=False,
):
    """Autoencoder: an encoder down to `latent_dim`, a mirrored decoder back to the input
    shape; trained with the inputs as targets. `kind: conv` uses strided convolutions and
    transposed convolutions (2-D images or 1-D signals, sides divisible by 2 per entry of
    `hidden`). `noise > 0` makes it a denoising autoencoder (Gaussian input noise while
    training). `tied: true` (dense only) makes each decoder layer reuse its mirror encoder
    layer's kernel transposed (DenseTied): half the weights. The layer named "latent" holds
    the code, for pretraining and features."""
    latent_dim = _checks.positive_int("autoencoder", "latent_dim", latent_dim)
    hidden = _widths("autoencoder", hidden, "hidden")
    kind = _checks.one_of("autoencoder", "kind", kind, ("dense", "conv"))
    noise = _checks.non_negative("autoencoder", "noise", noise)
    if not isinstance(tied, bool):
        raise ValueError(f"autoencoder: argument `tied` got {tied!r}; allowed: true or false.")
    if tied and kind != "dense":
        raise ValueError("autoencoder: argument `tied` got True; allowed: only with kind 'dense'.")
    inputs = _inputs(input_shape)
    x = keras.layers.GaussianNoise(noise)(inputs) if noise else inputs
    if kind == "dense":
        shape = tuple(inputs.shape[1:])
        x = keras.layers.Flatten()(x) if len(shape) > 1 else x
        encoders = [keras.layers.Dense(width, activation=activation) for width in hidden]
        encoders.append(keras.layers.Dense(latent_dim, activation=activation, name="latent"))
        for layer in encoders:
            x = layer(x)
        size = 1
        for dimension in shape:
            size *= dimension
        if tied:
            for index, layer in enumerate(reversed(encoders)):
                last = index == len(encoders) - 1
                x = DenseTied(layer, activation=output_activation if last else activation, dtype="float32" if last else None)(x)
        else:
            for width in reversed(hidden):
                x = keras.layers.Dense(width, activation=activation)(x)
            x = keras.layers.Dense(size, activation=output_activation, dtype="float32")(x)
        if len(shape) > 1:
            x = keras.layers.Reshape(shape)(x)
        return keras.Model(inputs, x, name="autoencoder")
    x = _as_signal(x)
    two_d = len(x.shape) == 4
    spatial = tuple(x.shape[1:-1])
    if any(side % (2 ** len(hidden)) for side in spatial):
        raise ValueError(f"autoencoder: kind 'conv' halves each side {len(hidden)} times; input sides {spatial} must be divisible by {2 ** len(hidden)}.")
    conv = keras.layers.Conv2D if two_d else keras.layers.Conv1D
    deconv = keras.layers.Conv2DTranspose if two_d else keras.layers.Conv1DTranspose
    for width in hidden:
        x = conv(width, 3, strides=2, padding="same", activation=activation)(x)
    x = conv(latent_dim, 1, activation=activation, name="latent")(x)
    for width in reversed(hidden):
        x = deconv(width, 3, strides=2, padding="same", activation=activation)(x)
    x = conv(inputs.shape[-1] if len(inputs.shape) > 2 else 1, 3, padding="same", activation=output_activation, dtype="float32")(x)
    if len(inputs.shape) == 2:
        x = keras.layers.Reshape(tuple(inputs.shape[1:]))(x)
    return keras.Model(inputs, x, name="autoencoder")


autoencoder.reconstructs = True


@keras.saving.register_keras_serializable(package="zoo")
class VAESampling(keras.layers.Layer):
    """z = mean + exp(log_var / 2) · ε, ε ~ N(0, I), adding β · KL(q(z|x) ‖ N(0, I)) with `add_loss`.

    The KL term is summed over the latent dimensions, averaged over the batch and
    divided by `features` (the input size), so it is on the scale of a
    reconstruction loss that Keras averages over features (mse, binary crossentropy).

    Args:
        beta: weight of the KL term (β-VAE), >= 0.
        features: the number of input features the reconstruction loss averages over.
        seed: seed of ε.

    Example:
        >>> z = VAESampling(features=64)([z_mean, z_log_var])
    """

    def __init__(self, beta=1.0, features=1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.beta = _checks.non_negative("VAESampling", "beta", beta)
        self.features = _checks.positive_int("VAESampling", "features", features)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        mean, log_var = inputs
        kl = -0.5 * keras.ops.sum(1.0 + log_var - keras.ops.square(mean) - keras.ops.exp(log_var), axis=-1)
        self.add_loss(self.beta * keras.ops.mean(kl) / self.features)
        if not training:
            return mean
        epsilon = keras.random.normal(keras.ops.shape(mean), seed=self.seed_generator, dtype=mean.dtype)
        return mean + keras.ops.exp(0.5 * log_var) * epsilon

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "beta": self.beta, "features": self.features, "seed": self.seed}


@register
def vae(
    input_shape,
    latent_dim=2,
    hidden=(128,),
    activation="relu",
    output_activation="sigmoid",
    beta=1.0,
    kind="dense",
):
    """Variational autoencoder (Kingma & Welling, 2014): the encoder gives the mean and
    log-variance of q(z|x), the VAESampling layer draws z and adds β·KL through `add_loss`,
    and the decoder reconstructs the input (sigmoid output for inputs in [0, 1]). Trained
    with the inputs as targets; the layer named "z_mean" is the code. `kind: conv` encodes
    with strided convolutions (`hidden` filters, each halving the sides, which must divide
    by 2 per entry) and decodes with transposed ones: 2-D images or 1-D signals."""
    latent_dim = _checks.positive_int("vae", "latent_dim", latent_dim)
    hidden = _widths("vae", hidden, "hidden")
    kind = _checks.one_of("vae", "kind", kind, ("dense", "conv"))
    inputs = _inputs(input_shape)
    shape = tuple(inputs.shape[1:])
    features = 1
    for dimension in shape:
        features *= dimension
    if kind == "conv":
        return _conv_vae(inputs, latent_dim, hidden, activation, output_activation, beta, features)
    x = keras.layers.Flatten()(inputs) if len(shape) > 1 else inputs
    for width in hidden:
        x = keras.layers.Dense(width, activation=activation)(x)
    mean = keras.layers.Dense(latent_dim, name="z_mean")(x)
    log_var = keras.layers.Dense(latent_dim, name="z_log_var")(x)
    z = VAESampling(beta=beta, features=features, name="sampling")([mean, log_var])
    for width in reversed(hidden):
        z = keras.layers.Dense(width, activation=activation)(z)
    x = keras.layers.Dense(features, activation=output_activation, dtype="float32")(z)
    if len(shape) > 1:
        x = keras.layers.Reshape(shape)(x)
    return keras.Model(inputs, x, name="vae")


vae.reconstructs = True


def _conv_vae(inputs, latent_dim, hidden, activation, output_activation, beta, features) -> keras.Model:
    x = _as_signal(inputs)
    two_d = len(x.shape) == 4
    spatial = tuple(x.shape[1:-1])
    if any(side % (2 ** len(hidden)) for side in spatial):
        raise ValueError(f"vae: kind 'conv' halves each side {len(hidden)} times; input sides {spatial} must be divisible by {2 ** len(hidden)}.")
    conv = keras.layers.Conv2D if two_d else keras.layers.Conv1D
    deconv = keras.layers.Conv2DTranspose if two_d else keras.layers.Conv1DTranspose
    channels = x.shape[-1]
    for width in hidden:
        x = conv(width, 3, strides=2, padding="same", activation=activation)(x)
    coded_shape = tuple(x.shape[1:])
    x = keras.layers.Flatten()(x)
    mean = keras.layers.Dense(latent_dim, name="z_mean")(x)
    log_var = keras.layers.Dense(latent_dim, name="z_log_var")(x)
    z = VAESampling(beta=beta, features=features, name="sampling")([mean, log_var])
    size = 1
    for dimension in coded_shape:
        size *= dimension
    x = keras.layers.Reshape(coded_shape)(keras.layers.Dense(size, activation=activation)(z))
    for width in reversed(hidden):
        x = deconv(width, 3, strides=2, padding="same", activation=activation)(x)
    x = conv(channels, 3, padding="same", activation=output_activation, dtype="float32")(x)
    if x.shape[1:] != inputs.shape[1:]:
        x = keras.layers.Reshape(tuple(inputs.shape[1:]))(x)
    return keras.Model(inputs, x, name="vae")


@register
def densenet(
    input_shape,
    outputs=10,
    output_activation="softmax",
    blocks=(4, 4),
    growth_rate=12,
    bottleneck=True,
    compression=0.5,
    dropout=0.0,
):
    """DenseNet (Huang et al., 2017) for 1-D signals or 2-D images: a stem convolution of
    2·`growth_rate` filters, then per entry of `blocks` a dense block of that many layers, each
    BN-ReLU-(1x1 conv to 4·growth_rate, the bottleneck)-BN-ReLU-3x3 conv adding `growth_rate`
    channels that are concatenated to all the earlier ones; between blocks a transition
    (BN-ReLU-1x1 conv keeping `compression` of the channels, 2x average pooling); then
    BN-ReLU, global average pooling and the output."""
    blocks = _widths("densenet", blocks, "blocks")
    growth_rate = _checks.positive_int("densenet", "growth_rate", growth_rate)
    compression = _checks.positive("densenet", "compression", compression)
    if compression > 1:
        raise ValueError(f"densenet: argument `compression` got {compression!r}; allowed: a number in (0, 1].")
    dropout = _checks.rate("densenet", "dropout", dropout)
    inputs = _inputs(input_shape)
    x = _as_signal(inputs)
    two_d = len(x.shape) == 4
    conv = keras.layers.Conv2D if two_d else keras.layers.Conv1D
    pool = keras.layers.AveragePooling2D if two_d else keras.layers.AveragePooling1D
    x = conv(2 * growth_rate, 3, padding="same", use_bias=False, kernel_initializer="he_normal")(x)

    def norm_relu(t):  # momentum 0.9 (PyTorch's 0.1): the moving statistics settle within a few epochs of small data
        return keras.layers.Activation("relu")(keras.layers.BatchNormalization(momentum=0.9)(t))

    for index, layers in enumerate(blocks):
        for _ in range(layers):
            y = norm_relu(x)
            if bottleneck:
                y = norm_relu(conv(4 * growth_rate, 1, use_bias=False, kernel_initializer="he_normal")(y))
            y = conv(growth_rate, 3, padding="same", use_bias=False, kernel_initializer="he_normal")(y)
            if dropout:
                y = keras.layers.Dropout(dropout)(y)
            x = keras.layers.Concatenate()([x, y])
        if index < len(blocks) - 1:
            channels = max(1, int(x.shape[-1] * compression))
            x = conv(channels, 1, use_bias=False, kernel_initializer="he_normal")(norm_relu(x))
            if min(x.shape[1:-1]) >= 2:
                x = pool(2)(x)
    pooling = keras.layers.GlobalAveragePooling2D if two_d else keras.layers.GlobalAveragePooling1D
    return keras.Model(inputs, _head(pooling()(norm_relu(x)), outputs, output_activation), name="densenet")


@register
def highway(
    input_shape,
    outputs=10,
    output_activation="softmax",
    units=64,
    depth=10,
    activation="relu",
    transform_bias=-2.0,
    dropout=0.0,
):
    """Highway network (Srivastava et al., 2015): the input (flattened) projected to `units`,
    then `depth` Highway layers y = T·H(x) + (1 - T)·x whose transform gates start mostly
    closed (bias `transform_bias`, negative), so that depth costs little at the start of
    training; then the output."""
    units = _checks.positive_int("highway", "units", units)
    depth = _checks.positive_int("highway", "depth", depth)
    dropout = _checks.rate("highway", "dropout", dropout)
    inputs = _inputs(input_shape)
    x = keras.layers.Flatten()(inputs) if len(inputs.shape) > 2 else inputs
    x = keras.layers.Dense(units, activation=activation, kernel_initializer="he_normal")(x)
    for _ in range(depth):
        x = Highway(activation=activation, transform_bias=transform_bias)(x)
        if dropout:
            x = keras.layers.Dropout(dropout)(x)
    return keras.Model(inputs, _head(x, outputs, output_activation), name="highway")


@register
def unet(
    input_shape,
    filters=(16, 32),
    kernel_size=3,
    classes=0,
    noise=0.1,
    output_activation="sigmoid",
):
    """U-Net (Ronneberger et al., 2015) for 1-D signals or 2-D images: per entry of `filters`
    an encoder level (two convolutions, then 2x max pooling), a bottleneck of twice the last
    width, and a mirrored decoder whose levels upsample (transposed convolution) and
    concatenate the encoder's output of the same size (the skip connections). The sides must
    divide by 2 per entry of `filters`. With `classes: 0` it is a denoising network: Gaussian
    noise of `noise` on the inputs while training, trained to give back the clean inputs
    (`output_activation`, sigmoid for inputs in [0, 1]). With `classes: N` it segments: a
    softmax over N classes at every position (N = 1: a sigmoid mask)."""
    filters = _widths("unet", filters, "filters")
    kernel_size = _checks.positive_int("unet", "kernel_size", kernel_size)
    classes = _checks.int_at_least("unet", "classes", classes, 0)
    noise = _checks.non_negative("unet", "noise", noise)
    inputs = _inputs(input_shape)
    x = _as_signal(inputs)
    two_d = len(x.shape) == 4
    spatial = tuple(x.shape[1:-1])
    if any(side % (2 ** len(filters)) for side in spatial):
        raise ValueError(f"unet: {len(filters)} levels halve each side {len(filters)} times; input sides {spatial} "
                         f"must be divisible by {2 ** len(filters)}.")
    conv = keras.layers.Conv2D if two_d else keras.layers.Conv1D
    deconv = keras.layers.Conv2DTranspose if two_d else keras.layers.Conv1DTranspose
    pool = keras.layers.MaxPooling2D if two_d else keras.layers.MaxPooling1D
    channels = x.shape[-1]
    if noise and not classes:
        x = keras.layers.GaussianNoise(noise)(x)

    def twice(t, width):
        for _ in range(2):
            t = conv(width, kernel_size, padding="same", activation="relu", kernel_initializer="he_normal")(t)
        return t

    skips = []
    for width in filters:
        x = twice(x, width)
        skips.append(x)
        x = pool(2)(x)
    x = twice(x, 2 * filters[-1])
    for width, skip in zip(reversed(filters), reversed(skips)):
        x = deconv(width, 2, strides=2, padding="same")(x)
        x = twice(keras.layers.Concatenate()([skip, x]), width)
    if classes:
        activation = "sigmoid" if classes == 1 else "softmax"
        return keras.Model(inputs, conv(classes, 1, activation=activation, dtype="float32", name="head")(x), name="unet")
    x = conv(channels, 1, activation=output_activation, dtype="float32", name="head")(x)
    if x.shape[1:] != inputs.shape[1:]:
        x = keras.layers.Reshape(tuple(inputs.shape[1:]))(x)
    return keras.Model(inputs, x, name="unet")


unet.reconstructs = lambda classes=0, **_: not classes


@register
def dbn(
    input_shape,
    outputs=10,
    output_activation="softmax",
    units=(128, 64),
):
    """Deep belief net (Hinton et al., 2006): sigmoid Dense layers of `units`, then the output.
    The network is an MLP; what makes it a DBN is its pretraining, `pretrain: {mode: rbm}` in a
    spec (or `greedy_layerwise_pretrain(model, data, mode="rbm")`): each hidden layer starts
    from a restricted Boltzmann machine trained by contrastive divergence on the layer below,
    then the whole net is fine-tuned."""
    widths = _widths("dbn", units, "units")
    inputs = _inputs(input_shape)
    x = keras.layers.Flatten()(inputs) if len(inputs.shape) > 2 else inputs
    for index, width in enumerate(widths):
        x = keras.layers.Dense(width, activation="sigmoid", name=f"rbm_{index}")(x)
    return keras.Model(inputs, _head(x, outputs, output_activation), name="dbn")

