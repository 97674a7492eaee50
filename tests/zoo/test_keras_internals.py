"""zoo/_keras.py is the one place that touches Keras's private attributes: if Keras moves one, this fails, and
no other module of the project may touch them."""

from __future__ import annotations

import re

import keras
import numpy as np

from tests.conftest import ROOT
from zoo import _keras


def _instances() -> dict:
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(3, name="hidden")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(hidden))
    model.compile(keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)), "mse")
    model.fit(np.zeros((8, 4)), np.zeros((8, 2)), epochs=1, verbose=0)
    return {"model": model, "layer": model.get_layer("hidden"), "optimizer": model.optimizer}


def test_every_keras_internal_we_rely_on_exists():
    instances = _instances()
    for holder, attribute in _keras.INTERNALS:
        assert hasattr(instances[holder], attribute), f"Keras {keras.__version__} has no {holder}.{attribute}"


def test_the_accessors_read_what_keras_holds():
    instances = _instances()
    model, layer, optimizer = instances["model"], instances["layer"], instances["optimizer"]
    _keras.set_restored_epoch(model, 3)
    assert _keras.restored_epoch(model) == 3
    _keras.set_restored_epoch(model, None)
    assert [node.input_tensors[0] is model.inputs[0] for node in _keras.inbound_nodes(layer)] == [True]
    assert [l.name for l in _keras.all_layers(model)][-2:] == ["hidden", "out"]
    assert {id(v) for v in _keras.built_variables(optimizer)} == {id(v) for v in model.trainable_variables}
    assert isinstance(_keras.learning_rate_object(optimizer), keras.optimizers.schedules.ExponentialDecay)


def test_no_other_module_touches_them():
    names = "|".join(re.escape(attribute) for _, attribute in _keras.INTERNALS)
    pattern = re.compile(rf"\.({names})\b|[\"']({names})[\"']")
    found = []
    for folder in ("zoo", "callbacks", "builders", "scripts", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name in ("_keras.py", "test_keras_internals.py"):
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line) and not re.search(rf"self\.({names})\b", line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "Keras internals outside zoo/_keras.py:\n" + "\n".join(found)


def test_without_weights_counts_without_allocating_and_leaves_keras_as_it_was():
    from keras.src.backend.common import global_state

    for name in _keras.GLOBAL_STATE:  # Keras still keeps these in its global state
        global_state.get_global_attribute(name)
    keras.backend.clear_session()
    keras.layers.Dense(2)  # "dense"
    with _keras.without_weights():
        inputs = keras.Input((100_000,))
        huge = keras.Model(inputs, keras.layers.Dense(1_000_000)(inputs))  # 400 GB of float32 weights, never made
        assert sum(int(np.prod(v.shape)) for v in huge.weights) == 100_001_000_000
    assert not global_state.get_global_attribute("uninitialized_variables")
    assert keras.layers.Dense(2).name == "dense_1"  # the counters as if the block had not run
