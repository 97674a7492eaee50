"""Property: a mutated spec is either a SpecError or, once `validate` says ok, it builds and trains.

The mutations reach per-layer sugar inside a chain, a repeat and a residual block,
`defaults`, a zoo architecture's arguments and every section; the values include
NaN, infinities, integer-valued floats, wrong types and names that resolve to nothing.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import keras
import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoo.builders.run.plan import build_plan, validate
from zoo.builders.spec.document import load_spec
from zoo.builders.spec.errors import SpecError

_FOLDER = Path(tempfile.mkdtemp(prefix="zoo-mutations-"))
_rng = np.random.default_rng(0)
np.savez(_FOLDER / "rows.npz", x=_rng.normal(size=(48, 5)).astype("float32"), y=_rng.integers(0, 3, size=48))

_CHAIN = {
    "version": 1, "name": "mutant", "seed": 3,
    "data": {"source": {"npz": str(_FOLDER / "rows.npz")}, "validation_split": 0.25, "batch_size": 16, "normalize": True},
    "model": {
        "defaults": {"activation": "relu", "kernel_initializer": "he_normal", "batch_norm": "after_activation", "dropout": 0.1},
        "layers": [
            {"Dense": {"units": 8, "dropout": 0.2, "batch_norm": "before_activation"}},
            {"repeat": 2, "layers": [{"Dense": {"units": 6, "batch_norm": "none"}}]},
            {"residual": [{"Dense": {"units": 6, "dropout": 0.1}}]},
            {"Dense": {"units": 3, "activation": "softmax"}},
        ],
    },
    "train": {"optimizer": {"Adam": {"learning_rate": 0.01}}, "epochs": 1, "metrics": ["accuracy"],
              "callbacks": [{"EarlyStopping": {"monitor": "val_loss", "patience": 2}}]},
    "runtime": {"precision": "float32", "deterministic": False},
    "output": {"tensorboard": False, "plots": False},
}
_ZOO = {**copy.deepcopy(_CHAIN), "model": {"zoo": "mlp", "depth": 2, "units": 8, "batch_norm": True, "dropout": 0.1,
                                             "activation": "relu"}}

_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 40), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([2.0, 0.5, 1.5, -0.1, "", "none", "sometimes", "before_activation", "relu", "Dense", "he_normal",
                     "..", "a/b", [], [1], {}, {"hp": "Int", "min_value": 1, "max_value": 4},
                     {"hp": "Float", "min_value": 0.0, "max_value": 1.0}, {"Dense": {"units": 2}}, {"MaxNorm": {"max_value": -1}},
                     {"repeat": 2, "layers": []}, {"residual": [{"Dense": {"units": 3}}]}]),
    st.text(max_size=6),
)


def _paths(tree, path=()):
    yield path
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _paths(value, path + (key,))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from _paths(value, path + (index,))


_ALL = [("chain", p) for p in _paths(_CHAIN) if p] + [("zoo", p) for p in _paths(_ZOO) if p and p[0] == "model"]


def _mutate(tree: dict, path: tuple, value, action: str) -> None:
    node = tree
    try:
        for key in path[:-1]:
            node = node[key]
        if action == "set":
            node[path[-1]] = value
        elif action == "delete":
            del node[path[-1]]
        elif isinstance(node, dict) and path[-1] in node:
            node[str(path[-1]) + "x"] = node.pop(path[-1])
    except (KeyError, IndexError, TypeError):
        pass


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["chain", "zoo"]),
       st.lists(st.tuples(st.sampled_from(_ALL), _VALUES, st.sampled_from(["set", "delete", "rename"])), min_size=1, max_size=3))
def test_a_mutated_spec_is_a_spec_error_or_it_trains(base, mutations):
    tree = copy.deepcopy(_CHAIN if base == "chain" else _ZOO)
    for (which, path), value, action in mutations:
        if which == base:
            _mutate(tree, path, value, action)
    keras.backend.clear_session()
    try:
        spec = load_spec(yaml.safe_dump(tree))
        validate(spec)
    except SpecError:
        return
    # validate said ok: train and tune must not fail on a spec problem.
    plan = build_plan(spec)
    plan.fit(verbose=0, epochs=1)
    keras.backend.clear_session()
