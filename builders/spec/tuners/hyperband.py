"""`tune.tuner: {Hyperband: {max_epochs: N, factor: F}}`: successive halving over brackets; it sets its own
number of trials, so `max_trials` is refused (`max_time` bounds it)."""

from __future__ import annotations

import keras_tuner

from zoo.builders.spec.document import Spec
from zoo.builders.spec.tuners import TunerKind, builtin


def check(spec: Spec, section: dict, path: tuple) -> None:
    if section.get("max_trials") is not None:
        given = (spec.tree.get("tune") or {})
        where = ("tune", "max_trials") if "max_trials" in given else path + ("max_trials",)
        raise spec.error(where, "Hyperband sets its own number of trials from max_epochs, factor and "
                         "hyperband_iterations; use max_time to bound it.")


KIND = builtin(TunerKind("Hyperband", keras_tuner.Hyperband, check))
