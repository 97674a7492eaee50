"""The tuner registry: the built-in tuners are one module each, a tuner's own rules come from its module, and a
user's own KerasTuner subclass is registered from their code and runs a real search from a spec."""

from __future__ import annotations

import keras_tuner
import pytest

import zoo
from zoo.builders.spec.document import load_spec
from zoo.builders.spec.errors import SpecError
from zoo.builders.spec.tuners import TUNERS, tuner_settings

SPEC = """\
version: 1
name: registry
seed: 0
data: {source: {sklearn: iris}, validation_split: 0.25, normalize: true}
model: {layers: [{Dense: {units: {hp: Choice, values: [4, 8]}, activation: relu}}], head: auto}
train: {epochs: 2, metrics: [accuracy]}
tune: {tuner: TUNER, objective: val_accuracy, directory: DIRECTORY}
"""


def _spec(tuner: str, directory="tuning") -> str:
    return SPEC.replace("TUNER", tuner).replace("DIRECTORY", str(directory))


def test_the_built_in_tuners_are_registry_entries_of_their_own_modules():
    assert list(TUNERS)[:4] == ["RandomSearch", "GridSearch", "Hyperband", "BayesianOptimization"]
    for name in ("RandomSearch", "GridSearch", "Hyperband", "BayesianOptimization"):
        kind = TUNERS[name]
        assert kind.tuner is getattr(keras_tuner, name) and not kind.user
    assert TUNERS["Hyperband"].check.__module__ == "zoo.builders.spec.tuners.hyperband"


def test_a_tuners_own_rule_is_an_error_at_its_line():
    spec = load_spec(_spec("{Hyperband: {max_epochs: 4, max_trials: 3}}"))
    with pytest.raises(SpecError, match="Hyperband sets its own number of trials") as caught:
        tuner_settings(spec, None, True)
    assert caught.value.path == ("tune", "tuner", "Hyperband", "max_trials")
    with pytest.raises(SpecError, match="unknown tuner 'RandomSerch'") as caught:
        tuner_settings(load_spec(_spec("RandomSerch")), None, True)
    assert "RandomSearch" in caught.value.suggestions


def test_a_users_tuner_runs_a_search_from_a_spec(tmp_path):
    constructed = []

    @zoo.register_tuner("Recorded", replace=True)
    class Recorded(keras_tuner.RandomSearch):
        def __init__(self, *args, **kwargs):
            constructed.append(kwargs["max_trials"])
            super().__init__(*args, **kwargs)

    try:
        summary = zoo.tune(_spec("{Recorded: {max_trials: 2}}", tmp_path), report=lambda *_: None)
    finally:
        TUNERS.pop("Recorded")
    assert constructed == [2] and summary["counts"] == {"COMPLETED": 2}


def test_register_tuner_refuses_what_is_not_a_tuner():
    with pytest.raises(ValueError, match="built-in tuner"):
        zoo.register_tuner("Hyperband", keras_tuner.RandomSearch)
    with pytest.raises(ValueError, match="keras_tuner.Tuner subclass"):
        zoo.register_tuner("NotATuner", dict)
    with pytest.raises(ValueError, match="Python identifier"):
        zoo.register_tuner("not a name", keras_tuner.RandomSearch)
    assert "NotATuner" not in TUNERS
