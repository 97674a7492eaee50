"""Hyperparameter markers: `{hp: Int, min_value: 32, max_value: 512, step: 32}` anywhere in a spec.

One module owns them: where they are (`find_markers`), their names, every value they can take and
the extremes `zoo validate` builds the plan at (`values`, `extremes`), their KerasTuner
hyperparameters (`hyperparameter`, `resolve_markers`), and their checks (`check_markers`).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Iterator

from zoo.builders.spec.errors import closest, format_path
from zoo.builders.spec.schema import HP_TYPES

if TYPE_CHECKING:
    from zoo.builders.spec.document import Spec

__all__ = ["is_marker", "find_markers", "marker_name", "hyperparameter", "resolve_markers", "values", "extremes",
           "candidate_values", "check_markers"]


def is_marker(value: Any) -> bool:
    return isinstance(value, dict) and "hp" in value


def find_markers(tree: Any, path: tuple = ()) -> Iterator[tuple[tuple, dict]]:
    """Every `{hp: ...}` marker in `tree` with its key path, in document order."""
    if is_marker(tree):
        yield path, tree
    elif isinstance(tree, dict):
        for key, value in tree.items():
            yield from find_markers(value, path + (key,))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from find_markers(value, path + (index,))


def marker_name(path: tuple, marker: dict) -> str:
    return marker.get("name") or format_path(path)


def hyperparameter(hp: Any, path: tuple, marker: dict) -> Any:
    """The marker as a KerasTuner hyperparameter: `hp.<Type>(name, **arguments)`, its value in this trial."""
    arguments = {k: v for k, v in marker.items() if k not in ("hp", "name")}
    return getattr(hp, marker["hp"])(marker_name(path, marker), **arguments)


def resolve_markers(tree: Any, hp: Any, path: tuple = (), suffix: str = "") -> Any:
    """A copy of `tree` with each marker replaced by `hp.<Type>(name, **arguments)`.

    The conditional rule: in a `{repeat: N, layers: [...]}` block whose N is itself a
    marker, the markers of repetition i are separate hyperparameters named
    `<name>[i]`, active (KerasTuner's `conditional_scope`) only when N > i; the block
    becomes `{repeat: 1, layers: [...the N repetitions...]}`. So depth and the width of
    each layer are searched together. With a fixed N, a marker is shared by all repetitions.
    """
    if is_marker(tree):
        name = marker_name(path, tree) + suffix
        return hyperparameter(hp, path, {**tree, "name": name})
    if isinstance(tree, dict) and is_marker(tree.get("repeat")):
        count_marker = tree["repeat"]
        count = resolve_markers(count_marker, hp, path + ("repeat",), suffix)
        name = marker_name(path + ("repeat",), count_marker) + suffix
        candidates = candidate_values(count_marker)
        layers: list = []
        for index in range(count):
            with hp.conditional_scope(name, [v for v in candidates if v > index]):
                layers.extend(resolve_markers(tree["layers"], hp, path + ("layers",), f"{suffix}[{index}]"))
        rest = {key: resolve_markers(value, hp, path + (key,), suffix) for key, value in tree.items() if key not in ("repeat", "layers")}
        return {"repeat": 1, "layers": layers, **rest}
    if isinstance(tree, dict):
        return {key: resolve_markers(value, hp, path + (key,), suffix) for key, value in tree.items()}
    if isinstance(tree, list):
        return [resolve_markers(value, hp, path + (index,), suffix) for index, value in enumerate(tree)]
    return tree


def values(marker: dict) -> list | None:
    """Every value the marker can take, in order; None for a Float (a continuous range)."""
    kind = marker["hp"]
    if kind == "Int":
        return list(range(marker["min_value"], marker["max_value"] + 1, marker.get("step") or 1))
    if kind == "Choice":
        return list(marker["values"])
    if kind == "Boolean":
        return [False, True]
    if kind == "Fixed":
        return [marker["value"]]
    return None


def extremes(marker: dict) -> list:
    """The values `zoo validate` builds the plan at, besides the default: an Int's or Float's least and greatest
    (the greatest on its step), each Choice, both Booleans; none for a Fixed (its default is its value)."""
    if marker["hp"] == "Float":
        return [marker["min_value"], marker["max_value"]]
    if marker["hp"] == "Fixed":
        return []
    every = values(marker)
    return [every[0], every[-1]] if marker["hp"] == "Int" else every


def candidate_values(marker: dict) -> list:
    """Every value a repeat-count marker can take."""
    if marker["hp"] not in ("Int", "Choice", "Fixed"):
        raise ValueError(f"a repeat count must be an Int, Choice or Fixed hyperparameter, not {marker['hp']}.")
    return values(marker)


def check_markers(spec: Spec) -> None:
    """Every marker in the spec: a known type, its arguments KerasTuner's, one definition per shared name, repeat
    counts of integers >= 1, and a hyperparameter KerasTuner accepts. Errors at the marker's line."""
    import keras_tuner

    hp = keras_tuner.HyperParameters()
    seen: dict[str, dict] = {}
    for path, marker in find_markers(spec.tree):
        kind = marker["hp"]
        if kind not in HP_TYPES:
            raise spec.error(
                path + ("hp",),
                f"unknown hyperparameter type {kind!r}; expected one of {', '.join(HP_TYPES)}.",
                closest(str(kind), HP_TYPES),
            )
        name = marker_name(path, marker)
        if not isinstance(name, str) or not name:
            raise spec.error(path + ("name",), f"a hyperparameter name must be a non-empty string, got {name!r}.")
        method = getattr(keras_tuner.HyperParameters, kind)
        allowed = [p for p in inspect.signature(method).parameters if p not in ("self", "name", "parent_name", "parent_values")]
        for key in marker:
            if key not in ("hp", "name") and key not in allowed:
                raise spec.error(
                    path + (key,),
                    f"hp {kind} takes no argument {key!r}; its arguments are {', '.join(allowed)}.",
                    closest(key, allowed),
                )
        required = [
            p.name
            for p in inspect.signature(method).parameters.values()
            if p.default is inspect.Parameter.empty and p.name not in ("self", "name")
        ]
        for key in required:
            if key not in marker:
                raise spec.error(path, f"hp {kind} needs {key!r} (its arguments are {', '.join(allowed)}).")
        if kind == "Choice" and (not isinstance(marker["values"], list) or not marker["values"]):
            raise spec.error(path + ("values",), f"hp Choice needs a non-empty list of values, got {marker['values']!r}.")
        if name in seen and {k: v for k, v in seen[name].items() if k != "name"} != {k: v for k, v in marker.items() if k != "name"}:
            raise spec.error(path, f"the hyperparameter {name!r} is defined twice with different arguments.")
        seen[name] = marker
        if path and path[-1] == "repeat":
            if kind not in ("Int", "Choice", "Fixed"):
                raise spec.error(path + ("hp",), f"a repeat count must be an Int, Choice or Fixed hyperparameter, not {kind}.")
            try:
                counts = candidate_values(marker)
            except (KeyError, TypeError):
                counts = []
            if any(not isinstance(c, int) or isinstance(c, bool) or c < 1 for c in counts):
                raise spec.error(path, f"every value of a repeat count must be an integer >= 1; this one allows {counts}.")
        try:
            hyperparameter(hp, path, marker)
        except (ValueError, TypeError) as error:
            raise spec.error(path, f"invalid hp {kind}: {error}") from None
