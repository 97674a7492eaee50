"""A run's seed governs its initial weights: every shipped spec, built at two seeds and at one seed twice.

mnist1d's `make_dataset` reseeds Python's and NumPy's global generators with its own seed, after the run
has seeded them, so every spec with an mnist1d source used to build one initialization whatever its seed.
"""

from __future__ import annotations

import random

import keras
import numpy as np
import pytest

from tests.conftest import ROOT
from zoo.builders.data.load import global_random_state_kept, load_data
from zoo.builders.run.plan import build_plan
from zoo.builders.spec.document import load_spec

SPECS = sorted([*ROOT.glob("specs/*.yaml"), *ROOT.glob("specs/experiments/*.yaml")])


def _initial_weights(path, seed: int) -> list[np.ndarray]:
    overrides = [f"seed={seed}"]
    if "mnist1d" in load_spec(path).tree["data"]["source"]:  # the weights' shapes do not depend on the row count
        overrides.append("data.source.mnist1d.num_samples=300")
    plan = build_plan(load_spec(path, overrides))
    weights = [np.asarray(w) for w in plan.model.trainable_weights]
    keras.backend.clear_session()
    return weights


def test_every_shipped_spec_is_checked():
    assert len(SPECS) >= 20 and any("mnist1d" in p.read_text() for p in SPECS)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(ROOT / "specs")))
def test_the_seed_sets_the_initial_weights(path):
    first, second, again = _initial_weights(path, 0), _initial_weights(path, 1), _initial_weights(path, 0)
    assert first, f"{path.name} built a model without trainable weights"
    assert any(a.shape == b.shape and not np.array_equal(a, b) for a, b in zip(first, second)), \
        f"{path.name}: seeds 0 and 1 built identical initial weights"
    assert all(np.array_equal(a, b) for a, b in zip(first, again)), f"{path.name}: seed 0 twice built different weights"


def test_loading_mnist1d_leaves_the_global_random_state_alone():
    spec = load_spec(ROOT / "specs" / "mnist1d_mlp.yaml", ["data.source.mnist1d.num_samples=200"])
    random.seed(5)
    np.random.seed(5)
    expected = (random.random(), np.random.random())
    random.seed(5)
    np.random.seed(5)
    load_data(spec)  # mnist1d reseeds both generators with 42 inside
    assert (random.random(), np.random.random()) == expected


def test_the_state_comes_back_after_an_error_too():
    np.random.seed(1)
    expected = np.random.random()
    np.random.seed(1)
    with pytest.raises(RuntimeError), global_random_state_kept():
        np.random.seed(99)
        raise RuntimeError("a source failed half way")
    assert np.random.random() == expected
