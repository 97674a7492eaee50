"""A corpus of broken specs: each must give a SpecError at the right line and key path."""

from __future__ import annotations

import pytest

from zoo.builders.spec.document import load_spec
from zoo.builders.spec.errors import SpecError
from tests.conftest import DIGITS_SPEC


def _replace(old: str, new: str) -> str:
    assert old in DIGITS_SPEC, old
    return DIGITS_SPEC.replace(old, new, 1)


# (id, spec text, expected line, key path the message names, words in the message)
CORPUS = [
    ("bad-yaml-bracket", _replace("[accuracy]", "[accuracy"), 21, "", "invalid YAML"),
    ("bad-yaml-indent", _replace("  epochs: 2", " epochs: 2"), 21, "", "invalid YAML"),
    ("tab-indent", _replace("  epochs: 2", "\tepochs: 2"), 21, "", "invalid YAML"),
    ("python-object-tag", _replace("seed: 7", "seed: !!python/object/apply:os.system [ls]"), 3, "", "not allowed"),
    ("python-name-tag", _replace("name: tiny_digits", "name: !!python/name:os.system"), 2, "", "not allowed"),
    ("custom-tag", _replace("epochs: 2", "epochs: !epochs 2"), 21, "", "not allowed"),
    ("binary-tag", _replace("name: tiny_digits", "name: !!binary aGVsbG8="), 2, "", "not allowed"),
    ("alias", "version: 1\nx: &a [1]\nmodel: *a\n", 3, "", "aliases"),
    ("billion-laughs", "version: 1\na: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", 3, "", "aliases"),
    ("duplicate-key", _replace("  epochs: 2", "  epochs: 2\n  epochs: 3"), 22, "", "duplicate key"),
    ("not-a-mapping", "- version: 1\n", 1, "", "mapping of sections"),
    ("empty", "", None, "", "empty"),
    ("missing-version", DIGITS_SPEC.replace("version: 1\n", ""), 1, "", "no `version`"),
    ("future-version", _replace("version: 1", "version: 3"), 1, "version", "version 3"),
    ("string-version", _replace("version: 1", "version: one"), 1, "version", "integer"),
    ("unknown-top-key", _replace("seed: 7", "sed: 7"), 3, "sed", "did you mean 'seed'"),
    ("unknown-train-key", _replace("  epochs: 2", "  epoch: 2"), 21, "train.epoch", "did you mean 'epochs'"),
    ("unknown-data-key", _replace("  normalize: true", "  normalise: true"), 7, "data.normalise", "did you mean 'normalize'"),
    ("unknown-model-key", _replace("  layers:", "  layer:"), 14, "model.layer", "did you mean 'layers'"),
    ("missing-model", DIGITS_SPEC.split("model:")[0], 1, "", "missing required key 'model'"),
    ("epochs-string", _replace("epochs: 2", "epochs: two"), 21, "train.epochs", "expected an integer"),
    ("epochs-zero", _replace("epochs: 2", "epochs: 0"), 21, "train.epochs", ">= 1"),
    ("seed-negative", _replace("seed: 7", "seed: -1"), 3, "seed", ">= 0"),
    ("validation-split-one", _replace("validation_split: 0.2", "validation_split: 1.5"), 6, "data.validation_split", "< 1"),
    ("batch-size-float", _replace("batch_size: 64", "batch_size: 6.4"), 8, "data.batch_size", "integer"),
    ("normalize-string", _replace("normalize: true", "normalize: maybe"), 7, "data.normalize", "true (= channel), feature, global, center, pca, zca"),
    ("unknown-sklearn-set", _replace("sklearn: digits", "sklearn: digit"), 5, "data.source.sklearn", "did you mean 'digits'"),
    ("unknown-source-key", _replace("{sklearn: digits}", "{sklearn: digits, labels: y}"), 5, "data.source.labels", "did you mean 'label'"),
    ("batch-norm-typo", _replace("dropout: 0.1", "dropout: 0.1\n    batch_norm: before"), 14, "model.defaults.batch_norm", "before_activation"),
    ("dropout-one", _replace("dropout: 0.1", "dropout: 1.0"), 13, "model.defaults.dropout", "< 1"),
    ("layers-not-list", _replace("  layers:\n    - Dense: {units: 32}\n    - Dense: {units: 10, activation: softmax}", "  layers: Dense"), 14, "model.layers", "a list"),
    ("layer-args-not-mapping", _replace("Dense: {units: 32}", "Dense: 32"), 15, "model.layers[0].Dense", "must be a mapping"),
    ("layer-two-keys", _replace("Dense: {units: 32}", "{Dense: {units: 32}, Dropout: {rate: 0.1}}"), 15, "model.layers[0]", "expected a layer"),
    ("repeat-typo", _replace("- Dense: {units: 32}", "- {repeat: 2, layer: [Dense: {units: 8}]}"), 15, "model.layers[0].layer", "did you mean 'layers'"),
    ("repeat-zero", _replace("- Dense: {units: 32}", "- {repeat: 0, layers: [Dense: {units: 8}]}"), 15, "model.layers[0].repeat", ">= 1"),
    ("optimizer-list", _replace("optimizer: {Adam: {learning_rate: 1.0e-3}}", "optimizer: [adam]"), 18, "train.optimizer", "a name or a one-key mapping"),
    ("metrics-not-list", _replace("metrics: [accuracy]", "metrics: accuracy"), 20, "train.metrics", "a list"),
    ("hp-unknown-type", _replace("units: 32", "units: {hp: Integer, min_value: 8, max_value: 64}"), 15, "model.layers[0].Dense.units.hp", "did you mean 'Int'"),
    ("hp-min-above-max", _replace("units: 32", "units: {hp: Int, min_value: 64, max_value: 8}"), 15, "model.layers[0].Dense.units", "greater than"),
    ("hp-empty-choice", _replace("units: 32", "units: {hp: Choice, values: []}"), 15, "model.layers[0].Dense.units.values", "non-empty"),
    ("hp-bad-argument", _replace("units: 32", "units: {hp: Int, min_value: 8, max_value: 64, stepp: 8}"), 15, "model.layers[0].Dense.units.stepp", "did you mean 'step'"),
    ("hp-missing-argument", _replace("units: 32", "units: {hp: Int, min_value: 8}"), 15, "model.layers[0].Dense.units", "max_value"),
    ("hp-log-zero", _replace("learning_rate: 1.0e-3", "learning_rate: {hp: Float, min_value: 0.0, max_value: 0.1, sampling: log}"), 18, "train.optimizer.Adam.learning_rate", "invalid hp Float"),
    ("hp-float-repeat", _replace("    - Dense: {units: 32}\n", "    - repeat: {hp: Float, min_value: 1, max_value: 3}\n      layers: [Dense: {units: 32}]\n"), 15, "model.layers[0].repeat.hp", "Int, Choice or Fixed"),
    ("hp-repeat-zero", _replace("    - Dense: {units: 32}\n", "    - repeat: {hp: Int, min_value: 0, max_value: 3}\n      layers: [Dense: {units: 32}]\n"), 15, "model.layers[0].repeat", "integer >= 1"),
    ("hp-default-breaks-schema", _replace("epochs: 2", "epochs: {hp: Int, min_value: 0, max_value: 3}"), 21, "train.epochs", ">= 1"),
    ("graph-bad-node", "version: 1\nmodel:\n  inputs: {a: [3]}\n  graph:\n    - {name: h, inputs: a, layr: Dense}\n  outputs: h\n", 5, "model.graph[0].layr", "did you mean 'layer'"),
    ("input-shape-zero", "version: 1\nmodel:\n  input_shape: [0]\n  layers: [Dense: {units: 1}]\n", 3, "model.input_shape[0]", ">= 1"),
    ("runtime-precision", _replace("seed: 7", "seed: 7\nruntime: {precision: float16}"), 4, "runtime.precision", "mixed_float16"),
    ("worker-timeout-zero", _replace("seed: 7", "seed: 7\ntune: {worker_timeout: 0}"), 4, "tune.worker_timeout", "> 0"),
    ("layer-dropout-above-one", _replace("Dense: {units: 32}", "Dense: {units: 32, dropout: 1.5}"), 15, "model.layers[0].Dense.dropout", "< 1"),
    ("layer-batch-norm-word", _replace("Dense: {units: 32}", "Dense: {units: 32, batch_norm: sometimes}"), 15, "model.layers[0].Dense.batch_norm", "before_activation"),
    ("repeat-layer-batch-norm-true", _replace("- Dense: {units: 32}", "- {repeat: 2, layers: [Dense: {units: 8, batch_norm: true}]}"), 15, "model.layers[0].layers[0].Dense.batch_norm", "before_activation"),
    ("repeat-batch-norm-key", _replace("- Dense: {units: 32}", "- {repeat: 2, batch_norm: true, layers: [Dense: {units: 8}]}"), 15, "model.layers[0].batch_norm", "unknown key"),
    ("residual-layer-dropout", _replace("- Dense: {units: 32}", "- {residual: [Dense: {units: 8, dropout: -0.5}]}"), 15, "model.layers[0].residual[0].Dense.dropout", ">= 0"),
    ("graph-node-dropout-true", "version: 1\nmodel:\n  inputs: {a: [3]}\n  graph:\n    - {name: h, inputs: a, layer: {Dense: {units: 2, dropout: true}}}\n  outputs: h\n", 5, "model.graph[0].layer.Dense.dropout", "a number"),
    ("nan-learning-rate", _replace("learning_rate: 1.0e-3", "learning_rate: .nan"), 18, "train.optimizer.Adam.learning_rate", "finite"),
    ("inf-units", _replace("units: 32", "units: .inf"), 15, "model.layers[0].Dense.units", "finite"),
    ("nan-validation-split", _replace("validation_split: 0.2", "validation_split: .nan"), 6, "data.validation_split", "finite"),
    ("integer-valued-float-epochs", _replace("epochs: 2", "epochs: 2.0"), 21, "train.epochs", "integer"),
    ("integer-valued-float-batch", _replace("batch_size: 64", "batch_size: 64.0"), 8, "data.batch_size", "integer"),
    ("seed-too-large", _replace("seed: 7", "seed: 99999999999"), 3, "seed", "<="),
    ("name-dot-dot", _replace("name: tiny_digits", "name: '..'"), 2, "name", "folder"),
    ("name-with-slash", _replace("name: tiny_digits", "name: a/b"), 2, "name", "folder"),
    ("project-name-dot-dot", _replace("seed: 7", "seed: 7\ntune: {project_name: '..'}"), 4, "tune.project_name", "folder"),
]


@pytest.mark.parametrize("text, line, path, words", [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_broken_spec_is_a_spec_error_at_its_line(text, line, path, words, tmp_path):
    file = tmp_path / "broken.yaml"
    file.write_text(text)
    with pytest.raises(SpecError) as caught:
        load_spec(file)
    error = caught.value
    message = str(error)
    assert words.lower() in message.lower(), message
    assert message.startswith(str(file)), message
    if line is not None:
        assert error.line == line, message
        assert f"{file}:{line}:" in message
    if path:
        assert error.key_path == path, message


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 40
