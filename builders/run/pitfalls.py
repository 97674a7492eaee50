"""Warnings (not errors) for the known Keras pitfalls a valid spec can still express."""

from __future__ import annotations

from typing import Any, Iterator

from zoo.builders.spec.document import Spec

__all__ = ["pitfalls"]

_SATURATING = {"sigmoid", "tanh", "hard_sigmoid"}
_REGRESSION_LOSSES = {"mse", "mae", "mean_squared_error", "mean_absolute_error", "huber", "MeanSquaredError", "MeanAbsoluteError", "Huber", "log_cosh"}
_BINARY_LOSSES = {"binary_crossentropy", "BinaryCrossentropy", "binary_focal_crossentropy"}


def _name(component: Any) -> str | None:
    if isinstance(component, str):
        return component
    if isinstance(component, dict) and len(component) == 1:
        return next(iter(component))
    return None


def _chain_layers(items: list, path: tuple) -> Iterator[tuple[tuple, str, dict]]:
    """(path, class name, arguments) of every layer in a `layers` chain, blocks expanded once."""
    for index, item in enumerate(items or []):
        item_path = path + (index,)
        if isinstance(item, dict) and "repeat" in item:
            for _ in range(item["repeat"]):
                yield from _chain_layers(item.get("layers"), item_path + ("layers",))
        elif isinstance(item, dict) and "residual" in item:
            yield from _chain_layers(item.get("residual"), item_path + ("residual",))
        elif _name(item):
            arguments = item[_name(item)] if isinstance(item, dict) else {}
            yield item_path, _name(item), dict(arguments or {})


def pitfalls(spec: Spec) -> list[str]:
    """Readable warnings, each with the position it concerns."""
    spec = spec.resolved()
    found: list[str] = []

    def warn(path: tuple, message: str) -> None:
        found.append(f"{spec.where(path)}: warning: {message}")

    model = spec.section("model")
    defaults = model.get("defaults") or {}
    # `layers` of a zoo architecture is a count, not a chain.
    layers = [] if "zoo" in model else list(_chain_layers(model.get("layers"), ("model", "layers")))
    effective = []
    for path, name, arguments in layers:
        merged = {**{k: v for k, v in defaults.items() if k not in ("batch_norm", "dropout")}, **arguments}
        effective.append((path, name, merged, arguments.get("dropout", defaults.get("dropout"))))
    for position, (path, name, arguments, dropout) in enumerate(effective):
        activation = _name(arguments.get("activation"))
        initializer = _name(arguments.get("kernel_initializer"))
        if activation == "selu" and name in ("Dense", "Conv1D", "Conv2D", "Conv3D"):
            if initializer not in ("lecun_normal", "LecunNormal"):
                warn(path, f"selu self-normalizes only with lecun_normal initialization; this {name} uses {initializer or 'glorot_uniform'}.")
            if dropout and position != len(effective) - 1:
                warn(path, "selu with plain Dropout breaks self-normalization; use AlphaDropout layers instead of the dropout sugar.")
    saturating = [e for e in effective if _name(e[2].get("activation")) in _SATURATING and str(_name(e[2].get("kernel_initializer")) or "").lower().startswith("he")]
    if len(saturating) >= 4:
        warn(saturating[0][0], f"{len(saturating)} sigmoid/tanh layers with He initialization: He init is for ReLU-like units; use glorot_uniform / glorot_normal.")
    if effective and model.get("head") != "auto":
        path, name, arguments, _ = effective[-1]
        if name in ("Dropout", "AlphaDropout", "GaussianDropout"):
            warn(path, "the model ends with a dropout layer: the output is randomly zeroed while training.")
        elif "dropout" in (spec.get(*path, name) or {}) and name not in ("LSTM", "GRU", "SimpleRNN", "MultiHeadAttention"):
            warn(path, "dropout on the output layer randomly zeroes predictions while training.")
        loss = _name(spec.get("train", "loss"))
        if _name(arguments.get("activation")) == "softmax" and loss in _BINARY_LOSSES | _REGRESSION_LOSSES:
            warn(("train", "loss"), f"a softmax output with {loss}: use sigmoid for binary cross-entropy, or a linear output for regression.")
    _early_stopping_pitfall(spec, warn)
    return found


def _early_stopping_pitfall(spec: Spec, warn) -> None:
    patience: dict[str, dict[str, tuple]] = {}
    for index, callback in enumerate(spec.tree["train"]["callbacks"]):
        name = _name(callback)
        if name in ("ReduceLROnPlateau", "EarlyStopping") and isinstance(callback, dict):
            arguments = callback[name] or {}
            defaults = {"ReduceLROnPlateau": 10, "EarlyStopping": 0}
            monitor = arguments.get("monitor", "val_loss")
            patience.setdefault(monitor, {})[name] = (arguments.get("patience", defaults[name]), index)
    for monitor, found in patience.items():
        if "ReduceLROnPlateau" in found and "EarlyStopping" in found:
            reduce, index = found["ReduceLROnPlateau"]
            stop, _ = found["EarlyStopping"]
            if reduce >= stop:
                warn(("train", "callbacks", index), f"ReduceLROnPlateau patience {reduce} is not below EarlyStopping patience {stop} on {monitor}: training stops before the learning rate is ever reduced.")
