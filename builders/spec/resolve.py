"""One name resolver for every component position in a spec.

A component is a string name or a one-key mapping `{ClassName: {kwargs}}`.
Names resolve against the project's registered classes first (everything
`zoo` registers with `register_keras_serializable(package="zoo")`), then
Keras's own, by the category the position implies. Keyword arguments are
checked against the class's constructor before it is called, and nested
components (`kernel_initializer: {HeNormal: {seed: 1}}`) are resolved by
the category their argument name implies.
"""

from __future__ import annotations

import functools
import inspect
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import keras

from zoo.builders.spec.document import Spec
from zoo.builders.spec.errors import SpecError, closest

__all__ = ["CATEGORIES", "resolve", "lookup", "accepted_arguments", "names", "argument_category"]

# Classes that carry Python code or load code from disk: never from text.
_FORBIDDEN_LAYERS = {
    "Lambda": "Lambda layers carry Python code, which a spec cannot hold; "
    "write a Layer subclass, register it with keras.saving.register_keras_serializable and name it here.",
    "TFSMLayer": "TFSMLayer loads a SavedModel from disk; use `transfer` to reuse a saved model.",
    "Layer": "`Layer` is the abstract base class; name a concrete layer.",
    "InputLayer": "inputs come from `model.input_shape` or `model.inputs`, not from a layer.",
    "Wrapper": "`Wrapper` is an abstract base class; name a concrete wrapper such as Bidirectional.",
    "Input": "inputs come from `model.input_shape` or `model.inputs`, not from a layer.",
}


@dataclass(frozen=True)
class Category:
    """A component position: where its classes live and how Keras reads a string there."""

    name: str
    module: str
    base: str | None  # attribute of `module` that every class here subclasses
    getter: bool = True  # whether `module.get(string)` resolves string identifiers
    functions: bool = False  # whether plain functions are components (activations, losses)

    def keras_module(self) -> Any:
        module: Any = keras
        for part in self.module.split(".")[1:]:
            module = getattr(module, part)
        return module

    def base_class(self) -> type | None:
        return getattr(self.keras_module(), self.base) if self.base else None


CATEGORIES: dict[str, Category] = {
    category.name: category
    for category in (
        Category("layer", "keras.layers", "Layer", getter=False),
        Category("initializer", "keras.initializers", "Initializer"),
        Category("regularizer", "keras.regularizers", "Regularizer"),
        Category("constraint", "keras.constraints", "Constraint"),
        Category("activation", "keras.activations", None, functions=True),
        Category("optimizer", "keras.optimizers", "Optimizer"),
        Category("schedule", "keras.optimizers.schedules", "LearningRateSchedule", getter=False),
        Category("loss", "keras.losses", "Loss", functions=True),
        Category("metric", "keras.metrics", "Metric", functions=True),
        Category("callback", "keras.callbacks", "Callback", getter=False),
    )
}

_NOT_COMPONENTS = {"get", "serialize", "deserialize"}


def load_project_classes() -> None:
    """Importing the modules registers their classes with Keras (`zoo>Name`)."""
    import zoo.activations  # noqa: F401
    import zoo.architectures  # noqa: F401
    import zoo.callbacks  # noqa: F401
    import zoo.layers  # noqa: F401
    import zoo.losses  # noqa: F401
    import zoo.optimizers  # noqa: F401
    import zoo.schedules  # noqa: F401


@functools.lru_cache(maxsize=None)
def names(category: str) -> dict[str, Any]:
    """Every name valid in `category`, mapped to its class or function.

    The project's registered names come first and win over Keras's.
    """
    load_project_classes()
    spec = CATEGORIES[category]
    base = spec.base_class()
    found: dict[str, Any] = {}
    for key, obj in keras.saving.get_custom_objects().items():
        if not key.startswith("zoo>"):
            continue
        if _belongs(obj, base, spec.functions) and not (base is None and inspect.isclass(obj)):
            found[key.split(">", 1)[1]] = obj
    module = spec.keras_module()
    for attribute in dir(module):
        if attribute.startswith("_") or attribute in _NOT_COMPONENTS or attribute in found:
            continue
        obj = getattr(module, attribute)
        if _belongs(obj, base, spec.functions):
            found[attribute] = obj
    if spec.getter:
        # Keras's string aliases ("he_normal", "l2", "adam", "mse", "accuracy").
        for attribute in list(found):
            alias = _snake(attribute)
            if alias not in found and _keras_get(spec, alias) is not None:
                found[alias] = alias
    return found


def _belongs(obj: Any, base: type | None, functions: bool) -> bool:
    if inspect.isclass(obj):
        return base is not None and issubclass(obj, base) and obj is not base
    return functions and inspect.isfunction(obj)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _keras_get(category: Category, name: str) -> Any:
    try:
        return category.keras_module().get(name)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def lookup(category: str, name: str, spec: Spec, path: Sequence[str | int]) -> Any:
    """The class or function that `name` means in `category`, or a SpecError."""
    if category == "layer" and name in _FORBIDDEN_LAYERS:
        raise spec.error(path, _FORBIDDEN_LAYERS[name])
    catalogue = names(category)
    if name in catalogue:
        return catalogue[name]
    info = CATEGORIES[category]
    if info.getter and _keras_get(info, name) is not None:
        return name  # one of Keras's own aliases, such as "mse"
    valid = [n for n in catalogue if n not in _FORBIDDEN_LAYERS]
    raise spec.error(path, f"unknown {category} {name!r}.", closest(name, valid))


def argument_category(argument: str) -> str | None:
    """The component category an argument name implies (`kernel_initializer` -> initializer)."""
    for suffix in ("initializer", "regularizer", "constraint"):
        if argument.endswith("_" + suffix) or argument == suffix:
            return suffix
    if argument in ("activation", "recurrent_activation"):
        return "activation"
    if argument in ("layer", "backward_layer"):
        return "layer"
    if argument in ("learning_rate", "schedule"):
        return "schedule"
    if argument in ("optimizer", "inner_optimizer"):
        return "optimizer"
    return None


@functools.lru_cache(maxsize=None)
def accepted_arguments(cls: type) -> frozenset[str] | None:
    """The keyword arguments `cls(...)` accepts, or None when it takes any.

    Walks the constructors up the class hierarchy while each passes
    `**kwargs` on, stopping at Keras's `Layer` (whose extra kwargs are legacy).
    """
    accepted: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            parameters = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return None
        named = [p.name for p in parameters if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        passes_on = any(p.kind == p.VAR_KEYWORD for p in parameters)
        accepted.update(named)
        if not passes_on or klass is keras.layers.Layer:
            return frozenset(accepted)
    return frozenset(accepted)


def split_component(value: Any, spec: Spec, path: Sequence[str | int], what: str) -> tuple[str, dict]:
    """`"Flatten"` -> ("Flatten", {}); `{Dense: {units: 3}}` -> ("Dense", {"units": 3})."""
    if isinstance(value, str):
        return value, {}
    if isinstance(value, dict) and len(value) == 1:
        (name, arguments), = value.items()
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise spec.error(
                tuple(path) + (name,),
                f"the arguments of {name} must be a mapping of constructor arguments, e.g. {{{name}: {{...}}}}; got {arguments!r}.",
            )
        return str(name), dict(arguments)
    raise spec.error(path, f"expected {what}: a name or a one-key mapping {{ClassName: {{arguments}}}}; got {value!r}.")


# Arguments whose meaning bounds them, whatever the component (Keras checks some itself, not these):
# name -> (low, high, the interval's closed ends as "[]", "[)", "(]" or "()"), None for no bound.
ARGUMENT_RANGES = {
    "rate": (0, 1, "[)"),  # Dropout and its kin: a rate of 1 drops everything
    "dropout": (0, 1, "[)"),
    "recurrent_dropout": (0, 1, "[)"),
    "beta_1": (0, 1, "[)"),
    "beta_2": (0, 1, "[)"),
    "epsilon": (0, None, "()"),
    "clipnorm": (0, None, "()"),
    "clipvalue": (0, None, "()"),
    "global_clipnorm": (0, None, "()"),
    "weight_decay": (0, None, "[)"),
    "patience": (0, None, "[)"),
    "min_delta": (0, None, "[)"),
    "cooldown": (0, None, "[)"),
}
_RANGE_OF = {"momentum": {"BatchNormalization": (0, 1, "[]")}}  # the same name bounded for some classes only


def _check_range(value: Any, key: str, name: str, spec: Spec, path: tuple) -> None:
    bounds = ARGUMENT_RANGES.get(key) or _RANGE_OF.get(key, {}).get(name)
    if bounds is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    low, high, ends = bounds
    inside = ((low is None or (value >= low if ends[0] == "[" else value > low))
              and (high is None or (value <= high if ends[1] == "]" else value < high)))
    if not inside:
        shown = f"{ends[0]}{low if low is not None else '-inf'}, {high if high is not None else 'inf'}{ends[1]}"
        raise spec.error(path, f"{name}'s {key} must lie in {shown}; got {value!r}.")


def check_arguments(cls: Any, arguments: dict, spec: Spec, path: Sequence[str | int], name: str) -> None:
    """Every argument one the class takes (with the closest name when not), and within its range
    (`ARGUMENT_RANGES`) where its meaning bounds it."""
    for key, value in arguments.items():
        _check_range(value, key, name, spec, tuple(path) + (name, key))
    accepted = accepted_arguments(cls) if inspect.isclass(cls) else None
    if accepted is None:
        return
    for key in arguments:
        if key not in accepted:
            raise spec.error(
                tuple(path) + (name, key),
                f"{name} takes no argument {key!r}; its arguments are {', '.join(sorted(accepted))}.",
                closest(key, accepted),
            )


def resolve_arguments(arguments: dict, spec: Spec, path: Sequence[str | int]) -> dict:
    """Resolve nested components among constructor arguments by their argument name."""
    resolved = {}
    for key, value in arguments.items():
        category = argument_category(key)
        if category is not None and (isinstance(value, dict) or (isinstance(value, str) and category != "schedule")):
            resolved[key] = resolve(value, category, spec, tuple(path) + (key,))
        else:
            resolved[key] = value
    return resolved


def construct(cls: Any, arguments: dict, spec: Spec, path: Sequence[str | int], name: str) -> Any:
    """Call `cls(**arguments)`, turning the constructor's complaint into a SpecError at `path`."""
    try:
        return cls(**arguments)
    except (ValueError, TypeError) as error:
        raise spec.error(tuple(path) + (name,), f"{name}: {error}") from None


def resolve(value: Any, category: str, spec: Spec, path: Sequence[str | int]) -> Any:
    """Turn a component written in a spec into the Keras object it names.

    Strings that Keras itself understands in this position (an activation
    name, `"accuracy"`, `"adam"`) resolve through Keras's own `get`, except
    that metric strings stay strings so `compile` can pick the accuracy that
    fits the loss.
    """
    info = CATEGORIES[category]
    if not isinstance(value, (str, dict)):
        return value  # already an object (Python API) or a number (a plain learning rate)
    if isinstance(value, str):
        obj = lookup(category, value, spec, path)
        if isinstance(obj, str):  # a Keras alias such as "he_normal"
            return value if category == "metric" else _keras_get(info, value)
        if inspect.isclass(obj):
            if category == "metric" and value in ("accuracy", "acc"):
                return value
            return construct(obj, {}, spec, path, value)
        return obj if category != "metric" else value
    name, arguments = split_component(value, spec, path, f"a {category}")
    cls = lookup(category, name, spec, path)
    if not inspect.isclass(cls):
        raise spec.error(
            tuple(path) + (name,),
            f"{name} is a function and takes no arguments here; name it as a string, "
            f"or use a {category} class that takes arguments.",
        )
    check_arguments(cls, arguments, spec, path, name)
    return construct(cls, resolve_arguments(arguments, spec, tuple(path) + (name,)), spec, path, name)
