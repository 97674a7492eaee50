"""The spec language as JSON Schema: used to validate specs and exported by `zoo schema`.

Component positions (a layer, an initializer, an optimizer...) are checked
here only for their shape, a name or `{ClassName: {kwargs}}`; the name
resolver checks the name and the keyword arguments against the class.
A `description` on a schema node is what an error message says was expected.
"""

from __future__ import annotations

import copy
from typing import Any

SPEC_VERSION = 1

HP_TYPES = ("Int", "Float", "Choice", "Boolean", "Fixed")

_COMPONENT = {
    "description": "a name or a one-key mapping {ClassName: {constructor arguments}}",
    "anyOf": [
        {"type": "string", "minLength": 1},
        {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "additionalProperties": {"type": ["object", "null"]},
        },
    ],
}

# The sugar a layer (or model.defaults) may carry beside constructor arguments.
_SUGAR = {
    "batch_norm": {"enum": ["before_activation", "after_activation", "none"]},
    "dropout": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
}

_LAYER_COMPONENT = copy.deepcopy(_COMPONENT)
_LAYER_COMPONENT["description"] = "a layer: a name or a one-key mapping {ClassName: {constructor arguments}}"
_LAYER_COMPONENT["anyOf"][1]["additionalProperties"]["properties"] = _SUGAR

_SHAPE = {
    "description": "a shape: a list of positive integers (null for a free dimension)",
    "type": "array",
    "items": {"type": ["integer", "null"], "minimum": 1},
    "minItems": 1,
}

_LAYER_ITEM = {
    "description": (
        "a layer (a name or {ClassName: {arguments}}), "
        "{repeat: N, layers: [...]} or {residual: [...]}"
    ),
    "anyOf": [
        {"$ref": "#/$defs/layer_component"},
        {
            "type": "object",
            "required": ["repeat", "layers"],
            "properties": {
                "repeat": {"type": "integer", "minimum": 1},
                "layers": {"$ref": "#/$defs/layers"},
            },
            "additionalProperties": False,
        },
        {
            "type": "object",
            "required": ["residual"],
            "properties": {
                "residual": {"$ref": "#/$defs/layers"},
                "projection": {"enum": ["auto", "dense", "conv"]},
            },
            "additionalProperties": False,
        },
    ],
}

_SPLIT = {
    "description": "a split name for TFDS (e.g. 'test', 'train[90%:]') or a data source mapping",
    "anyOf": [{"type": "string", "minLength": 1}, {"$ref": "#/$defs/source"}],
}

SOURCE_SCHEMA = {  # the `source` definition; data.register_source adds a user's sources to its properties
    "description": (
        "a data source: {sklearn: NAME}, {tfds: NAME}, {csv: PATH, label: COLUMN}, "
        "{parquet: PATH, label: COLUMN}, {npz: PATH}, {mnist1d: {...}}, or a registered source "
        "(data given in Python, zoo.train(spec, data=...), needs none)"
    ),
    "type": "object",
    "properties": {
        "sklearn": {"enum": ["digits", "iris", "wine", "breast_cancer", "diabetes"]},
        "tfds": {"type": "string", "minLength": 1},
        "csv": {"type": "string", "minLength": 1},
        "parquet": {"type": "string", "minLength": 1},
        "npz": {"type": "string", "minLength": 1},
        "mnist1d": {"type": ["object", "null"]},
        "split": {"type": "string", "minLength": 1},
        "data_dir": {"type": "string"},
        "label": {"type": "string", "minLength": 1},
        "features": {
            "description": "the feature columns: a list, or {input name: [columns]} to feed a graph's named inputs",
            "oneOf": [
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
                {"type": "object", "minProperties": 1,
                 "additionalProperties": {"type": "array", "items": {"type": "string"}, "minItems": 1}},
            ],
        },
        "x": {
            "description": "the npz key of the inputs, or {input name: key} to feed a graph's named inputs",
            "oneOf": [{"type": "string"}, {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"}}],
        },
        "y": {"type": "string"},
        "input_key": {"type": "string"},
        "label_key": {"type": "string"},
    },
    "additionalProperties": False,
    "minProperties": 1,
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://keras-zoo.invalid/spec.schema.json",
    "title": "keras-zoo spec",
    "type": "object",
    "required": ["version", "model"],
    "additionalProperties": False,
    "$defs": {
        "component": _COMPONENT,
        "layer_component": _LAYER_COMPONENT,
        "layers": {"type": "array", "items": {"$ref": "#/$defs/layer_item"}, "minItems": 1},
        "layer_item": _LAYER_ITEM,
        "shape": _SHAPE,
        "safe_name": {
            # One path component: it names a folder under runs/ or tuning/, so never `..` or a separator.
            "type": "string",
            "pattern": r"^(?!\.\.?$)[^/\\\x00-\x1f:*?\"<>|]{1,100}$",
            "description": "a name for a folder: 1 to 100 characters, no / \\ : * ? \" < > |, not . or ..",
        },
        "source": SOURCE_SCHEMA,
        "split": _SPLIT,
        "layered_model": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "input_shape": {"$ref": "#/$defs/shape"},
                "defaults": {
                    "type": "object",
                    "description": "constructor arguments applied to every layer that accepts them, plus batch_norm and dropout",
                    "properties": _SUGAR,
                    # Other keys are constructor arguments; the model builder refuses one that no layer takes.
                },
                "layers": {"$ref": "#/$defs/layers"},
                "head": {"enum": ["auto", "none"]},
                "inputs": {
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": {"$ref": "#/$defs/shape"},
                    "description": "graph inputs: {name: shape}",
                },
                "graph": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["name", "inputs", "layer"],
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                            "inputs": {
                                "anyOf": [
                                    {"type": "string"},
                                    {"type": "array", "items": {"type": "string"}, "minItems": 1},
                                ],
                                "description": "a node or input name, or a list of them",
                            },
                            "layer": {"$ref": "#/$defs/layer_component"},
                        },
                    },
                },
                "outputs": {
                    "anyOf": [
                        {"type": "string"},
                        {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    ],
                    "description": "a node name or a list of node names",
                },
            },
        },
    },
    "properties": {
        "version": {"description": f"the spec language version ({SPEC_VERSION})", "const": SPEC_VERSION},
        "name": {"$ref": "#/$defs/safe_name"},
        "description": {"type": "string"},
        "seed": {"type": "integer", "minimum": 0, "maximum": 2**32 - 1,
                 "description": "an integer from 0 to 2**32 - 1 (NumPy's and TensorFlow's seed range)"},
        "data": {
            "type": "object",
            # `source` may be absent when the data is given in Python; a run without either is refused by load_data.
            "additionalProperties": False,
            "properties": {
                "source": {"$ref": "#/$defs/source"},
                "validation_split": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                "test_split": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                "validation": {"$ref": "#/$defs/split"},
                "test": {"$ref": "#/$defs/split"},
                "normalize": {
                    "default": False,
                    "description": "statistics of the training split, inside the model: true (= channel), feature, "
                                   "global, center, pca, zca, or {method, epsilon, components}",
                    "anyOf": [
                        {"type": "boolean"},
                        {"enum": ["channel", "feature", "global", "center", "pca", "zca"]},
                        {"type": "object", "additionalProperties": False, "required": ["method"],
                         "properties": {"method": {"enum": ["channel", "feature", "global", "center", "pca", "zca"]},
                                        "epsilon": {"type": "number", "minimum": 0},
                                        "components": {"type": "integer", "minimum": 1}}},
                    ],
                },
                "scale_targets": {"type": "boolean", "default": False,
                                  "description": "regression: train on standardized targets, predict and report in their units"},
                "rescale": {"type": "number", "exclusiveMinimum": 0},
                "batch_size": {"type": "integer", "minimum": 1, "default": 32},
                "shuffle": {"type": ["boolean", "integer"], "minimum": 1, "default": True},
                "cache": {"type": "boolean", "default": True},
                "limit": {"type": "integer", "minimum": 1, "description": "use only the first N training rows"},
                "label_noise": {"type": "number", "minimum": 0, "exclusiveMaximum": 1,
                                "description": "classification: this fraction of the training rows get a label drawn "
                                               "uniformly from all classes (from the split's seed); validation and test "
                                               "labels stay as they are"},
                "allow_nan": {"type": "boolean", "default": False,
                              "description": "let NaN and infinity through in the features (a model that handles them); "
                                             "labels are always checked"},
                "labels": {"enum": ["auto", "sparse", "one_hot"], "default": "auto",
                           "description": "class labels as integers (sparse) or one-hot rows; auto: one-hot when the loss "
                                          "needs them (categorical_crossentropy, categorical_hinge, label_smoothing ...)"},
                "split_seed": {"type": "integer", "minimum": 0,
                               "description": "the seed of validation_split and test_split (default: the spec's seed); "
                                              "fix it to vary `seed` over the same split (ensembles of seeds)"},
                "classes": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "uniqueItems": True,
                            "description": "keep only rows with these labels, relabelled 0, 1, ... in this order"},
            },
        },
        "model": {
            "type": "object",
            # `model: {zoo: NAME, ...}`: a named architecture; its parameters are checked
            # against the family's signature by the builder.
            "if": {"required": ["zoo"]},
            "then": {
                "properties": {
                    "zoo": {"type": "string", "description": "a zoo architecture (zoo list)"},
                    "input_shape": {"$ref": "#/$defs/shape"},
                },
            },
            "else": {"$ref": "#/$defs/layered_model"},
        },
        "train": {
            "type": "object",
            "default": {},
            "additionalProperties": False,
            "properties": {
                "optimizer": {"$ref": "#/$defs/component", "default": "adam"},
                "loss": {"$ref": "#/$defs/component"},
                "metrics": {"type": "array", "items": {"$ref": "#/$defs/component"}},
                "epochs": {"type": "integer", "minimum": 1, "default": 10},
                "callbacks": {"type": "array", "items": {"$ref": "#/$defs/component"}, "default": []},
                "class_weight": {
                    "description": "balanced (each class weighted by rows / (classes * its rows)), or {class: weight}",
                    "anyOf": [{"enum": ["balanced"]},
                              {"type": "object", "minProperties": 1,
                               "additionalProperties": {"type": "number", "exclusiveMinimum": 0}}],
                },
            },
        },
        "pretrain": {
            "type": "object",
            "description": "greedy layer-wise pretraining before `train`: {mode, epochs_per_layer, head_epochs, optimizer, freeze, tied, noise, loss, k, persistent}",
            "additionalProperties": False,
            "properties": {
                "mode": {"enum": ["supervised", "unsupervised", "rbm"], "default": "supervised"},
                "epochs_per_layer": {
                    "default": 3,
                    "description": "a positive integer, or a list of them (one per hidden layer)",
                    "anyOf": [
                        {"type": "integer", "minimum": 1},
                        {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1},
                    ],
                },
                "head_epochs": {"type": "integer", "minimum": 1},
                "optimizer": {"$ref": "#/$defs/component"},
                "freeze": {"type": "boolean", "default": True},
                "tied": {"type": "boolean", "default": False,
                         "description": "unsupervised: each decoder reuses its encoder's kernel transposed (DenseTied)"},
                "noise": {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "default": 0.0,
                          "description": "unsupervised: fraction of each autoencoder's inputs zeroed while training (denoising)"},
                "loss": {"enum": ["auto", "binary_crossentropy", "mse"], "default": "auto",
                         "description": "unsupervised: the reconstruction's loss; auto is cross-entropy for probabilities"},
                "k": {"type": "integer", "minimum": 1, "default": 1, "description": "rbm: Gibbs steps of contrastive divergence"},
                "persistent": {"type": "boolean", "default": False, "description": "rbm: persistent contrastive divergence"},
            },
        },
        "transfer": {
            "type": "object",
            "description": "reuse the first layers of a saved model: {from, layers | until, mode, unfreeze}",
            "required": ["from"],
            "additionalProperties": False,
            "properties": {
                "from": {"type": "string", "minLength": 1, "description": "a .keras file or a finished run directory"},
                "layers": {"type": "integer", "minimum": 1, "description": "how many layers with weights to reuse"},
                "until": {"type": "string", "minLength": 1, "description": "the name of the last layer to reuse"},
                "mode": {"enum": ["feature_extraction", "fine_tune"], "default": "feature_extraction"},
                "unfreeze": {
                    "type": "object",
                    "required": ["after_epoch"],
                    "additionalProperties": False,
                    "properties": {
                        "after_epoch": {"type": "integer", "minimum": 0},
                        "layers": {"anyOf": [{"type": "integer", "minimum": 1}, {"const": "all"}],
                                   "description": "a positive integer or all"},
                        "learning_rate": {"type": "number", "exclusiveMinimum": 0},
                        "batch_norm": {"type": "boolean"},
                    },
                },
            },
        },
        "tune": {
            "type": "object",
            "description": "the search: {tuner, objective, max_trials, max_time, executions_per_trial, directory, project_name, ...}",
            "additionalProperties": False,
            "properties": {
                "tuner": {"$ref": "#/$defs/component", "default": "RandomSearch"},
                "objective": {
                    "description": "a logged metric name (val_accuracy) or {name: ..., direction: min|max}",
                    "anyOf": [
                        {"type": "string", "minLength": 1},
                        {"type": "object", "required": ["name", "direction"], "additionalProperties": False,
                         "properties": {"name": {"type": "string", "minLength": 1}, "direction": {"enum": ["min", "max"]}}},
                    ],
                },
                "max_trials": {"type": "integer", "minimum": 1},
                "max_time": {"type": "number", "exclusiveMinimum": 0, "description": "seconds; no new trial starts after it"},
                "parallel_trials": {"type": "integer", "minimum": 1, "default": 1,
                                    "description": "trials at once on this machine (zoo tune --workers N overrides it)"},
                "worker_timeout": {"type": "number", "exclusiveMinimum": 0,
                                   "description": "distributed chief: seconds of a worker's silence before its trial is handed on"},
                "executions_per_trial": {"type": "integer", "minimum": 1, "default": 1},
                "max_retries_per_trial": {"type": "integer", "minimum": 0, "default": 0},
                "max_consecutive_failed_trials": {"type": "integer", "minimum": 1, "default": 3},
                "directory": {"type": "string", "minLength": 1, "default": "tuning",
                              "description": "where search directories go (default tuning)"},
                "project_name": {"$ref": "#/$defs/safe_name"},
                "top": {"type": "integer", "minimum": 1, "default": 5, "description": "rows of the results table (default 5)"},
            },
        },
        "runtime": {
            "type": "object",
            "default": {},
            "additionalProperties": False,
            "properties": {
                "precision": {"enum": ["float32", "mixed_float16", "mixed_bfloat16"], "default": "float32"},
                "jit_compile": {"anyOf": [{"type": "boolean"}, {"const": "auto"}], "description": "true, false or auto",
                                "default": "auto"},
                "steps_per_execution": {"anyOf": [{"type": "integer", "minimum": 1}, {"const": "auto"}], "default": 1,
                                        "description": "batches per compiled call: a number, or auto (up to 32 on a GPU or TPU, 1 on a CPU)"},
                "deterministic": {"type": "boolean", "default": False},
                "run_eagerly": {"type": "boolean", "default": False,
                                "description": "train step by step in Python, without tracing a graph: for debugging, "
                                               "and for runs so short that tracing would dominate"},
                "distribution": {
                    "type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
                    "description": "Keras's own keras.distribution on the JAX backend: {DataParallel: {devices: N}}",
                    "properties": {"DataParallel": {
                        "type": "object", "default": {}, "additionalProperties": False,
                        "properties": {"devices": {
                            "anyOf": [{"type": "integer", "minimum": 1},
                                      {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}],
                            "description": "how many of the devices (the first N), or their names (gpu:0, ...); default all"}},
                    }},
                },
                "strategy": {"enum": ["default", "mirrored", "multi_worker"], "default": "default",
                             "description": "default, mirrored (this machine's GPUs) or multi_worker (TF_CONFIG)"},
            },
        },
        "output": {
            "type": "object",
            "default": {},
            "additionalProperties": False,
            "properties": {
                "directory": {"type": "string", "minLength": 1, "description": "where run directories go (default runs)",
                              "default": "runs"},
                "tensorboard": {"type": "boolean", "default": True},
                "plots": {"type": "boolean", "default": True},
                "mlflow": {
                    "description": "log params, per-epoch metrics, the spec and the model to MLflow "
                                   "(pip install 'keras-zoo[mlflow]'); {} logs to <directory>/mlflow.db",
                    "type": ["object", "null"],
                    "default": None,
                    "additionalProperties": False,
                    "properties": {
                        "tracking_uri": {"type": "string", "minLength": 1,
                                         "description": "an MLflow tracking URI (default sqlite:///<directory>/mlflow.db)"},
                        "experiment": {"type": "string", "minLength": 1, "maxLength": 200,
                                       "description": "the MLflow experiment (default: the spec's name)"},
                        "log_model": {"type": "boolean", "default": True, "description": "log model.keras as an artifact"},
                    },
                },
            },
        },
    },
}

MARKER_SCHEMA = {
    "type": "object",
    "description": "a KerasTuner hyperparameter: {hp: Int|Float|Choice|Boolean|Fixed, ...its arguments}",
    "required": ["hp"],
    "properties": {"hp": {"enum": list(HP_TYPES)}, "name": {"type": "string"}},
}


def editor_schema() -> dict[str, Any]:
    """The schema for editors: every scalar position may also hold an `{hp: ...}` marker."""
    schema = copy.deepcopy(SCHEMA)
    schema["$defs"]["hp_marker"] = MARKER_SCHEMA
    _allow_markers(schema)
    return schema


def _allow_markers(node: Any) -> None:
    if isinstance(node, dict):
        for key in ("properties", "$defs"):
            for name, child in list(node.get(key, {}).items()):
                if name == "hp_marker":
                    continue
                _allow_markers(child)
                if isinstance(child, dict) and ("type" in child or "enum" in child or "const" in child) and not child.get("properties"):
                    node[key][name] = {"anyOf": [child, {"$ref": "#/$defs/hp_marker"}]}
        for key in ("anyOf", "items", "additionalProperties"):
            value = node.get(key)
            if isinstance(value, list):
                for child in value:
                    _allow_markers(child)
            elif isinstance(value, dict):
                _allow_markers(value)
