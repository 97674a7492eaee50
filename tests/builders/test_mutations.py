"""Property: a mutated spec is either a SpecError or, once `validate` says ok, it builds and trains.

The mutations reach per-layer sugar inside a chain, a repeat and a residual block,
`defaults`, a zoo architecture's arguments and every section, and the sections added
since (pretrain, transfer, data preparation, named inputs, BatchSizeSchedule,
output.mlflow, runtime); the values include NaN, infinities, integer-valued floats,
wrong types, `..` and names that resolve to nothing.
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

# The sections added since the first property test, each in a base of its own.
np.savez(_FOLDER / "named.npz", image=_rng.normal(size=(48, 4, 4, 1)).astype("float32"),
         meta=_rng.normal(size=(48, 3)).astype("float32"), y=_rng.integers(0, 3, size=48))
_inputs = keras.Input((5,))
_hidden = keras.layers.Dense(6, activation="relu", name="features")(_inputs)
keras.Model(_inputs, keras.layers.Dense(3, activation="softmax")(_hidden)).save(_FOLDER / "base.keras")
keras.backend.clear_session()

_PRETRAIN = {**copy.deepcopy(_CHAIN),
             "model": {"defaults": {"activation": "sigmoid"}, "layers": [{"Dense": {"units": 6}}, {"Dense": {"units": 6}},
                                                                         {"Dense": {"units": 3, "activation": "softmax"}}]},
             "pretrain": {"mode": "unsupervised", "epochs_per_layer": 1, "freeze": False, "noise": 0.1, "tied": True}}
_TRANSFER = {**copy.deepcopy(_CHAIN), "model": {"layers": [{"Dense": {"units": 3, "activation": "softmax"}}]},
             "transfer": {"from": str(_FOLDER / "base.keras"), "until": "features", "mode": "feature_extraction",
                          "unfreeze": {"after_epoch": 1, "layers": 1, "learning_rate": 1.0e-4}}}
_TRANSFER["train"] = {**_TRANSFER["train"], "epochs": 2}
_PREPARED = copy.deepcopy(_CHAIN)
_PREPARED["data"] = {"source": {"npz": str(_FOLDER / "rows.npz")}, "validation_split": 0.25, "test_split": 0.2,
                     "batch_size": 16, "normalize": {"method": "pca", "components": 4}, "classes": [0, 2], "limit": 30,
                     "label_noise": 0.1, "rescale": 0.5, "split_seed": 1, "labels": "one_hot", "shuffle": 8,
                     "cache": False}
_PREPARED["train"] = {**_PREPARED["train"], "loss": "categorical_crossentropy", "class_weight": {"0": 1.0, "1": 2.0}}
_PREPARED["model"]["layers"][-1] = {"Dense": {"units": 2, "activation": "softmax"}}
_NAMED = {**copy.deepcopy(_CHAIN),
          "data": {"source": {"npz": str(_FOLDER / "named.npz"), "x": {"image": "image", "meta": "meta"}, "y": "y"},
                   "validation_split": 0.25, "batch_size": 16, "normalize": True},
          "model": {"inputs": {"image": [4, 4, 1], "meta": [3]},
                    "graph": [{"name": "flat", "inputs": "image", "layer": "Flatten"},
                              {"name": "joined", "inputs": ["flat", "meta"], "layer": "Concatenate"},
                              {"name": "label", "inputs": "joined", "layer": {"Dense": {"units": 3, "activation": "softmax"}}}],
                    "outputs": ["label"]}}
_GROWING = copy.deepcopy(_CHAIN)
_GROWING["train"] = {**_GROWING["train"], "epochs": 3,
                     "callbacks": [{"BatchSizeSchedule": {"factor": 2, "after_epochs": [1, 2], "max_batch_size": 32}}]}
_RUNTIME = copy.deepcopy(_CHAIN)
_RUNTIME["runtime"] = {"precision": "float32", "jit_compile": False, "steps_per_execution": 2, "deterministic": True,
                       "run_eagerly": False, "strategy": "default"}
_RUNTIME["output"] = {**_RUNTIME["output"], "mlflow": {"experiment": "mutants", "tracking_uri": str(_FOLDER / "mlruns")}}

_BASES = {"chain": _CHAIN, "zoo": _ZOO, "pretrain": _PRETRAIN, "transfer": _TRANSFER, "prepared": _PREPARED,
          "named": _NAMED, "growing": _GROWING, "runtime": _RUNTIME}

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


_SECTION = {"pretrain": "pretrain", "transfer": "transfer", "prepared": "data", "named": "model", "growing": "train",
            "runtime": "runtime"}
_ALL = ([("chain", p) for p in _paths(_CHAIN) if p] + [("zoo", p) for p in _paths(_ZOO) if p and p[0] == "model"]
        + [(name, p) for name, section in _SECTION.items() for p in _paths(_BASES[name])
           if p and (p[0] == section or name == "runtime" and p[0] == "output" or name == "named" and p[0] == "data")])


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


def test_every_base_validates_and_trains():
    """The property starts from valid specs: each base itself validates and trains."""
    for name, tree in _BASES.items():
        keras.backend.clear_session()
        spec = load_spec(yaml.safe_dump(tree))
        validate(spec)
        build_plan(spec).fit(verbose=0)
    keras.backend.clear_session()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["chain", "zoo"]),
       st.lists(st.tuples(st.sampled_from(_ALL), _VALUES, st.sampled_from(["set", "delete", "rename"])), min_size=1, max_size=3))
def test_a_mutated_spec_is_a_spec_error_or_it_trains(base, mutations):
    _check_mutant(base, mutations)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(_SECTION)),
       st.lists(st.tuples(st.sampled_from(_ALL), _VALUES, st.sampled_from(["set", "delete", "rename"])), min_size=1, max_size=3))
def test_a_mutated_newer_section_is_a_spec_error_or_it_trains(base, mutations):
    _check_mutant(base, mutations)


def _check_mutant(base, mutations):
    tree = copy.deepcopy(_BASES[base])
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
    plan.fit(verbose=0)
    keras.backend.clear_session()
