"""Hyperparameter markers have one home (builders/spec/markers.py): their values, the extremes `zoo validate` builds
the plan at, and their KerasTuner hyperparameters."""

from __future__ import annotations

import keras_tuner
import pytest

from zoo.builders.spec import markers


@pytest.mark.parametrize("marker, values, extremes", [
    ({"hp": "Int", "min_value": 32, "max_value": 100, "step": 32}, [32, 64, 96], [32, 96]),
    ({"hp": "Int", "min_value": 1, "max_value": 3}, [1, 2, 3], [1, 3]),
    ({"hp": "Float", "min_value": 1e-4, "max_value": 1e-2, "sampling": "log"}, None, [1e-4, 1e-2]),
    ({"hp": "Choice", "values": ["relu", "elu"]}, ["relu", "elu"], ["relu", "elu"]),
    ({"hp": "Boolean"}, [False, True], [False, True]),
    ({"hp": "Fixed", "value": 4}, [4], []),
])
def test_values_and_extremes(marker, values, extremes):
    assert markers.values(marker) == values
    assert markers.extremes(marker) == extremes


@pytest.mark.parametrize("marker", [
    {"hp": "Int", "min_value": 32, "max_value": 100, "step": 32},
    {"hp": "Choice", "values": [3, 5, 7]},
    {"hp": "Boolean"},
    {"hp": "Fixed", "value": 4},
])
def test_every_value_is_one_keras_tuner_accepts(marker):
    """A trial that sets the hyperparameter to any of the marker's values gets that value back."""
    for value in markers.values(marker):
        hp = keras_tuner.HyperParameters()
        hp.values["units"] = value
        assert markers.hyperparameter(hp, ("model", "units"), {**marker, "name": "units"}) == value


def test_a_marker_is_named_by_its_key_path_unless_it_names_itself():
    tree = {"model": {"layers": [{"Dense": {"units": {"hp": "Int", "min_value": 8, "max_value": 16}}}]},
            "train": {"optimizer": {"Adam": {"learning_rate": {"hp": "Float", "min_value": 0.001, "max_value": 0.1,
                                                               "name": "lr"}}}}}
    found = list(markers.find_markers(tree))
    assert [markers.marker_name(path, marker) for path, marker in found] == ["model.layers[0].Dense.units", "lr"]
    hp = keras_tuner.HyperParameters()
    resolved = markers.resolve_markers(tree, hp)
    assert resolved["model"]["layers"][0]["Dense"]["units"] == 8 and hp.values == {"model.layers[0].Dense.units": 8, "lr": 0.001}


def test_a_repeat_count_must_be_discrete():
    with pytest.raises(ValueError, match="a repeat count must be an Int, Choice or Fixed hyperparameter, not Float"):
        markers.candidate_values({"hp": "Float", "min_value": 1, "max_value": 3})
