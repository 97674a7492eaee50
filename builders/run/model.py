"""The `model` and `train` sections: a plain, compiled `keras.Model`.

The model is exactly what a person would write by hand: `defaults` become
constructor arguments of the layers that accept them, `batch_norm:
before_activation` means `Dense(use_bias=False, activation=None)`,
`BatchNormalization()`, `Activation(...)`, and `dropout` is a `Dropout`
after each block. The output layer never takes the BN / dropout sugar.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import keras
import numpy as np

from zoo.builders.data.load import DataInfo
from zoo.builders.spec.errors import closest
from zoo.builders.spec.resolve import (
    accepted_arguments,
    check_arguments,
    construct,
    lookup,
    names,
    resolve,
    resolve_arguments,
    split_component,
)
from zoo.builders.spec.document import Spec

__all__ = ["build_model", "compile_model", "default_loss", "default_metrics", "keras_name", "label_form", "reconstructs"]

_SUGAR = ("batch_norm", "dropout")



def keras_name(name: str) -> str:
    """The run name as a Keras model name every backend takes: TensorFlow's root name scopes allow only
    ASCII letters, digits and `_.-` (starting with a letter, digit or dot), so other characters become `_`
    and a name that starts with anything else gets a leading `m`. Folders keep the name as written."""
    mapped = re.sub(r"[^A-Za-z0-9_.-]", "_", name or "model")
    return mapped if re.match(r"[A-Za-z0-9.]", mapped) else "m" + mapped

def default_loss(task: str) -> str:
    losses = {"regression": "mean_squared_error", "reconstruction": "mean_squared_error", "binary": "binary_crossentropy"}
    return losses.get(task, "sparse_categorical_crossentropy")


def default_metrics(task: str) -> list[str]:
    if task == "reconstruction":
        return []
    return ["mae"] if task == "regression" else ["accuracy"]


class _Builder:
    """Applies one spec's `model` section to Keras tensors."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        defaults = dict(spec.get("model", "defaults") or {})
        self.sugar = {key: defaults.pop(key) for key in _SUGAR if key in defaults}
        self.defaults = defaults
        self.accepted: set[str] = set()  # every argument some layer of the model takes

    def check_defaults_used(self) -> None:
        """A key under `defaults` that no layer of the model takes is a mistake (often a misspelling)."""
        for key in self.defaults:
            if key not in self.accepted:
                raise self.spec.error(("model", "defaults", key), f"no layer of this model takes {key!r}, so the default "
                                      "would be ignored.", closest(key, self.accepted))

    # -- one layer, with defaults and sugar ------------------------------------
    def layer(self, value: Any, path: tuple, output: bool, layer_name: str | None = None) -> list[keras.layers.Layer]:
        name, arguments = split_component(value, self.spec, path, "a layer")
        if layer_name is not None:
            arguments.setdefault("name", layer_name)
        cls = lookup("layer", name, self.spec, path)
        accepted = accepted_arguments(cls) or frozenset()
        self.accepted |= accepted if accepted_arguments(cls) is not None else set(self.defaults)
        activation_layer = None
        if "activation" in accepted:
            if "activation" in arguments:
                activation_layer = self.activation_layer(arguments["activation"], path + (name, "activation"))
            elif "activation" in self.defaults:
                activation_layer = self.activation_layer(self.defaults["activation"], ("model", "defaults", "activation"))
            if activation_layer is not None:
                arguments["activation"] = None  # the layer after this one is the activation
        sugar = dict(self.sugar) if not output else {}
        for key in _SUGAR:
            if key in arguments and key not in accepted:
                sugar[key] = arguments.pop(key)
        check_arguments(cls, arguments, self.spec, path, name)
        arguments = resolve_arguments(arguments, self.spec, path + (name,))
        if output and "dtype" in accepted and "dtype" not in arguments and keras.mixed_precision.dtype_policy().name.startswith("mixed"):
            # Keras's mixed-precision advice: the output (softmax, loss) in float32.
            arguments["dtype"] = "float32"
        inherited = {k: v for k, v in self.defaults.items() if k in accepted and k not in arguments}
        # Resolved per layer (each gets its own initializer object), in argument order as
        # a hand-written constructor call would; errors point at the `defaults` line.
        arguments.update(resolve_arguments(inherited, self.spec, ("model", "defaults")))
        takes_activation = "activation" in accepted
        batch_norm = sugar.get("batch_norm", "none") if takes_activation else "none"
        activation = arguments.get("activation")
        layers: list[keras.layers.Layer] = []
        if batch_norm == "before_activation":
            arguments["activation"] = None
            if "use_bias" in accepted:
                arguments["use_bias"] = False  # BN's beta plays the bias
        layers.append(construct(cls, arguments, self.spec, path, name))
        if activation_layer is not None and batch_norm != "before_activation":
            layers.append(activation_layer)
        if batch_norm in ("before_activation", "after_activation"):
            layers.append(keras.layers.BatchNormalization())
        if batch_norm == "before_activation":
            if activation_layer is not None:
                layers.append(activation_layer)
            elif activation not in (None, "linear"):
                layers.append(keras.layers.Activation(activation))
        rate = sugar.get("dropout") or 0
        if takes_activation and rate:
            layers.append(keras.layers.Dropout(rate))
        return layers

    def activation_layer(self, value: Any, path: tuple) -> keras.layers.Layer | None:
        """An activation that is a layer (`noisy_relu`, `PReLU`, `{LeakyReLU: {...}}`), built; else None.

        Such activations need weights or the training flag, which an activation
        function does not get, so they become a layer after the one that names them.
        """
        from zoo.activations import LAYER_ACTIVATIONS

        if isinstance(value, str):
            name, arguments = LAYER_ACTIVATIONS.get(value, value), {}
        elif isinstance(value, dict) and len(value) == 1:
            name, arguments = split_component(value, self.spec, path, "an activation")
        else:
            return None
        if name in names("activation") or name not in names("layer"):
            return None
        cls = lookup("layer", name, self.spec, path)
        check_arguments(cls, arguments, self.spec, path, name)
        return construct(cls, resolve_arguments(arguments, self.spec, path + (name,)), self.spec, path, name)

    # -- chains, repeats, residuals -----------------------------------------------
    def chain(self, x: Any, items: Sequence[Any], path: tuple, top: bool) -> Any:
        last = len(items) - 1
        for index, item in enumerate(items):
            item_path = path + (index,)
            if isinstance(item, dict) and "repeat" in item:
                for _ in range(item["repeat"]):
                    x = self.chain(x, item["layers"], item_path + ("layers",), top=False)
            elif isinstance(item, dict) and "residual" in item:
                x = self.residual(x, item, item_path)
            else:
                for layer in self.layer(item, item_path, output=top and index == last):
                    x = self.call(layer, x, item_path)
        return x

    def residual(self, x: Any, item: dict, path: tuple) -> Any:
        shortcut = x
        y = self.chain(x, item["residual"], path + ("residual",), top=False)
        if tuple(shortcut.shape[1:]) != tuple(y.shape[1:]):
            shortcut = self.call(self.projection(shortcut, y, item.get("projection", "auto"), path), shortcut, path)
        return self.call(keras.layers.Add(), [shortcut, y], path)

    def projection(self, shortcut: Any, y: Any, kind: str, path: tuple) -> keras.layers.Layer:
        rank = len(y.shape) - 2  # spatial dimensions
        if kind == "dense" or (kind == "auto" and rank == 0):
            return keras.layers.Dense(y.shape[-1], use_bias=False)
        if rank not in (1, 2, 3) or len(shortcut.shape) != len(y.shape):
            raise self.spec.error(path, f"cannot project a residual input of shape {tuple(shortcut.shape[1:])} to {tuple(y.shape[1:])}.")
        strides = []
        for before, after in zip(shortcut.shape[1:-1], y.shape[1:-1]):
            if before is None or after is None or before % after:
                raise self.spec.error(path, f"the residual block changes the spatial shape {tuple(shortcut.shape[1:-1])} -> {tuple(y.shape[1:-1])}, which no strided 1x1 convolution matches.")
            strides.append(before // after)
        conv = {1: keras.layers.Conv1D, 2: keras.layers.Conv2D, 3: keras.layers.Conv3D}[rank]
        return conv(y.shape[-1], 1, strides=tuple(strides), use_bias=False)

    def call(self, layer: keras.layers.Layer, x: Any, path: tuple) -> Any:
        try:
            return layer(x)
        except (ValueError, TypeError) as error:
            shape = [tuple(t.shape) for t in x] if isinstance(x, list) else tuple(x.shape)
            raise self.spec.error(path, f"{type(layer).__name__} cannot take an input of shape {shape}: {_first_line(error)}") from None


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _input_preprocessing(spec: Spec, info: DataInfo | None, name: str | None = None) -> list[keras.layers.Layer]:
    """Rescaling and normalization (training-split statistics) of the input, or of the named input `name`:
    `data.normalize` per channel (true), per feature, global, or whitening (center, pca, zca)."""
    from zoo.builders.data.load import normalize_settings

    layers: list[keras.layers.Layer] = []
    suffix = (lambda kind: None) if name is None else (lambda kind: f"{name}_{kind}")
    rescale = spec.get("data", "rescale")
    if rescale:
        layers.append(keras.layers.Rescaling(rescale, name=suffix("rescaling")))
    settings = normalize_settings(spec.get("data", "normalize"))
    if not settings or info is None:
        return layers
    method = settings["method"]
    if info.whitening is not None:
        from zoo.layers import Whitening

        mean, matrix = info.whitening[name] if isinstance(info.whitening, dict) else info.whitening
        layer = Whitening(method, epsilon=settings["epsilon"], components=settings["components"], name=suffix("whitening"))
        layer.set_statistics(mean, matrix)
        layers.append(layer)
    elif info.mean is not None:
        mean, variance = (info.mean, info.variance) if name is None or not isinstance(info.mean, dict) else (info.mean[name], info.variance[name])
        variance = _unit_if_constant(mean, variance)
        if method == "global":  # one mean and variance
            axis, mean, variance = None, float(mean), float(variance)
        else:  # per value of a row, or per channel (the last axis)
            axis = tuple(range(1, np.ndim(mean) + 1)) if method == "feature" else -1
        layers.append(keras.layers.Normalization(axis=axis, mean=mean, variance=variance, name=suffix("normalization")))
    return layers


def _in_target_units(spec: Spec, model: keras.Model, info: DataInfo) -> keras.Model:
    """`data.scale_targets`: the model's output becomes z·std + mean, a fixed layer, so that it predicts in the
    targets' own units while the loss (`StandardizedLoss`) sees unit-scale values."""
    if len(model.outputs) != 1 or model.outputs[0].shape[-1] != len(info.target_mean):
        raise spec.error(("data", "scale_targets"), f"the model's output has shape {model.outputs[0].shape[1:]}, "
                         f"the targets {len(info.target_mean)} value(s) per row.")
    scaling = keras.layers.Rescaling(scale=info.target_std, offset=info.target_mean, dtype="float32", name="target_units")
    return keras.Model(model.inputs, scaling(model.outputs[0]), name=model.name)


def _unit_if_constant(mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """A feature constant in the training split is only centred, as scikit-learn's StandardScaler does.

    Keras divides by max(std, 1e-7): a pixel that is always 0 in training and 16 once
    in validation would become 1.6e8 there (validation losses in the thousands on digits).
    """
    mean, variance = np.asarray(mean, dtype="float64"), np.asarray(variance, dtype="float64")
    constant = np.sqrt(np.maximum(variance, 0.0)) <= 1e-6 * np.maximum(1.0, np.abs(mean))
    return np.where(constant, 1.0, variance)


def _output(info: DataInfo) -> tuple[int, str]:
    """Output units and activation for the data's task."""
    return {
        "regression": (info.output_dim, "linear"),
        "binary": (1, "sigmoid"),
        "multiclass": (info.num_classes, "softmax"),
    }[info.task]


def label_form(spec: Spec) -> str | None:
    """The form of class labels `train.loss` takes: "sparse" (integers: sparse_categorical_crossentropy),
    "one_hot" (one column per class: categorical_crossentropy, categorical_hinge, categorical focal loss,
    KL divergence), or None (binary and regression losses, a user's own loss, or no loss given)."""
    loss = (spec.tree.get("train") or {}).get("loss")
    name = loss if isinstance(loss, str) else next(iter(loss)) if isinstance(loss, dict) and len(loss) == 1 else None
    if not isinstance(name, str):
        return None
    plain = name.split(">")[-1].replace("_", "").lower()
    if "sparsecategorical" in plain:
        return "sparse"
    if "categorical" in plain or plain in ("kldivergence", "kld", "kullbackleiblerdivergence"):
        return "one_hot"
    return None


def _head(spec: Spec, info: DataInfo | None) -> keras.layers.Layer:
    if info is None:
        raise spec.error(("model", "head"), "head: auto needs a `data` section to tell the task (regression, binary or multiclass).")
    units, activation = _output(info)
    if info.task == "binary" and label_form(spec) is not None:  # a categorical loss on two classes: a unit each
        units, activation = 2, "softmax"
    # float32 output keeps the loss stable under mixed precision.
    return keras.layers.Dense(units, activation=activation, dtype="float32", name="head")


def _needs_data(spec: Spec) -> bool:
    """Whether building needs facts only the data knows (shape, task, statistics)."""
    data, model = spec.section("data"), spec.section("model")
    if not data:
        return False
    return (
        "zoo" in model
        or ("graph" not in model and not model.get("input_shape"))
        or model.get("head") == "auto"
        or bool(data.get("normalize"))
        or "loss" not in spec.section("train")
    )


def build_model(spec: Spec, info: DataInfo | None = None, compile: bool = True) -> keras.Model:
    """The spec's model as a `keras.Model`, compiled with the `train` section when `compile`.

    Args:
        spec: a loaded spec; hyperparameter markers take their defaults.
        info: what the data says (input shape, task, normalization statistics).
            When None, the data is loaded if the model needs any of these.
    """
    spec = spec.resolved()
    section = spec.section("model")
    if info is None and _needs_data(spec):
        from zoo.builders.data.load import load_data

        info = load_data(spec).info
    builder = _Builder(spec)
    if spec.section("transfer"):
        model = _build_transfer(spec, builder, info)
    elif "zoo" in section:
        model = _build_zoo(spec, info)
    elif "graph" in section:
        model = _build_graph(spec, builder, info)
    else:
        if "layers" not in section:
            raise spec.error(("model",), "the model needs `layers:` (a chain) or `graph:` with `inputs` and `outputs`.")
        shape = section.get("input_shape") or (info.input_shape if info else None)
        if shape is None:
            raise spec.error(("model",), "the input shape is unknown: give model.input_shape or a `data` section.")
        if info is not None and section.get("input_shape") and tuple(section["input_shape"]) != tuple(info.input_shape):
            raise spec.error(("model", "input_shape"), f"model.input_shape {list(section['input_shape'])} does not match the data, whose rows have shape {list(info.input_shape)}.")
        inputs = keras.Input(shape=tuple(shape), name="inputs")
        x = inputs
        for layer in _input_preprocessing(spec, info):
            x = layer(x)
        auto_head = section.get("head") == "auto"
        x = builder.chain(x, section["layers"], ("model", "layers"), top=not auto_head)
        if auto_head:
            x = _head(spec, info)(x)
        model = keras.Model(inputs, x, name=keras_name(spec.name))
    if "zoo" not in section:
        builder.check_defaults_used()
    if info is not None and info.target_mean is not None:
        model = _in_target_units(spec, model, info)
    if compile:
        compile_model(model, spec, info)
    return model


def load_transfer_source(spec: Spec) -> keras.Model:
    """The saved model a spec's `transfer.from` names: a .keras file or a finished run directory."""
    from zoo.builders.data.load import find_file
    from zoo.builders.spec.resolve import load_project_classes

    path = find_file(spec, ("transfer", "from"), spec.get("transfer", "from"),
                     "the transfer source (a .keras file or a finished run directory)")
    if path.is_dir():
        path = path / "model.keras"
        if not path.exists():
            raise spec.error(("transfer", "from"), f"{path.parent} holds no model.keras: is it a finished run directory?")
    load_project_classes()
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)  # its optimizer is not reused
    except (ValueError, OSError) as error:
        raise spec.error(("transfer", "from"), f"cannot load {path}: {_first_line(error)}") from None


def _build_transfer(spec: Spec, builder: _Builder, info: DataInfo | None) -> keras.Model:
    """The source's first layers (its input preprocessing included), then `model.layers` and the head."""
    from zoo.callbacks.transfer import reused_blocks

    section, transfer = spec.section("model"), spec.section("transfer")
    if "layers" not in section:
        raise spec.error(("model",), "with `transfer`, model.layers are the new layers on top of the reused ones.")
    if "layers" in transfer and "until" in transfer:
        raise spec.error(("transfer", "until"), "give transfer.layers (a count) or transfer.until (a layer name), not both.")
    source = load_transfer_source(spec)
    key = "until" if "until" in transfer else "layers"
    try:
        blocks = reused_blocks(source, transfer.get(key, 1))
    except ValueError as error:
        raise spec.error(("transfer", key), str(error)) from None
    if info is not None and tuple(source.input_shape[1:]) != tuple(info.input_shape):
        raise spec.error(("transfer", "from"), f"the saved model takes rows of shape {list(source.input_shape[1:])}, "
                         f"the data's rows have shape {list(info.input_shape)}.")
    frozen = transfer["mode"] == "feature_extraction"
    inputs = keras.Input(shape=source.input_shape[1:], name="inputs")
    x = inputs
    for layer in [layer for block in blocks for layer in block]:
        if layer.weights:
            layer.trainable = not frozen
        x = layer(x)
    auto_head = section.get("head") == "auto"
    x = builder.chain(x, section["layers"], ("model", "layers"), top=not auto_head)
    if auto_head:
        x = _head(spec, info)(x)
    return keras.Model(inputs, x, name=keras_name(spec.name))


def reconstructs(spec: Spec) -> bool:
    """Whether the spec's model is trained to reproduce its inputs (a zoo autoencoder, vae, or unet without classes)."""
    name = spec.get("model", "zoo")
    if name is None:
        return False
    from zoo import architectures

    if name not in architectures.names():
        return False
    accepted = architectures.parameters(name)
    params = {k: v for k, v in spec.section("model").items() if k in accepted and k != "input_shape"}
    try:
        return architectures.reconstructs(name, **params)
    except TypeError:  # a bad parameter's value: the build reports it where it is
        return architectures.reconstructs(name)


def _build_zoo(spec: Spec, info: DataInfo | None) -> keras.Model:
    """`model: {zoo: NAME, params...}`: a named architecture, fitted to the data's shape and task."""
    from zoo import architectures

    section = spec.section("model")
    name = section["zoo"]
    if name not in architectures.names():
        raise spec.error(("model", "zoo"), f"unknown architecture {name!r}; see `zoo list`.", closest(name, architectures.names()))
    accepted = architectures.parameters(name)
    params = {k: v for k, v in section.items() if k not in ("zoo", "input_shape")}
    for key, value in params.items():
        if key not in accepted:
            raise spec.error(("model", key), f"architecture {name!r} takes no parameter {key!r}; its parameters are {', '.join(accepted)}.", closest(key, accepted))
        _check_like_default(spec, ("model", key), value, accepted[key])
    shape = section.get("input_shape") or (info.input_shape if info else None)
    if shape is None:
        raise spec.error(("model",), "the input shape is unknown: give model.input_shape or a `data` section.")
    if info is not None and "outputs" in accepted and "outputs" not in params:
        units, activation = _output(info)
        params["outputs"] = units
        params.setdefault("output_activation", activation)
    try:
        network = architectures.get(name, input_shape=tuple(shape), **params)
    except ValueError as error:
        mentioned = re.search(r"argument `(\w+)`", str(error))
        where = ("model", mentioned.group(1)) if mentioned and mentioned.group(1) in params else ("model", "zoo")
        raise spec.error(where, f"{name}: {error}") from None
    preprocessing = _input_preprocessing(spec, info)
    if not preprocessing:
        return network
    inputs = keras.Input(shape=tuple(shape), name="inputs")
    x = inputs
    for layer in preprocessing:
        x = layer(x)
    return keras.Model(inputs, network(x), name=keras_name(spec.name))


def _check_like_default(spec: Spec, path: tuple, value: Any, default: Any) -> None:
    """A zoo architecture's argument has the type of its default (a flag is true or false, a count an integer)."""
    if isinstance(default, bool) and not isinstance(value, bool):
        raise spec.error(path, f"expected true or false, got {value!r}.")
    if isinstance(default, int) and not isinstance(default, bool) and (isinstance(value, bool) or not isinstance(value, int)):
        raise spec.error(path, f"expected an integer, got {value!r}.")
    if isinstance(default, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise spec.error(path, f"expected a number, got {value!r}.")
    if isinstance(default, str) and not isinstance(value, (str, dict)):
        raise spec.error(path, f"expected a name, got {value!r}.")


def _build_graph(spec: Spec, builder: _Builder, info: DataInfo | None) -> keras.Model:
    section = spec.section("model")
    for key in ("inputs", "outputs"):
        if key not in section:
            raise spec.error(("model",), f"a graph model needs `model.{key}`.")
    tensors: dict[str, Any] = {}
    shapes = info.input_shape if info is not None else None
    if isinstance(shapes, dict):  # the data feeds named inputs: the same names, the same shapes
        if set(shapes) != set(section["inputs"]):
            raise spec.error(("model", "inputs"), f"the data feeds the inputs {sorted(shapes)}, the graph declares "
                             f"{sorted(section['inputs'])}; name the same inputs in both.")
    elif shapes is not None and len(section["inputs"]) > 1:
        raise spec.error(("model", "inputs"), f"the graph has {len(section['inputs'])} inputs but the data feeds one array "
                         f"of rows shaped {list(shapes)}; give the data source named inputs (csv/parquet "
                         "`features: {input: [columns]}`, npz `x: {input: key}`).")
    for name, shape in section["inputs"].items():
        expected = shapes.get(name) if isinstance(shapes, dict) else (shapes if shapes is not None else None)
        if expected is not None and tuple(shape) != tuple(expected):
            raise spec.error(("model", "inputs", name), f"the input {name!r} is declared {list(shape)} but the data's rows "
                             f"for it have shape {list(expected)}.")
        tensors[name] = keras.Input(shape=tuple(shape), name=name)
    inputs = list(tensors.values())
    for name in list(tensors):
        for layer in _input_preprocessing(spec, info, name if isinstance(shapes, dict) else None):
            tensors[name] = layer(tensors[name])
    outputs = section["outputs"] if isinstance(section["outputs"], list) else [section["outputs"]]
    for index, node in enumerate(section["graph"]):
        path = ("model", "graph", index)
        if node["name"] in tensors:
            raise spec.error(path + ("name",), f"the name {node['name']!r} is used twice in the graph.")
        sources = node["inputs"] if isinstance(node["inputs"], list) else [node["inputs"]]
        for source in sources:
            if source not in tensors:
                raise spec.error(path + ("inputs",), f"{source!r} is not an input or an earlier node.", closest(source, tensors))
        # `inputs: [x]`, as YAML users write one input, means the tensor itself; a list of several is a list.
        x = [tensors[s] for s in sources] if len(sources) > 1 else tensors[sources[0]]
        for layer in builder.layer(node["layer"], path + ("layer",), output=node["name"] in outputs, layer_name=node["name"]):
            x = builder.call(layer, x, path)
        tensors[node["name"]] = x
    for index, name in enumerate(outputs):
        if name not in tensors:
            raise spec.error(("model", "outputs"), f"{name!r} is not a node of the graph.", closest(name, tensors))
    result = [tensors[name] for name in outputs]
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], result if len(result) > 1 else result[0], name=keras_name(spec.name))


def compile_model(model: keras.Model, spec: Spec, info: DataInfo | None = None) -> keras.Model:
    """Compile with the `train` section's optimizer, loss and metrics (resolved by name)."""
    spec = spec.resolved()
    section = spec.section("train")
    optimizer = resolve(section["optimizer"], "optimizer", spec, ("train", "optimizer"))
    task = "reconstruction" if reconstructs(spec) else (info.task if info is not None else None)
    if "loss" in section:
        loss = resolve(section["loss"], "loss", spec, ("train", "loss"))
    elif task is not None:
        loss = default_loss(task)
    else:
        raise spec.error(("train",), "train.loss is needed when there is no data to infer it from.")
    if info is not None and info.target_mean is not None:
        from zoo.losses import StandardizedLoss

        loss = StandardizedLoss(loss, mean=info.target_mean, std=info.target_std)
    metrics = [resolve(m, "metric", spec, ("train", "metrics", i)) for i, m in enumerate(section.get("metrics", []))]
    if "metrics" not in section and task is not None:
        metrics = default_metrics(task)
    runtime = spec.tree["runtime"]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, run_eagerly=runtime["run_eagerly"],
                  jit_compile=False if runtime["run_eagerly"] else runtime["jit_compile"],
                  steps_per_execution=steps_per_execution(runtime["steps_per_execution"], spec, info))
    return model


AUTO_STEPS_PER_EXECUTION = 32


def steps_per_execution(value: int | str, spec: Spec, info: DataInfo | None) -> int:
    """`runtime.steps_per_execution` as Keras takes it. `auto`: on a GPU or TPU, where dispatching each
    small step costs more than running it, up to 32 batches per call (never more than an epoch holds);
    on a CPU, 1, where the step itself dominates and per-batch callbacks see every batch."""
    if value != "auto":
        return value
    accelerated = any(not device.lower().startswith("cpu") for device in keras.distribution.list_devices())
    if not accelerated:
        return 1
    rows = (info.sizes.get("train") if info is not None else None) or 0
    batch_size = (spec.tree.get("data") or {}).get("batch_size") or 32
    return max(1, min(AUTO_STEPS_PER_EXECUTION, -(-rows // batch_size) if rows else AUTO_STEPS_PER_EXECUTION))
