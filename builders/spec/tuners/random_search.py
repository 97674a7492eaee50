"""`tune.tuner: RandomSearch`: KerasTuner's random search, the default; bounded by `max_trials` or `max_time`."""

from __future__ import annotations

import keras_tuner

from zoo.builders.spec.tuners import TunerKind, builtin

KIND = builtin(TunerKind("RandomSearch", keras_tuner.RandomSearch))
