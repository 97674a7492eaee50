"""The data-source registry: the built-in kinds are entries in it, and a user's own source registered from Python
(`zoo.register_source`) is named in a spec, read with every check a file source gets, and refused clearly."""

from __future__ import annotations

import numpy as np
import pytest

import zoo
from zoo.builders.data.load import SOURCES, load_data, register_source
from zoo.builders.spec.document import load_spec
from zoo.builders.spec.errors import SpecError
from zoo.builders.spec.schema import SCHEMA

SPEC = """\
version: 1
name: own_source
seed: 1
data:
  source: {SOURCE}
  validation_split: 0.2
model: {head: auto, layers: [Dense: {units: 16, activation: relu}]}
train: {epochs: 3, optimizer: {Adam: {learning_rate: 1.0e-2}}}
"""


def _blobs(rows: int = 300, seed: int = 0, labels: str = "ints"):
    from sklearn.datasets import make_blobs

    x, y = make_blobs(rows, n_features=4, centers=3, random_state=seed)
    return (x, np.array(["a", "b", "c"])[y]) if labels == "names" else (x, y)


@pytest.fixture
def blobs():
    register_source("blobs", _blobs, schema={"type": ["object", "null"]}, replace=True)
    yield "blobs"
    SOURCES.pop("blobs", None)
    SCHEMA["$defs"]["source"]["properties"].pop("blobs", None)


def test_the_built_in_sources_are_registry_entries():
    assert list(SOURCES)[:6] == ["sklearn", "tfds", "csv", "parquet", "npz", "mnist1d"]
    assert [k for k, v in SOURCES.items() if v.files] == ["csv", "parquet", "npz"]
    assert SOURCES["tfds"].read is None  # streamed from its own files


def test_a_registered_source_trains_from_a_spec(blobs, tmp_path):
    result = zoo.train(SPEC.replace("{SOURCE}", "{blobs: {rows: 400, seed: 3}}"), run_dir=tmp_path / "run", verbose=0)
    assert result.model.output_shape == (None, 3)  # head: auto from the source's three classes
    assert result.metrics["final_val_accuracy"] > 0.9  # three well-separated blobs
    data = load_data(load_spec(SPEC.replace("{SOURCE}", "{blobs: {rows: 400, seed: 3}}")))
    assert data.info.sizes == {"validation": 80, "train": 320}


def test_class_names_from_a_source_are_the_runs_class_names(blobs):
    data = load_data(load_spec(SPEC.replace("{SOURCE}", "{blobs: {labels: names}}")))
    assert data.info.class_names == ["a", "b", "c"] and data.info.num_classes == 3


@pytest.mark.parametrize("source, line, message", [
    ("{blobs: {rowz: 10}}", 5, "the source 'blobs' takes no argument 'rowz'; its arguments are rows, seed, labels"),
    ("{blobs: {rows: -1}}", 5, "the source 'blobs' failed: InvalidParameterError"),
    ("{blobs: 7}", 5, "data.source.blobs: expected a mapping or null, got int 7"),
    ("{blobz: {}}", 5, "Did you mean 'blobs'"),
])
def test_a_bad_source_is_a_spec_error_at_its_line(blobs, source, line, message):
    with pytest.raises(SpecError, match=message) as error:
        load_data(load_spec(SPEC.replace("{SOURCE}", source)))
    assert error.value.line == line


@pytest.mark.parametrize("returned, message", [
    (lambda: (np.array([[1.0, np.nan]] * 4), np.arange(4)), "NaN or infinite values \\(row 0 is the first\\)"),
    (lambda: (np.ones((4, 2)), np.arange(3)), "has 4 rows but y has 3"),
    (lambda: [1, 2, 3, 4], "returned list; a source returns \\(x, y\\)"),
    (lambda: (np.ones((4, 2)), np.array([0, 1, 0, 5]), ["a", "b"]), "gave 2 class names"),
])
def test_what_a_source_returns_gets_the_checks_every_source_gets(returned, message):
    register_source("made", returned, replace=True)
    try:
        with pytest.raises(SpecError, match=message):
            load_data(load_spec(SPEC.replace("{SOURCE}", "{made: null}")))
    finally:
        SOURCES.pop("made")
        SCHEMA["$defs"]["source"]["properties"].pop("made")


@pytest.mark.parametrize("name, message", [
    ("csv", "'csv' is a built-in source"), ("label", "'label' is a built-in source or source option"),
    ("two words", "a source name is a Python identifier"), ("class", "a source name is a Python identifier"),
])
def test_registering_a_name_that_is_taken_or_not_a_name_is_refused(name, message):
    with pytest.raises(ValueError, match=message):
        register_source(name, _blobs)
    assert name not in SCHEMA["$defs"]["source"]["properties"] or name in ("csv", "label")


def test_registering_twice_needs_replace(blobs):
    with pytest.raises(ValueError, match="'blobs' is registered already; pass replace=True"):
        register_source("blobs", _blobs)
    assert register_source("blobs", replace=True)(_blobs) is _blobs  # as a decorator
