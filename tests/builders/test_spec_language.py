"""Loading, overrides, markers, schema export, save/load and mutation robustness."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import keras
import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoo.builders.run.model import build_model
from zoo.builders.run.pitfalls import pitfalls
from zoo.builders.spec.document import load_spec
from zoo.builders.spec.errors import SpecError
from zoo.builders.spec.schema import editor_schema
from tests.builders.test_mutations import _mutate, _paths
from tests.conftest import DIGITS_SPEC, ROOT

SPEC_FILES = sorted((ROOT / "specs").rglob("*.yaml"))


def test_overrides_apply_before_validation_and_remember_where_they_came_from():
    spec = load_spec(DIGITS_SPEC, ["train.epochs=5", "model.layers[0].Dense.units=64", "model.defaults.dropout=0.3", "runtime.deterministic=true"])
    assert spec.get("train", "epochs") == 5
    assert spec.get("model", "layers", 0, "Dense", "units") == 64
    assert spec.get("model", "defaults", "dropout") == 0.3
    assert spec.get("runtime", "deterministic") is True
    assert "command-line override 'train.epochs=5'" in str(spec.where(("train", "epochs")))
    with pytest.raises(SpecError, match="expected an integer"):
        load_spec(DIGITS_SPEC, ["train.epochs=five"])
    with pytest.raises(SpecError, match=r"no item \[5\]"):
        load_spec(DIGITS_SPEC, ["model.layers[5].Dense.units=3"])
    with pytest.raises(SpecError, match="PATH=VALUE"):
        load_spec(DIGITS_SPEC, ["train.epochs"])


def test_yaml_1_2_floats():
    spec = load_spec(DIGITS_SPEC.replace("learning_rate: 1.0e-3", "learning_rate: 1e-3"))
    assert spec.get("train", "optimizer", "Adam", "learning_rate") == 0.001


def test_markers_take_defaults_and_shared_names():
    text = DIGITS_SPEC.replace("units: 32", "units: {hp: Int, min_value: 16, max_value: 64, step: 16, name: width}").replace(
        "units: 10,", "units: 10, kernel_initializer: {hp: Choice, values: [glorot_uniform, he_normal]},")
    spec = load_spec(text)
    assert [name for name, _ in [(p, m) for p, m in spec.markers]] == [("model", "layers", 0, "Dense", "units"), ("model", "layers", 1, "Dense", "kernel_initializer")]
    resolved = spec.with_hyperparameters().tree
    assert resolved["model"]["layers"][0]["Dense"]["units"] == 16
    assert resolved["model"]["layers"][1]["Dense"]["kernel_initializer"] == "glorot_uniform"
    model = build_model(spec)
    assert model.layers[2].units == 16  # input, normalization, dense
    clash = text.replace("units: 10,", "units: {hp: Int, min_value: 2, max_value: 10, name: width},")
    with pytest.raises(SpecError, match="defined twice"):
        load_spec(clash)


@pytest.mark.parametrize("file", SPEC_FILES, ids=[str(f.relative_to(ROOT)) for f in SPEC_FILES])
def test_every_shipped_spec_validates_against_the_exported_schema(file):
    tree = yaml.safe_load(file.read_text())
    jsonschema.validate(tree, editor_schema())
    spec = load_spec(file)
    assert spec.get("version") == 1


def test_shipped_specs_exist():
    assert SPEC_FILES, "specs/ must hold example specs"


def test_schema_rejects_what_the_loader_rejects():
    tree = yaml.safe_load(DIGITS_SPEC)
    tree["train"]["epoch"] = 3
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(tree, editor_schema())


@pytest.mark.parametrize("text, words", [
    ("model:\n  defaults: {activation: selu, kernel_initializer: he_normal, dropout: 0.2}\n  layers: [Dense: {units: 8}, Dense: {units: 8}, Dense: {units: 1}]", ["lecun_normal", "AlphaDropout"]),
    ("model:\n  layers: [Dense: {units: 8}, Dense: {units: 3, activation: softmax}]\ntrain: {loss: binary_crossentropy}", ["softmax output"]),
    ("model:\n  defaults: {activation: sigmoid, kernel_initializer: he_normal}\n  layers: [Dense: {units: 8}, Dense: {units: 8}, Dense: {units: 8}, Dense: {units: 8}, Dense: {units: 1}]", ["He initialization"]),
    ("model:\n  layers: [Dense: {units: 8}, Dense: {units: 1, dropout: 0.3}]", ["output layer"]),
    ("model:\n  layers: [Dense: {units: 1}]\ntrain:\n  callbacks:\n    - ReduceLROnPlateau: {monitor: val_loss, patience: 10}\n    - EarlyStopping: {monitor: val_loss, patience: 5}", ["is ever reduced"]),
])
def test_pitfall_warnings(text, words):
    spec = load_spec("version: 1\n" + text.replace("model:\n", "model:\n  input_shape: [4]\n", 1))
    found = "\n".join(pitfalls(spec))
    for word in words:
        assert word in found, found


def test_no_pitfall_warnings_for_the_quickstart_spec():
    assert pitfalls(load_spec(ROOT / "specs" / "digits_mlp.yaml")) == []


def test_saved_model_reloads_with_safe_mode_in_a_fresh_process(tmp_path):
    spec = load_spec(DIGITS_SPEC.replace("dropout: 0.1", "dropout: 0.1\n    batch_norm: before_activation"))
    model = build_model(spec)
    x = np.random.default_rng(0).normal(size=(5, 64)).astype("float32")
    expected = model.predict(x, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    again = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(again.predict(x, verbose=0), expected, rtol=1e-6)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "expected.npy", expected)
    script = (
        "import sys, numpy as np, keras, zoo\n"
        "m = keras.saving.load_model(sys.argv[1], safe_mode=True)\n"
        "np.testing.assert_allclose(m.predict(np.load(sys.argv[2]), verbose=0), np.load(sys.argv[3]), rtol=1e-6)\n"
        "assert 'builders' not in sys.modules and 'yaml' not in sys.modules, sorted(sys.modules)\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path), str(tmp_path / "x.npy"), str(tmp_path / "expected.npy")],
                          capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]


# -- property: mutations of a valid spec raise SpecError and nothing else -----------------

_VALID = yaml.safe_load(DIGITS_SPEC)
_VALID["data"]["source"] = {"npz": "does-not-exist.npz"}  # keeps every mutation offline and fast
_VALID["model"]["input_shape"] = [64]
_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 300), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.lists(st.integers(-2, 5), max_size=3),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=2),
    st.sampled_from(["Dense", "he_normal", "relu", "Conv2D", "Flatten", "adam", {"hp": "Int"}, {"Dense": {"units": "x"}},
                     {"repeat": 2, "layers": []}, {"residual": [{"Dense": {"units": 3}}]}, {"MaxNorm": {"max_value": -1}}]),
)


_ALL_PATHS = [p for p in _paths(_VALID) if p]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_ALL_PATHS), _VALUES, st.sampled_from(["set", "delete", "rename"])), min_size=1, max_size=3))
def test_mutated_specs_raise_only_spec_errors(mutations):
    tree = copy.deepcopy(_VALID)
    for path, value, action in mutations:
        _mutate(tree, path, value, action)
    text = yaml.safe_dump(tree)
    try:
        spec = load_spec(text)
        keras.backend.clear_session()
        build_model(spec)
    except SpecError:
        pass
