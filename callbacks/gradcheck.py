"""A numerical gradient check: the backend's gradients against central finite differences.

As the notes describe it: on a few parameters, compare the analytic gradient with
(L(w + h) - L(w - h)) / 2h and report the relative error |a - n| / max(|a|, |n|). The check runs
in float64 on a copy of the model (so h can be small without float32 round-off swamping the
difference) and in inference mode (no dropout: the loss must be a function of the weights alone).
Below about 1e-6 the gradients agree; around 1e-4 a kink (ReLU at 0, max) or a vanishing gradient may
be the cause; above 1e-2 the gradient is probably wrong.

Example:
    >>> report = gradient_check(model, x[:16], y[:16], parameters=20)
    >>> report["max_relative_error"] < 1e-4
    True
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from zoo.callbacks.gradients import loss_function, weighted_layers

__all__ = ["gradient_check"]


def _as_float64(model: keras.Model) -> keras.Model:
    """The same model, its variables and computation in float64."""
    def retype(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("class_name") == "DTypePolicy" and isinstance(node.get("config"), dict):
                return {**node, "config": {**node["config"], "name": "float64"}}
            return {k: ("float64" if k == "dtype" and v in ("float32", "float16", "bfloat16") else retype(v))
                    for k, v in node.items()}
        if isinstance(node, list):
            return [retype(v) for v in node]
        return node

    copy = model.__class__.from_config(retype(model.get_config()))
    copy.set_weights([np.asarray(w, dtype="float64") if np.asarray(w).dtype.kind == "f" else w
                      for w in model.get_weights()])
    return copy


def _loss_and_gradients(model: keras.Model, loss, x, y) -> tuple[float, list[np.ndarray]]:
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            value = _mean(loss(y, model(x, training=False)))
            value = value + sum(model.losses) if model.losses else value
        gradients = tape.gradient(value, model.trainable_variables)
        return float(value), [np.asarray(g, dtype="float64") if g is not None else None for g in gradients]
    if backend == "jax":
        import jax

        non_trainable = [v.value for v in model.non_trainable_variables]

        def objective(weights):
            y_pred, _, losses = model.stateless_call(weights, non_trainable, x, training=False, return_losses=True)
            value = _mean(loss(y, y_pred))
            return value + sum(losses) if losses else value

        value, gradients = jax.value_and_grad(objective)([v.value for v in model.trainable_variables])
        return float(value), [np.asarray(g, dtype="float64") for g in gradients]
    raise NotImplementedError(f"the gradient check is implemented for the TensorFlow and JAX backends, not {backend!r}.")


def _mean(values):
    """The mean in the values' own dtype (keras.ops.mean on JAX rounds a float64 mean to float32, measured)."""
    return keras.ops.sum(values) / int(np.prod(values.shape))


def _loss(model: keras.Model, loss, x, y) -> float:
    if keras.backend.backend() == "jax":  # through stateless_call, as the gradients are taken
        y_pred, _, losses = model.stateless_call([v.value for v in model.trainable_variables],
                                                 [v.value for v in model.non_trainable_variables], x, training=False,
                                                 return_losses=True)
        value = _mean(loss(y, y_pred))
        return float(value + sum(losses)) if losses else float(value)
    value = _mean(loss(y, model(x, training=False)))
    return float(value + sum(model.losses)) if model.losses else float(value)


def gradient_check(model: keras.Model, x, y, parameters: int = 20, epsilon: float = 1e-4, seed: int = 0) -> dict[str, Any]:
    """Central finite differences against the backend's gradients on `parameters` weights, spread
    over the layers with weights (at least one per trainable variable while they last).

    Args:
        model: a compiled single-output model (its loss is the objective; regularization losses count).
        x, y: a small batch.
        parameters: how many weights to check.
        epsilon: the step h, in float64. 1e-4 keeps the round-off in L(w+h) - L(w-h) small next to the
            gradients of a deep sigmoid net (2.5e-8 at its first layer: relative error 6e-4 at h = 1e-5,
            2e-5 at 1e-4, measured) while the truncation error stays small (at most 5.3e-7 over 20 weights of
            specs/digits_mlp.yaml, measured).
        seed: which weights are drawn.

    Returns:
        {"max_relative_error", "median_relative_error", "loss", "epsilon", "dtype",
         "checks": [{"layer", "weight", "index", "analytic", "numeric", "relative_error"}]}; dtype is
        "float32" (and epsilon at least 1e-3) only for a model Keras cannot rebuild from its config.
    """
    if parameters < 1:
        raise ValueError(f"gradient_check: argument `parameters` got {parameters!r}; allowed: an integer >= 1.")
    if not epsilon > 0:
        raise ValueError(f"gradient_check: argument `epsilon` got {epsilon!r}; allowed: a number > 0.")
    with _float64_allowed():
        return _gradient_check(model, x, y, parameters, epsilon, seed)


def _float64_allowed():
    """JAX computes in float32 unless 64-bit types are enabled: enabled for the check only."""
    import contextlib

    if keras.backend.backend() == "jax":
        import jax

        return jax.enable_x64(True)
    return contextlib.nullcontext()


def _gradient_check(model: keras.Model, x, y, parameters: int, epsilon: float, seed: int) -> dict[str, Any]:
    loss = loss_function(model)
    try:
        copy, dtype = _as_float64(model), "float64"
    except (TypeError, ValueError):  # a class Keras cannot rebuild from its config: check the model itself
        copy, dtype = model, "float32"
        epsilon = max(epsilon, 1e-3)
    to64 = (lambda a: {k: np.asarray(v, dtype) for k, v in a.items()}) if isinstance(x, dict) else (lambda a: np.asarray(a, dtype))
    x64 = to64(x)
    y64 = np.asarray(y, dtype) if np.asarray(y).dtype.kind == "f" else np.asarray(y)
    value, gradients = _loss_and_gradients(copy, loss, x64, y64)
    owner = {id(v): layer.name for layer in weighted_layers(copy) for v in layer.trainable_weights}
    variables = [(v, g) for v, g in zip(copy.trainable_variables, gradients) if g is not None]
    rng = np.random.default_rng(seed)
    picks = [(i, int(rng.integers(np.prod(v.shape)))) for i in rng.permutation(len(variables))[:parameters]
             for v in [variables[i][0]]]
    while len(picks) < parameters and variables:
        i = int(rng.integers(len(variables)))
        picks.append((i, int(rng.integers(np.prod(variables[i][0].shape)))))
    checks = []
    for i, flat in picks:
        variable, gradient = variables[i]
        original = np.asarray(keras.ops.convert_to_numpy(variable.value), dtype="float64")
        shifted = original.copy().reshape(-1)
        values = []
        for sign in (1, -1):
            shifted[flat] = original.reshape(-1)[flat] + sign * epsilon
            variable.assign(shifted.reshape(original.shape).astype(dtype))
            values.append(_loss(copy, loss, x64, y64))
        variable.assign(original.astype(dtype))
        numeric = (values[0] - values[1]) / (2 * epsilon)
        analytic = float(gradient.reshape(-1)[flat])
        # Below the round-off of the difference itself, a gradient is indistinguishable from zero (a dead
        # ReLU's is exactly 0, its finite difference ~1e-12): relative to that floor, not to itself.
        floor = 1e3 * np.finfo(dtype).eps * max(1.0, abs(value)) / epsilon
        error = abs(analytic - numeric) / max(abs(analytic), abs(numeric), floor)
        checks.append({"layer": owner.get(id(variable), variable.path), "weight": variable.path,
                       "index": int(flat), "analytic": analytic, "numeric": numeric, "relative_error": error})
    errors = [c["relative_error"] for c in checks]
    return {"max_relative_error": max(errors), "median_relative_error": float(np.median(errors)), "loss": value,
            "epsilon": epsilon, "dtype": dtype, "checks": checks}
