"""Spec-built models are the Keras models a person would write by hand."""

from __future__ import annotations

import numpy as np
import pytest
import keras

from zoo.builders.data.load import load_data
from zoo.builders.run.model import build_model
from zoo.builders.spec.document import load_spec
from zoo.builders.spec.errors import SpecError


def _spec(layers: str, defaults: str = "{}", extra: str = "") -> str:
    return f"""version: 1
model:
  input_shape: [6]
  defaults: {defaults}
  layers:
{layers}
train:
  loss: mse
{extra}"""


def _layers(model: keras.Model) -> list[keras.layers.Layer]:
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


COMBINATIONS = [
    ("kernel_initializer", "he_normal", "kernel_initializer", {"class_name": "HeNormal"}),
    ("kernel_initializer", "{GlorotUniform: {seed: 3}}", "kernel_initializer", {"class_name": "GlorotUniform", "config": {"seed": 3}}),
    ("kernel_initializer", "{VarianceScaling: {scale: 2.0, mode: fan_in}}", "kernel_initializer", {"class_name": "VarianceScaling"}),
    ("kernel_initializer", "lecun_normal", "kernel_initializer", {"class_name": "LecunNormal"}),
    ("bias_initializer", "{Constant: {value: 0.1}}", "bias_initializer", {"class_name": "Constant", "config": {"value": 0.1}}),
    ("activation", "elu", "activation", "elu"),
    ("activation", "selu", "activation", "selu"),
    ("activation", "leaky_relu", "activation", "leaky_relu"),
    ("activation", "tanh", "activation", "tanh"),
    ("kernel_regularizer", "{L2: {l2: 0.01}}", "kernel_regularizer", {"class_name": "L2", "config": {"l2": 0.01}}),
    ("kernel_regularizer", "{L1: {l1: 0.001}}", "kernel_regularizer", {"class_name": "L1"}),
    ("kernel_regularizer", "{L1L2: {l1: 0.001, l2: 0.01}}", "kernel_regularizer", {"class_name": "L1L2", "config": {"l1": 0.001, "l2": 0.01}}),
    ("activity_regularizer", "{L2: {l2: 0.001}}", "activity_regularizer", {"class_name": "L2"}),
    ("kernel_constraint", "{MaxNorm: {max_value: 3}}", "kernel_constraint", {"class_name": "MaxNorm", "config": {"max_value": 3}}),
    ("kernel_constraint", "non_neg", "kernel_constraint", {"class_name": "NonNeg"}),
    ("bias_constraint", "{UnitNorm: {axis: 0}}", "bias_constraint", {"class_name": "UnitNorm"}),
]


def _matches(actual, expected) -> bool:
    if isinstance(expected, dict):
        return all(key in actual and _matches(actual[key], value) for key, value in expected.items())
    return actual == expected


@pytest.mark.parametrize("key, value, config_key, expected", COMBINATIONS, ids=[f"{c[0]}={c[1]}" for c in COMBINATIONS])
@pytest.mark.parametrize("where", ["defaults", "layer"])
def test_component_lands_on_the_right_layer(key, value, config_key, expected, where):
    if where == "defaults":
        text = _spec("    - Dense: {units: 4}\n    - Dense: {units: 1, activation: linear}", defaults=f"{{{key}: {value}}}")
    else:
        text = _spec(f"    - Dense: {{units: 4, {key}: {value}}}\n    - Dense: {{units: 1, activation: linear}}")
    model = build_model(load_spec(text))
    hidden, output = _layers(model)
    assert _matches(hidden.get_config()[config_key], expected), hidden.get_config()[config_key]
    if where == "layer" or key == "activation":
        return
    # defaults reach every layer that takes the argument, the output included
    assert _matches(output.get_config()[config_key], expected)


@pytest.mark.parametrize("batch_norm", ["before_activation", "after_activation", "none"])
@pytest.mark.parametrize("dropout", [0.0, 0.25])
def test_batch_norm_and_dropout_sugar(batch_norm, dropout):
    text = _spec(
        "    - Dense: {units: 8}\n    - Dense: {units: 8}\n    - Dense: {units: 1, activation: sigmoid}",
        defaults=f"{{activation: relu, batch_norm: {batch_norm}, dropout: {dropout}}}",
    )
    kinds = [type(layer).__name__ for layer in _layers(build_model(load_spec(text)))]
    block = {
        "before_activation": ["Dense", "BatchNormalization", "Activation"],
        "after_activation": ["Dense", "BatchNormalization"],
        "none": ["Dense"],
    }[batch_norm] + (["Dropout"] if dropout else [])
    assert kinds == block + block + ["Dense"]  # the output layer takes no sugar


def test_before_activation_means_no_bias_and_no_activation_on_the_dense():
    model = build_model(load_spec(_spec("    - Dense: {units: 8}\n    - Dense: {units: 1}", "{activation: elu, batch_norm: before_activation}")))
    dense, bn, activation, output = _layers(model)
    assert dense.get_config()["activation"] == "linear" and dense.get_config()["use_bias"] is False
    assert isinstance(bn, keras.layers.BatchNormalization)
    assert activation.get_config()["activation"] == "elu"
    assert output.get_config()["use_bias"] is True


def test_per_layer_sugar_overrides_defaults():
    text = _spec("    - Dense: {units: 8, dropout: 0.5, batch_norm: none}\n    - Dense: {units: 8}\n    - Dense: {units: 1}", "{dropout: 0.1, batch_norm: after_activation}")
    layers = _layers(build_model(load_spec(text)))
    assert [type(l).__name__ for l in layers] == ["Dense", "Dropout", "Dense", "BatchNormalization", "Dropout", "Dense"]
    assert layers[1].rate == 0.5 and layers[4].rate == 0.1


def test_defaults_only_reach_layers_that_accept_them():
    text = _spec("    - Dense: {units: 8}\n    - Dropout: {rate: 0.1}\n    - Dense: {units: 1}", "{kernel_initializer: he_uniform}")
    dense, dropout, output = _layers(build_model(load_spec(text)))
    assert dense.get_config()["kernel_initializer"]["class_name"] == "HeUniform"
    assert "kernel_initializer" not in dropout.get_config()


def test_spec_model_equals_hand_written_model():
    spec = load_spec("""version: 1
seed: 3
data: {source: {sklearn: digits}, validation_split: 0.2, normalize: true, batch_size: 64}
model:
  defaults: {kernel_initializer: he_normal, activation: elu, batch_norm: before_activation, dropout: 0.2, kernel_regularizer: {L2: {l2: 1.0e-4}}}
  layers:
    - Dense: {units: 64}
    - Dense: {units: 32, kernel_constraint: {MaxNorm: {max_value: 3}}}
    - Dense: {units: 10, activation: softmax}
train: {optimizer: {Adam: {learning_rate: 1.0e-3}}, loss: sparse_categorical_crossentropy, metrics: [accuracy], epochs: 1}
""")
    data = load_data(spec)

    keras.utils.set_random_seed(3)
    built = build_model(spec, data.info)

    keras.utils.set_random_seed(3)
    inputs = keras.Input((64,))
    # Like StandardScaler, features constant in the training split (digits' border pixels) keep unit scale.
    variance = np.where(data.info.variance == 0, 1.0, data.info.variance)
    x = keras.layers.Normalization(axis=-1, mean=data.info.mean, variance=variance)(inputs)
    for units, constraint in ((64, None), (32, keras.constraints.MaxNorm(3))):
        x = keras.layers.Dense(units, use_bias=False, activation=None, kernel_initializer="he_normal",
                               kernel_regularizer=keras.regularizers.L2(1e-4), kernel_constraint=constraint)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.Activation("elu")(x)
        x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(10, activation="softmax", kernel_initializer="he_normal",
                                 kernel_regularizer=keras.regularizers.L2(1e-4))(x)
    hand = keras.Model(inputs, outputs)
    hand.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    def configs(model):
        result = []
        for layer in _layers(model):
            config = dict(layer.get_config())
            config.pop("name")
            result.append((type(layer).__name__, config))
        return result

    assert configs(built) == configs(hand)
    for a, b in zip(built.get_weights(), hand.get_weights()):
        np.testing.assert_array_equal(a, b)
    x_train, y_train = data.arrays["train"]
    losses = []
    for model in (built, hand):
        keras.utils.set_random_seed(11)
        losses.append(model.fit(x_train, y_train, epochs=1, batch_size=64, shuffle=False, verbose=0).history["loss"][0])
    assert losses[0] == pytest.approx(losses[1], rel=1e-6)


def test_repeat_and_residual_with_projection():
    text = """version: 1
model:
  input_shape: [8, 8, 1]
  defaults: {activation: relu}
  layers:
    - {repeat: 3, layers: [Dense: {units: 4}]}
    - residual: [Conv2D: {filters: 6, kernel_size: 3, padding: same, strides: 2}]
    - residual: [Conv2D: {filters: 6, kernel_size: 3, padding: same}]
    - Flatten
    - residual: [Dense: {units: 5}]
    - Dense: {units: 2, activation: softmax}
train: {loss: sparse_categorical_crossentropy}
"""
    model = build_model(load_spec(text))
    kinds = [type(layer).__name__ for layer in _layers(model)]
    assert kinds.count("Dense") == 3 + 1 + 1 + 1  # repeated, residual body, its projection... counted below
    assert kinds.count("Add") == 3
    projections = [l for l in _layers(model) if isinstance(l, keras.layers.Conv2D) and l.kernel_size == (1, 1)]
    assert len(projections) == 1 and projections[0].strides == (2, 2)
    assert model.output_shape == (None, 2)


def test_graph_with_two_inputs_and_two_outputs():
    text = """version: 1
model:
  inputs: {image: [4, 4, 1], meta: [3]}
  graph:
    - {name: flat, inputs: image, layer: Flatten}
    - {name: joined, inputs: [flat, meta], layer: Concatenate}
    - {name: hidden, inputs: joined, layer: {Dense: {units: 8, activation: relu}}}
    - {name: skip, inputs: [hidden, hidden], layer: Add}
    - {name: label, inputs: skip, layer: {Dense: {units: 3, activation: softmax}}}
    - {name: score, inputs: skip, layer: {Dense: {units: 1}}}
  outputs: [label, score]
train: {loss: mse}
"""
    model = build_model(load_spec(text))
    assert [t.shape for t in model.inputs] == [(None, 4, 4, 1), (None, 3)]
    assert [tuple(t.shape) for t in model.outputs] == [(None, 3), (None, 1)]
    assert model.get_layer("joined").__class__.__name__ == "Concatenate"


@pytest.mark.parametrize("source, task, units, activation, loss", [
    ("{sklearn: digits}", "multiclass", 10, "softmax", "sparse_categorical_crossentropy"),
    ("{sklearn: breast_cancer}", "binary", 1, "sigmoid", "binary_crossentropy"),
    ("{sklearn: diabetes}", "regression", 1, "linear", "mean_squared_error"),
])
def test_head_auto_follows_the_task(source, task, units, activation, loss):
    spec = load_spec(f"version: 1\ndata: {{source: {source}, validation_split: 0.2}}\nmodel:\n  head: auto\n  layers: [Dense: {{units: 8, activation: relu}}]\n")
    data = load_data(spec)
    assert data.info.task == task
    model = build_model(spec, data.info)
    head = model.layers[-1]
    assert head.units == units and head.get_config()["activation"] == activation
    assert model.loss == loss
    model.fit(data.train, epochs=1, verbose=0, shuffle=False)


# Errors found only when the spec is turned into Keras objects: still SpecErrors at their line.
BUILD_ERRORS = [
    ("unknown-layer", "    - Dens: {units: 4}", 6, "model.layers[0]", "did you mean 'Dense'"),
    ("lambda-layer", "    - Lambda: {function: x}", 6, "model.layers[0]", "carry python code"),
    ("unknown-argument", "    - Dense: {unit: 4}", 6, "model.layers[0].Dense.unit", "did you mean 'units'"),
    ("bad-units", "    - Dense: {units: -4}", 6, "model.layers[0].Dense", "units"),
    ("unknown-initializer", "    - Dense: {units: 4, kernel_initializer: he_normall}", 6, "model.layers[0].Dense.kernel_initializer", "did you mean 'he_normal'"),
    ("unknown-activation", "    - Dense: {units: 4, activation: rellu}", 6, "model.layers[0].Dense.activation", "did you mean 'relu'"),
    ("unknown-regularizer-arg", "    - Dense: {units: 4, kernel_regularizer: {L2: {l1: 0.1}}}", 6, "model.layers[0].Dense.kernel_regularizer.L2.l1", "did you mean 'l2'"),
    ("wrong-shape", "    - Conv2D: {filters: 4, kernel_size: 3}", 6, "model.layers[0]", "cannot take an input of shape"),
    ("forbidden-input-layer", "    - InputLayer: {shape: [3]}", 6, "model.layers[0]", "inputs come from"),
]


@pytest.mark.parametrize("layer, line, path, words", [c[1:] for c in BUILD_ERRORS], ids=[c[0] for c in BUILD_ERRORS])
def test_build_errors_are_spec_errors_at_their_line(layer, line, path, words):
    text = _spec(layer + "\n    - Dense: {units: 1}")
    with pytest.raises(SpecError) as caught:
        build_model(load_spec(text))
    assert words.lower() in str(caught.value).lower(), str(caught.value)
    assert caught.value.line == line, str(caught.value)
    assert caught.value.key_path == path


@pytest.mark.parametrize("train, path, words", [
    ("{loss: mse, optimizer: adamm}", "train.optimizer", "did you mean 'adam'"),
    ("{loss: mean_squared_eror}", "train.loss", "did you mean 'mean_squared_error'"),
    ("{loss: mse, optimizer: {SGD: {momentum: 0.9, nesterovv: true}}}", "train.optimizer.SGD.nesterovv", "did you mean 'nesterov'"),
    ("{loss: mse, metrics: [acuracy]}", "train.metrics[0]", "did you mean 'accuracy'"),
])
def test_compile_errors_are_spec_errors(train, path, words):
    text = f"version: 1\nmodel:\n  input_shape: [3]\n  layers: [Dense: {{units: 1}}]\ntrain: {train}\n"
    with pytest.raises(SpecError) as caught:
        build_model(load_spec(text))
    assert caught.value.key_path == path and words in str(caught.value).lower(), str(caught.value)
