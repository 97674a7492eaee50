"""Optimizers Keras 3 does not ship, as `keras.optimizers.Optimizer` subclasses.

Each implements `update_step`, so Keras's own machinery keeps working around
it: `clipnorm` / `clipvalue` / `global_clipnorm`, learning-rate schedules,
`use_ema`, `weight_decay`, loss scaling and gradient accumulation.

    >>> from zoo.optimizers import Yogi
    >>> model.compile(optimizer=Yogi(learning_rate=1e-2), loss="mse")

Every optimizer here also takes `layer_clipnorm`, a clip norm per layer name
pattern (see `LayerwiseClipping`); `LayerwiseSGD`, `LayerwiseAdam`,
`LayerwiseAdamW` and `LayerwiseRMSprop` add it to Keras's own.
"""

from __future__ import annotations

import fnmatch

import keras
from keras import ops

from zoo import _checks
from zoo._keras import built_variables

__all__ = [
    "Yogi",
    "AdaMod",
    "Backstitch",
    "LayerwiseClipping",
    "LayerwiseSGD",
    "LayerwiseAdam",
    "LayerwiseAdamW",
    "LayerwiseRMSprop",
    "backstitch_batches",
    "clip_by_layer",
]

register = keras.saving.register_keras_serializable(package="zoo")


def _layer_of(variable) -> str:
    """The layer part of a variable's path: "block/dense_1/kernel" -> "block/dense_1"."""
    path = getattr(variable, "path", None) or variable.name
    return path.rsplit("/", 1)[0] if "/" in path else path


def _matches(layer: str, pattern: str) -> bool:
    """Whether `pattern` matches the layer path or a tail of it ("head" matches "sequential/head")."""
    parts = layer.split("/")
    return any(fnmatch.fnmatchcase("/".join(parts[i:]), pattern) for i in range(len(parts)))


def clip_by_layer(grads, variables, clipnorms: dict[str, float], scale=None):
    """Rescale each layer's gradients so their joint norm is at most that layer's clip norm.

    Args:
        grads: gradients, aligned with `variables` (None entries are kept).
        variables: the variables they belong to.
        clipnorms: `{pattern: norm}`; a layer takes the norm of the first
            `fnmatch` pattern that matches its path or a tail of it (e.g. "head"
            matches "sequential/head"; "dense_*", "*"); a layer that matches
            none is not clipped.
        scale: a loss-scale factor the gradients still carry (the norms are scaled by it).
    """
    groups: dict[str, list[int]] = {}
    for index, (grad, variable) in enumerate(zip(grads, variables)):
        if grad is not None:
            groups.setdefault(_layer_of(variable), []).append(index)
    grads = list(grads)
    for layer, indices in groups.items():
        limit = next((norm for pattern, norm in clipnorms.items() if _matches(layer, pattern)), None)
        if limit is None:
            continue
        if scale is not None:
            limit = limit * scale
        norm = ops.sqrt(sum(ops.sum(ops.square(ops.cast(grads[i], "float32"))) for i in indices))
        factor = ops.minimum(1.0, limit / ops.maximum(norm, 1e-12))
        for i in indices:
            grads[i] = grads[i] * ops.cast(factor, grads[i].dtype)
    return grads


class LayerwiseClipping:
    """Mixin: clips each layer's gradients to its own norm before the update.

    `layer_clipnorm={"head": 5.0, "*": 1.0}` clips the gradients of the layer
    named "head" (all its variables together) to norm 5 and every other layer
    to norm 1: a wider range for the output layer than the hidden ones.
    Patterns are `fnmatch` patterns over the layer part of `variable.path`
    or a tail of it ("head" matches "sequential/head", "block/dense_*" a
    layer inside a nested block); the first matching pattern wins.
    It runs inside the compiled train step on every backend, before Keras's
    own `clipnorm` / `global_clipnorm`.
    """

    def __init__(self, *args, layer_clipnorm=None, **kwargs):
        super().__init__(*args, **kwargs)
        owner = type(self).__name__
        if layer_clipnorm is not None and not isinstance(layer_clipnorm, dict):
            raise ValueError(f"{owner}: argument `layer_clipnorm` got {layer_clipnorm!r}; allowed: a mapping {{layer pattern: clip norm}}.")
        self.layer_clipnorm = {str(k): _checks.positive(owner, f"layer_clipnorm[{k!r}]", v) for k, v in (layer_clipnorm or {}).items()}

    def apply(self, grads, trainable_variables=None):
        if self.layer_clipnorm:
            variables = list(trainable_variables) if trainable_variables is not None else built_variables(self)
            grads = clip_by_layer(grads, variables, self.layer_clipnorm, self.loss_scale_factor)
        return super().apply(grads, trainable_variables)

    def get_config(self):
        return {**super().get_config(), "layer_clipnorm": dict(self.layer_clipnorm) or None}


@register
class Yogi(LayerwiseClipping, keras.optimizers.Optimizer):
    """Yogi (Zaheer et al., NeurIPS 2018): Adam with an additive, sign-controlled second moment.

    m ← β1·m + (1 − β1)·g
    v ← v − (1 − β2)·sign(v − g²)·g²
    θ ← θ − lr·√(1 − β2ᵗ)/(1 − β1ᵗ) · m / (√v + ε)

    v changes by at most (1 − β2)·g² per step and only towards g², so the
    effective rate cannot jump up when gradients become rare, the failure of
    Adam the paper addresses. The bias correction is Adam's.

    Args:
        learning_rate: a float or a schedule (default 0.01, the paper's).
        beta_1, beta_2: moment decay rates.
        epsilon: added to √v (the paper uses 1e-3).
        initial_accumulator_value: starting value of v.
        layer_clipnorm: see `LayerwiseClipping`.
        **kwargs: Keras's optimizer arguments (clipnorm, weight_decay, use_ema, ...).

    Example:
        >>> model.compile(optimizer=Yogi(1e-2), loss="sparse_categorical_crossentropy")
    """

    def __init__(
        self,
        learning_rate=0.01,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-3,
        initial_accumulator_value=1e-6,
        name="yogi",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = _checks.rate("Yogi", "beta_1", beta_1)
        self.beta_2 = _checks.rate("Yogi", "beta_2", beta_2)
        self.epsilon = _checks.positive("Yogi", "epsilon", epsilon)
        self.initial_accumulator_value = _checks.non_negative("Yogi", "initial_accumulator_value", initial_accumulator_value)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums = self.add_optimizer_variables(var_list, "momentum")
        self._velocities = self.add_optimizer_variables(
            var_list, "velocity", initializer=keras.initializers.Constant(self.initial_accumulator_value)
        )

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        g = ops.cast(gradient, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        g2 = ops.square(g)
        self.assign_add(m, (g - m) * (1 - self.beta_1))
        self.assign_sub(v, (1 - self.beta_2) * ops.sign(v - g2) * g2)
        alpha = lr * ops.sqrt(1 - ops.power(self.beta_2, step)) / (1 - ops.power(self.beta_1, step))
        self.assign_sub(variable, alpha * m / (ops.sqrt(v) + self.epsilon))

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "initial_accumulator_value": self.initial_accumulator_value,
        }


@register
class AdaMod(LayerwiseClipping, keras.optimizers.Optimizer):
    """AdaMod (Ding et al., 2019): Adam whose per-weight step sizes are capped by their own running mean.

    η ← lr·√(1 − β2ᵗ)/(1 − β1ᵗ) / (√v + ε)   (Adam's step size, m and v as in Adam)
    s ← β3·s + (1 − β3)·η
    θ ← θ − min(η, s)·m

    The cap removes Adam's occasional huge steps early in training, so it
    needs less warm-up; β3 sets the memory of the cap (0.999: about 1000 steps).

    Args:
        learning_rate: a float or a schedule.
        beta_1, beta_2: Adam's moment decay rates.
        beta_3: decay rate of the step-size average.
        epsilon: added to √v.
        layer_clipnorm: see `LayerwiseClipping`.
        **kwargs: Keras's optimizer arguments.

    Example:
        >>> model.compile(optimizer=AdaMod(1e-3, beta_3=0.999), loss="mse")
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, beta_3=0.999, epsilon=1e-8, name="adamod", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = _checks.rate("AdaMod", "beta_1", beta_1)
        self.beta_2 = _checks.rate("AdaMod", "beta_2", beta_2)
        self.beta_3 = _checks.rate("AdaMod", "beta_3", beta_3)
        self.epsilon = _checks.positive("AdaMod", "epsilon", epsilon)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities, self._step_sizes = self.add_optimizer_variables(
            var_list, ["momentum", "velocity", "step_size"]
        )

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        g = ops.cast(gradient, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        index = self._get_variable_index(variable)
        m, v, s = self._momentums[index], self._velocities[index], self._step_sizes[index]
        self.assign_add(m, (g - m) * (1 - self.beta_1))
        self.assign_add(v, (ops.square(g) - v) * (1 - self.beta_2))
        alpha = lr * ops.sqrt(1 - ops.power(self.beta_2, step)) / (1 - ops.power(self.beta_1, step))
        eta = alpha / (ops.sqrt(v) + self.epsilon)
        self.assign_add(s, (eta - s) * (1 - self.beta_3))
        self.assign_sub(variable, ops.minimum(eta, s) * m)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "beta_3": self.beta_3, "epsilon": self.epsilon}


@register
class Backstitch(LayerwiseClipping, keras.optimizers.Optimizer):
    """Backstitch SGD (Wang et al., 2017): a step back, then a bigger step forward, on one minibatch.

    For each minibatch B: θ' = θ + α·lr·∇L_B(θ), then θ'' = θ' − (1 + α)·lr·∇L_B(θ').

    How the second gradient is obtained: Keras computes one gradient per
    train step, so this optimizer alternates. On even iterations it applies
    the backward step (+α·lr·g), on odd iterations the forward step
    (−(1 + α)·lr·g). The input must therefore present each minibatch twice in
    a row, so that the odd step's gradient is ∇L_B at θ', on the same B:
    `backstitch_batches(dataset)` does that for a PyDataset or a tf.data pipeline, and
    `zoo train` applies it by itself when a spec names Backstitch. With it,
    one epoch is twice as many optimizer iterations (a schedule counts both),
    and the epoch's training metrics average both passes.

    Args:
        learning_rate: a float or a schedule.
        alpha: the backstitch scale, >= 0 (the paper uses 0.3 and applies
            backstitch every n-th minibatch; here every minibatch).
        layer_clipnorm: see `LayerwiseClipping`.
        **kwargs: Keras's optimizer arguments.

    Example:
        >>> model.compile(optimizer=Backstitch(0.05, alpha=0.3), loss="mse")
        >>> model.fit(backstitch_batches(train_dataset), epochs=5)
    """

    def __init__(self, learning_rate=0.01, alpha=0.3, name="backstitch", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.alpha = _checks.non_negative("Backstitch", "alpha", alpha)

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        g = ops.cast(gradient, variable.dtype)
        backward = ops.equal(ops.mod(self.iterations, 2), 0)
        scale = ops.where(backward, -self.alpha, 1.0 + self.alpha)
        self.assign_sub(variable, ops.cast(scale, variable.dtype) * lr * g)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


def backstitch_batches(dataset):
    """Batches (a `keras.utils.PyDataset` or a batched tf.data dataset) with each one twice in a row, for `Backstitch`."""
    from zoo.batches import repeat_each

    return repeat_each(dataset, 2)


@register
class LayerwiseSGD(LayerwiseClipping, keras.optimizers.SGD):
    """`keras.optimizers.SGD` with `layer_clipnorm` (see `LayerwiseClipping`).

    Example:
        >>> LayerwiseSGD(0.1, momentum=0.9, layer_clipnorm={"head": 5.0, "*": 1.0})
    """


@register
class LayerwiseAdam(LayerwiseClipping, keras.optimizers.Adam):
    """`keras.optimizers.Adam` with `layer_clipnorm` (see `LayerwiseClipping`).

    Example:
        >>> LayerwiseAdam(1e-3, layer_clipnorm={"head": 5.0, "*": 1.0})
    """


@register
class LayerwiseAdamW(LayerwiseClipping, keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` with `layer_clipnorm` (see `LayerwiseClipping`).

    Example:
        >>> LayerwiseAdamW(1e-3, weight_decay=1e-4, layer_clipnorm={"*": 1.0})
    """


@register
class LayerwiseRMSprop(LayerwiseClipping, keras.optimizers.RMSprop):
    """`keras.optimizers.RMSprop` with `layer_clipnorm` (see `LayerwiseClipping`).

    Example:
        >>> LayerwiseRMSprop(1e-3, layer_clipnorm={"head": 5.0, "*": 1.0})
    """
