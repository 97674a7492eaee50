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
- Keras's global state `object_name_uids` (the counters behind automatic layer names) and
  `uninitialized_variables` (variables a `StatelessScope` left for later): `without_weights`
  builds a model whose weights are never made, and leaves both as they were.
"""

from __future__ import annotations

import collections
import contextlib
import copy
from typing import Any, Iterator

import keras

# (what holds it, attribute): every private attribute this module touches, on instances made by `_instances`
INTERNALS = (
    ("model", "_initial_epoch"),
    ("layer", "_inbound_nodes"),
    ("model", "_flatten_layers"),
    ("optimizer", "_trainable_variables"),
    ("optimizer", "_learning_rate"),
)
GLOBAL_STATE = ("object_name_uids", "uninitialized_variables")  # keras.src.backend.common.global_state names


@contextlib.contextmanager
def without_weights() -> Iterator[None]:
    """Build Keras layers and models whose variables are never allocated (Keras's `StatelessScope`
    without initialization), to count their parameters: on exit the variables made are forgotten
    (never initialized later) and the layer-name counters are as they were, so the next real build
    names its layers as if this one had not happened. Use nothing built inside after the block."""
    from keras.src.backend.common import global_state

    uids = global_state.get_global_attribute("object_name_uids")
    names = copy.copy(uids) if uids is not None else collections.defaultdict(int)
    pending = list(global_state.get_global_attribute("uninitialized_variables") or [])
    try:
        with keras.StatelessScope(initialize_variables=False):
            yield
    finally:
        global_state.set_global_attribute("uninitialized_variables", pending)
        global_state.set_global_attribute("object_name_uids", names)


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
