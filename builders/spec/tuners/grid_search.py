"""`tune.tuner: GridSearch`: every point of the space in order (a Float without a step contributes ten evenly
spread values, as KerasTuner samples it); `zoo tune` prints the grid's size before it starts."""

from __future__ import annotations

import keras_tuner

from zoo.builders.spec.tuners import TunerKind, builtin

KIND = builtin(TunerKind("GridSearch", keras_tuner.GridSearch))
