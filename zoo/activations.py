"""Activations Keras 3 does not ship, usable by name in a spec and as Python functions.

    >>> import keras
    >>> from zoo.activations import lecun_tanh
    >>> layer = keras.layers.Dense(8, activation=lecun_tanh)

In a spec: `activation: lecun_tanh`, `activation: tanh_linear`, or, for the
noisy ReLU (which must know whether it is training), `activation: noisy_relu`
or `activation: {NoisyReLU: {stddev: 0.2}}`: the builder puts a
`zoo.layers.NoisyReLU` layer after the one that names it.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["lecun_tanh", "tanh_linear", "noisy_relu", "LAYER_ACTIVATIONS"]

# Activation names that stand for a layer, because the activation needs the training flag.
LAYER_ACTIVATIONS = {"noisy_relu": "NoisyReLU"}


@keras.saving.register_keras_serializable(package="zoo")
def lecun_tanh(x):
    """LeCun's scaled tanh, 1.7159 * tanh(2x / 3) (Efficient BackProp, 1998).

    Chosen so that f(±1) = ±1 and the second derivative peaks at x = 1: with
    normalized inputs, unit-variance activations.

    Example: `keras.layers.Dense(16, activation=lecun_tanh)`.
    """
    return 1.7159 * ops.tanh(x * (2.0 / 3.0))


@keras.saving.register_keras_serializable(package="zoo")
def tanh_linear(x, alpha=0.1):
    """tanh(x) + alpha * x: a tanh whose gradient never vanishes (it is at least alpha).

    Args:
        x: input tensor.
        alpha: slope of the linear term (0.1 by default).

    Example: `keras.layers.Dense(16, activation=tanh_linear)`; for another slope
    use `functools.partial(tanh_linear, alpha=0.05)` in Python.
    """
    return ops.tanh(x) + alpha * x


def noisy_relu(x, stddev=0.1, training=False, seed=None):
    """ReLU of x plus Gaussian noise N(0, stddev²) while training; plain ReLU otherwise.

    max(0, x + n) (Nair & Hinton, 2010). In a model, use the layer
    `zoo.layers.NoisyReLU`, which knows the training flag.

    Args:
        x: input tensor.
        stddev: standard deviation of the noise.
        training: add the noise only when true.
        seed: an int or a `keras.random.SeedGenerator`.

    Example: `noisy_relu(x, stddev=0.2, training=True, seed=0)`.
    """
    if training and stddev > 0:
        x = x + keras.random.normal(ops.shape(x), stddev=stddev, dtype=x.dtype, seed=seed)
    return ops.relu(x)
