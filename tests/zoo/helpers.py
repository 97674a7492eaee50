"""`run_layer_test` and a backend-independent gradient helper for the zoo's tests."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np


def gradients(model: keras.Model, x: np.ndarray) -> list[np.ndarray]:
    """Gradients of mean(output²) with respect to the model's trainable weights, in training mode."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(tf.cast(model(x, training=True), "float32")))
        return [np.asarray(g) if g is not None else None for g in tape.gradient(loss, model.trainable_variables)]
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]

        def loss(values):
            y, _ = model.stateless_call(values, non_trainable, x, training=True)
            return jnp.mean(jnp.square(y.astype("float32")))

        return [np.asarray(g) for g in jax.grad(loss)(trainable)]
    raise NotImplementedError(f"no gradient helper for the {backend} backend")


def run_layer_test(layer_factory, input_shape, tmp_path: Path, expected_output_shape=None, seed: int = 0) -> keras.Model:
    """The checks every zoo layer passes; returns the model it built around the layer.

    - output shape as `compute_output_shape` and `expected_output_shape` say;
    - `get_config` / `from_config` round trip to the same config;
    - a saved model reloads with `safe_mode=True` and predicts identically;
    - gradients reach every trainable weight, finite and shaped like it.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(4,) + tuple(input_shape)).astype("float32")
    layer = layer_factory()
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config
    inputs = keras.Input(tuple(input_shape))
    model = keras.Model(inputs, layer(inputs))
    y = np.asarray(model.predict(x, verbose=0))
    assert y.shape == (4,) + tuple(layer.compute_output_shape((4,) + tuple(input_shape)))[1:]
    if expected_output_shape is not None:
        assert y.shape[1:] == tuple(expected_output_shape)
    assert np.all(np.isfinite(y))
    path = tmp_path / f"{type(layer).__name__}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    assert type(reloaded.layers[-1]) is type(layer)
    np.testing.assert_array_equal(np.asarray(reloaded.predict(x, verbose=0)), y)
    grads = gradients(model, x)
    assert len(grads) == len(model.trainable_variables) > 0
    assert any(np.any(g != 0) for g in grads)
    for variable, grad in zip(model.trainable_variables, grads):
        assert grad is not None, f"no gradient reaches {variable.path}"
        assert grad.shape == tuple(variable.shape) and np.all(np.isfinite(grad)), variable.path
    return model
