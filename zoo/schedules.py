"""Learning-rate schedules Keras 3 does not ship, as `LearningRateSchedule` subclasses.

Every schedule is a function of the optimizer's step (iteration) count;
epochs are expressed in steps through `steps_per_epoch`.

    >>> from zoo.schedules import OneCycle
    >>> optimizer = keras.optimizers.SGD(OneCycle(max_learning_rate=0.1, total_steps=1000))

In a spec: `learning_rate: {OneCycle: {max_learning_rate: 0.1, total_steps: 1000}}`.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from zoo import _checks

__all__ = ["StepDecay", "TriangularCyclical", "OneCycle", "WarmUp"]

register = keras.saving.register_keras_serializable(package="zoo")
Schedule = keras.optimizers.schedules.LearningRateSchedule


@register
class StepDecay(Schedule):
    """Drops the rate by `factor` every `every` epochs: lr = initial · factor^⌊step / (every · steps_per_epoch)⌋.

    Args:
        initial_learning_rate: the rate of the first epochs, > 0.
        factor: multiplier at each drop, in (0, 1].
        every: epochs between drops, >= 1.
        steps_per_epoch: optimizer steps in one epoch (1 makes `every` a step count).

    Example:
        >>> StepDecay(0.1, factor=0.5, every=10, steps_per_epoch=100)(2500)  # 0.1 * 0.5**2
    """

    def __init__(self, initial_learning_rate, factor=0.5, every=10, steps_per_epoch=1):
        self.initial_learning_rate = _checks.positive("StepDecay", "initial_learning_rate", initial_learning_rate)
        self.factor = _checks.positive("StepDecay", "factor", factor)
        if self.factor > 1:
            raise ValueError(f"StepDecay: argument `factor` got {factor!r}; allowed: a number in (0, 1].")
        self.every = _checks.positive_int("StepDecay", "every", every)
        self.steps_per_epoch = _checks.positive_int("StepDecay", "steps_per_epoch", steps_per_epoch)

    def __call__(self, step):
        drops = ops.floor(ops.cast(step, "float32") / float(self.every * self.steps_per_epoch))
        return self.initial_learning_rate * ops.power(self.factor, drops)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "factor": self.factor, "every": self.every, "steps_per_epoch": self.steps_per_epoch}


@register
class TriangularCyclical(Schedule):
    """Cyclical learning rates (Smith, 2015/2017): a triangle wave between two rates.

    The rate climbs linearly from `base_learning_rate` to `max_learning_rate`
    over `step_size` steps and back down over the next `step_size`. Modes:
    "triangular" (same amplitude every cycle), "triangular2" (amplitude halves
    each cycle), "exp_range" (amplitude times gamma^step).

    Args:
        base_learning_rate, max_learning_rate: the bounds, 0 < base < max.
        step_size: steps in half a cycle (Smith suggests 2 to 10 epochs).
        mode: "triangular", "triangular2" or "exp_range".
        gamma: decay of "exp_range", in (0, 1].

    Example:
        >>> TriangularCyclical(1e-4, 1e-2, step_size=200)
    """

    MODES = ("triangular", "triangular2", "exp_range")

    def __init__(self, base_learning_rate, max_learning_rate, step_size=2000, mode="triangular", gamma=1.0):
        self.base_learning_rate = _checks.positive("TriangularCyclical", "base_learning_rate", base_learning_rate)
        self.max_learning_rate = _checks.positive("TriangularCyclical", "max_learning_rate", max_learning_rate)
        if self.max_learning_rate <= self.base_learning_rate:
            raise ValueError(
                f"TriangularCyclical: argument `max_learning_rate` got {max_learning_rate!r}; "
                f"allowed: a number above base_learning_rate ({base_learning_rate!r})."
            )
        self.step_size = _checks.positive_int("TriangularCyclical", "step_size", step_size)
        self.mode = _checks.one_of("TriangularCyclical", "mode", mode, self.MODES)
        self.gamma = _checks.positive("TriangularCyclical", "gamma", gamma)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        cycle = ops.floor(1.0 + step / (2.0 * self.step_size))
        x = ops.abs(step / self.step_size - 2.0 * cycle + 1.0)
        amplitude = (self.max_learning_rate - self.base_learning_rate) * ops.maximum(0.0, 1.0 - x)
        if self.mode == "triangular2":
            amplitude = amplitude / ops.power(2.0, cycle - 1.0)
        elif self.mode == "exp_range":
            amplitude = amplitude * ops.power(self.gamma, step)
        return self.base_learning_rate + amplitude

    def get_config(self):
        return {
            "base_learning_rate": self.base_learning_rate,
            "max_learning_rate": self.max_learning_rate,
            "step_size": self.step_size,
            "mode": self.mode,
            "gamma": self.gamma,
        }


@register
class OneCycle(Schedule):
    """The one-cycle policy (Smith, 2018): warm up to a high rate, then anneal far below the start.

    From max/div_factor the rate rises to `max_learning_rate` over the first
    `pct_start` of `total_steps`, then falls (cosine or linear) to
    max/(div_factor·final_div_factor) at `total_steps`, and stays there.

    Args:
        max_learning_rate: the peak, > 0.
        total_steps: the length of the cycle in steps (epochs × steps per epoch).
        pct_start: fraction of the cycle spent rising, in (0, 1).
        div_factor: start rate = max / div_factor.
        final_div_factor: end rate = start rate / final_div_factor.
        anneal: "cos" or "linear".

    Example:
        >>> OneCycle(0.1, total_steps=20 * 100)
    """

    def __init__(self, max_learning_rate, total_steps, pct_start=0.3, div_factor=25.0, final_div_factor=1e4, anneal="cos"):
        self.max_learning_rate = _checks.positive("OneCycle", "max_learning_rate", max_learning_rate)
        self.total_steps = _checks.int_at_least("OneCycle", "total_steps", total_steps, 2)
        self.pct_start = _checks.positive("OneCycle", "pct_start", pct_start)
        if self.pct_start >= 1:
            raise ValueError(f"OneCycle: argument `pct_start` got {pct_start!r}; allowed: a number in (0, 1).")
        self.div_factor = _checks.positive("OneCycle", "div_factor", div_factor)
        self.final_div_factor = _checks.positive("OneCycle", "final_div_factor", final_div_factor)
        self.anneal = _checks.one_of("OneCycle", "anneal", anneal, ("cos", "linear"))

    def _interpolate(self, start, end, fraction):
        if self.anneal == "cos":
            return end + (start - end) * (1.0 + ops.cos(math.pi * fraction)) / 2.0
        return start + (end - start) * fraction

    def __call__(self, step):
        step = ops.cast(step, "float32")
        initial = self.max_learning_rate / self.div_factor
        final = initial / self.final_div_factor
        peak = max(1.0, float(round(self.pct_start * self.total_steps)))
        rising = self._interpolate(initial, self.max_learning_rate, ops.clip(step / peak, 0.0, 1.0))
        falling = self._interpolate(self.max_learning_rate, final, ops.clip((step - peak) / max(1.0, self.total_steps - peak), 0.0, 1.0))
        return ops.where(step < peak, rising, falling)

    def get_config(self):
        return {
            "max_learning_rate": self.max_learning_rate,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
            "anneal": self.anneal,
        }


@register
class WarmUp(Schedule):
    """Linear warm-up in front of any schedule (or constant rate).

    For step < warmup_steps the rate rises linearly from `initial_learning_rate`
    to the wrapped schedule's value at step 0; afterwards it is the wrapped
    schedule at (step − warmup_steps), so the schedule starts where warm-up ends.

    Args:
        schedule: a `LearningRateSchedule` or a float.
        warmup_steps: length of the warm-up, >= 1.
        initial_learning_rate: rate at step 0 (default 0).

    Example:
        >>> WarmUp(keras.optimizers.schedules.CosineDecay(1e-3, 10_000), warmup_steps=500)
    """

    def __init__(self, schedule, warmup_steps, initial_learning_rate=0.0):
        if isinstance(schedule, dict):
            schedule = keras.optimizers.schedules.deserialize(schedule)
        if not isinstance(schedule, Schedule):
            schedule = _checks.positive("WarmUp", "schedule", schedule)
        self.schedule = schedule
        self.warmup_steps = _checks.positive_int("WarmUp", "warmup_steps", warmup_steps)
        self.initial_learning_rate = _checks.non_negative("WarmUp", "initial_learning_rate", initial_learning_rate)

    def _after(self, step):
        if isinstance(self.schedule, Schedule):
            return ops.cast(self.schedule(step), "float32")
        return ops.cast(self.schedule, "float32")

    def __call__(self, step):
        step = ops.cast(step, "float32")
        target = self._after(ops.zeros_like(step))
        warm = self.initial_learning_rate + (target - self.initial_learning_rate) * step / float(self.warmup_steps)
        after = self._after(ops.maximum(step - self.warmup_steps, 0.0))
        return ops.where(step < self.warmup_steps, warm, after)

    def get_config(self):
        schedule = self.schedule
        if isinstance(schedule, Schedule):
            schedule = keras.optimizers.schedules.serialize(schedule)
        return {"schedule": schedule, "warmup_steps": self.warmup_steps, "initial_learning_rate": self.initial_learning_rate}
