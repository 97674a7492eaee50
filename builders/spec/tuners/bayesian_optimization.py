"""`tune.tuner: BayesianOptimization`: a Gaussian-process model of the objective picks each next trial after
`num_initial_points` random ones; bounded by `max_trials` or `max_time`."""

from __future__ import annotations

import keras_tuner

from zoo.builders.spec.tuners import TunerKind, builtin

KIND = builtin(TunerKind("BayesianOptimization", keras_tuner.BayesianOptimization))
