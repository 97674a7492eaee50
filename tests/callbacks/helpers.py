"""Small real data and models for the callback tests: scikit-learn's digits, scaled to [0, 1]."""

from __future__ import annotations

import functools

import keras
import numpy as np


@functools.lru_cache(maxsize=None)
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_validation, y_validation): a fixed, stratified 75/25 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    return x_train, y_train.astype("int32"), x_val, y_val.astype("int32")


def mlp(hidden: list[int], activation: str = "relu", outputs: int = 10, learning_rate: float = 1e-3,
        seed: int = 0, initializer: str = "glorot_uniform", **compile_arguments) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((64,))
    x = inputs
    for index, units in enumerate(hidden):
        x = keras.layers.Dense(units, activation=activation, kernel_initializer=initializer, name=f"hidden_{index}")(x)
    outputs = keras.layers.Dense(outputs, activation="softmax", name="out")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], **compile_arguments)
    return model


def weights_by_layer(model: keras.Model) -> dict[str, list[np.ndarray]]:
    return {layer.name: [np.array(w) for w in layer.get_weights()] for layer in model.layers if layer.weights}


def same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
