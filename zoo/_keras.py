"""The one place that reads or writes Keras's private attributes.

Each is a dependency on the Keras version, as `zoo/builders/search/_keras_tuner.py` is for KerasTuner's:
kept here, listed in INTERNALS, and checked by tests/zoo/test_keras_internals.py, which fails when
a Keras release moves one. Tested with Keras 3.3 to 3.15.

- `Trainer._initial_epoch`: how Keras's own `BackupAndRestore` tells `fit` the epoch it restored;
  our backup sets it the same way, and a batch-size schedule reads and clears it.
- `Operation._inbound_nodes`: which tensors feed a layer, to tell a plain chain from a graph.
- `Layer._flatten_layers`: every nested layer, inside nested models too.
- `BaseOptimizer._trainable_variables`: the variables an optimizer was built for, when `apply`
  is given gradients alone.
- `BaseOptimizer._learning_rate`: the schedule object itself (`optimizer.learning_rate` is its
  value at the current step).
"""

from __future__ import annotations

from typing import Any

import keras

# (what holds it, attribute): every private attribute this module touches, on instances made by `_instances`
INTERNALS = (
    ("model", "_initial_epoch"),
    ("layer", "_inbound_nodes"),
    ("model", "_flatten_layers"),
    ("optimizer", "_trainable_variables"),
    ("optimizer", "_learning_rate"),
)


def restored_epoch(model: keras.Model) -> int | None:
    """The epoch a backup restored for the next `fit` to start at, or None."""
    return model._initial_epoch


def set_restored_epoch(model: keras.Model, epoch: int | None) -> None:
    """Tell the next `fit` to start at `epoch` (as Keras's `BackupAndRestore` does), or clear it with None."""
    model._initial_epoch = epoch


def inbound_nodes(layer: keras.layers.Layer) -> list:
    """The nodes at which `layer` was called, each with its `input_tensors` and `output_tensors`."""
    return list(layer._inbound_nodes)


def all_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every layer of `model`, nested models' layers included, the model itself left out."""
    return list(model._flatten_layers(include_self=False, recursive=True))


def built_variables(optimizer: keras.optimizers.Optimizer) -> list:
    """The trainable variables `optimizer` was built for."""
    return list(optimizer._trainable_variables)


def learning_rate_object(optimizer: keras.optimizers.Optimizer) -> Any:
    """What the optimizer was given as its learning rate: a schedule object, or the variable holding a float."""
    return optimizer._learning_rate
