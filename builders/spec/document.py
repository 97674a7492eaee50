"""Spec loading: YAML -> overrides -> version upgrade -> markers checked -> schema validated.

`load_spec` is the one entry point; everything after it can trust the shape
of `Spec.tree` and ask `Spec.error(path, ...)` for an error that points at
the line the value came from.
"""

from __future__ import annotations

import copy
import os
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import jsonschema
import yaml

from zoo.builders.spec.errors import Location, SpecError, closest, format_path
from zoo.builders.spec.loader import check_depth, parse_yaml, read_spec_text
from zoo.builders.spec.markers import check_markers, find_markers, resolve_markers
from zoo.builders.spec.schema import SCHEMA, SPEC_VERSION

__all__ = ["Spec", "load_spec", "parse_override", "find_markers", "resolve_markers"]


@dataclass
class Spec:
    """A validated spec: the tree of plain values and where each came from."""

    tree: dict
    source: str = "<string>"
    locations: dict = field(default_factory=dict, repr=False)
    concrete: bool = False  # markers resolved and schema defaults filled in: what a run reads

    # -- where things are -------------------------------------------------
    def where(self, path: Sequence[str | int]) -> Location:
        path = tuple(path)
        while path not in self.locations and path:
            path = path[:-1]
        return self.locations.get(path, Location(self.source))

    def error(self, path: Sequence[str | int], message: str, suggestions: Sequence[str] = ()) -> SpecError:
        return SpecError(message, location=self.where(path), path=path, suggestions=suggestions)

    # -- reading -----------------------------------------------------------
    def get(self, *path: str | int, default: Any = None) -> Any:
        node: Any = self.tree
        for key in path:
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                return default
        return node

    @property
    def name(self) -> str:
        return self.tree.get("name") or (Path(self.source).stem if self.source != "<string>" else "spec")

    @property
    def seed(self) -> int | None:
        return self.tree.get("seed")

    def section(self, name: str) -> dict:
        return self.tree.get(name) or {}

    def replace(self, tree: dict) -> "Spec":
        return Spec(tree, self.source, self.locations, self.concrete)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.tree, sort_keys=False, default_flow_style=None)

    # -- hyperparameters ---------------------------------------------------
    @property
    def markers(self) -> list[tuple[tuple, dict]]:
        return list(find_markers(self.tree))

    def with_hyperparameters(self, hp: Any = None) -> "Spec":
        """This spec with every marker replaced by its value from `hp` (defaults if None)."""
        if hp is None:
            import keras_tuner

            hp = keras_tuner.HyperParameters()
        return self.replace(resolve_markers(self.tree, hp))

    def resolved(self, hp: Any = None) -> "Spec":
        """The concrete spec a run reads: each marker's value from `hp` (its default when None) and
        every setting the spec leaves out filled in from the schema's defaults.

        This is the one boundary where markers are resolved; a concrete spec is returned as it is.
        """
        if self.concrete:
            return self
        if not self.markers:
            tree = copy.deepcopy(self.tree)
        else:
            tree = self.with_hyperparameters(hp).tree
            _validate_tree(self, tree)  # each value a marker can take must fit the schema, not only its default
        return Spec(fill_defaults(tree, SCHEMA), self.source, self.locations, concrete=True)


# -- loading -------------------------------------------------------------------


def load_spec(path_or_text: str | Path | Mapping, overrides: Sequence[str] = ()) -> Spec:
    """Read, override, upgrade and validate a spec.

    Args:
        path_or_text: a path to a `.yaml` file, YAML text, or an already parsed mapping.
        overrides: dotted assignments with YAML values, e.g. `"train.epochs=5"`.

    Raises:
        SpecError: for every problem, with file:line:column and the key path.
    """
    if isinstance(overrides, str):  # one override given alone
        overrides = [overrides]
    if not isinstance(path_or_text, (str, os.PathLike, Mapping)):
        raise SpecError(f"a spec is a path to a .yaml file, YAML text or a mapping; got {type(path_or_text).__name__} "
                        f"{path_or_text!r:.60}.", location=Location("<argument>"))
    if isinstance(path_or_text, Mapping):
        check_depth(path_or_text)
        tree, source, locations = copy.deepcopy(dict(path_or_text)), "<dict>", {}
    else:
        text, source = read_spec_text(path_or_text)
        tree, locations = parse_yaml(text, source)
    if tree is None:
        raise SpecError("the spec is empty: it needs at least `version: 1` and a `model` section.", location=Location(source))
    if not isinstance(tree, dict):
        raise SpecError(
            f"a spec is a mapping of sections (version, data, model, train...), got a {type(tree).__name__}.",
            location=Location(source, 1, 1),
        )
    spec = Spec(tree, source, locations)
    for text in overrides:
        apply_override(spec, text)
    spec = _upgrade(spec)
    _check_numbers(spec, spec.tree)
    check_markers(spec)
    _validate_schema(spec)
    return spec


def check_tree(spec: Spec) -> Spec:
    """A spec whose tree was changed in code, checked as `load_spec` checks a file."""
    _check_numbers(spec, spec.tree)
    check_markers(spec)
    _validate_schema(spec)
    return spec


def _check_numbers(spec: Spec, node: Any, path: tuple = ()) -> None:
    """NaN and infinity are refused wherever they stand: no Keras argument means them."""
    if isinstance(node, float) and not math.isfinite(node):
        raise spec.error(path, f"{node} is not a valid value here: give a finite number.")
    if isinstance(node, dict):
        for key, value in node.items():
            _check_numbers(spec, value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _check_numbers(spec, value, path + (index,))


def fill_defaults(tree: Any, schema: dict, root: dict | None = None) -> Any:
    """`tree` with every property the schema gives a `default` filled in where it is absent.

    The schema is the one place defaults are declared: code reads the filled-in value.
    """
    root = schema if root is None else root
    while isinstance(schema, dict) and "$ref" in schema:
        schema = _follow(root, schema["$ref"])
    if not isinstance(tree, dict) or not isinstance(schema, dict):
        return tree
    for name, child in schema.get("properties", {}).items():
        if name not in tree and isinstance(child, dict) and "default" in child:
            tree[name] = copy.deepcopy(child["default"])
        if name in tree:
            tree[name] = fill_defaults(tree[name], child, root)
    return tree


def _follow(root: dict, reference: str) -> dict:
    node: Any = root
    for part in reference.lstrip("#/").split("/"):
        node = node[part]
    return node


def _upgrade(spec: Spec) -> Spec:
    """The one place where older spec versions become the current one."""
    version = spec.tree.get("version")
    if version is None:
        raise spec.error((), f"the spec has no `version`; add `version: {SPEC_VERSION}` at the top.")
    if isinstance(version, bool) or not isinstance(version, int):
        raise spec.error(("version",), f"expected the integer {SPEC_VERSION}, got {version!r}.")
    if version != SPEC_VERSION:
        raise spec.error(
            ("version",),
            f"spec version {version} is not known to this keras-zoo, which reads version {SPEC_VERSION}.",
        )
    return spec


# -- overrides -----------------------------------------------------------------

_OVERRIDE_TOKEN = re.compile(r"([A-Za-z_][A-Za-z0-9_\-]*)|\[(\d+)\]")


def parse_override(text: str) -> tuple[tuple, Any]:
    """`"model.layers[1].Dense.units=64"` -> (("model", "layers", 1, "Dense", "units"), 64)."""
    where = Location(f"command-line override {text!r}")
    if "=" not in text:
        raise SpecError("an override is PATH=VALUE, e.g. train.epochs=5.", location=where)
    dotted, value_text = text.split("=", 1)
    path: list = []
    position = 0
    dotted = dotted.strip()
    while position < len(dotted):
        if path and dotted[position] == ".":
            position += 1
        match = _OVERRIDE_TOKEN.match(dotted, position)
        if not match:
            raise SpecError(f"cannot read the key path {dotted!r} at character {position + 1}.", location=where)
        path.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        position = match.end()
    if not path:
        raise SpecError("an override needs a key path before '='.", location=where)
    value, _ = parse_yaml(value_text, where.source)
    return tuple(path), value


def apply_override(spec: Spec, text: str) -> None:
    path, value = parse_override(text)
    where = Location(f"command-line override {text!r}")
    node: Any = spec.tree
    for depth, key in enumerate(path[:-1]):
        if isinstance(key, int):
            if not isinstance(node, list) or key >= len(node):
                raise SpecError(f"there is no item [{key}] here to override.", location=where, path=path[: depth + 1])
            node = node[key]
            continue
        if not isinstance(node, dict):
            raise SpecError(f"{format_path(path[:depth])} is not a mapping, so it has no key {key!r}.", location=where, path=path[: depth + 1])
        if node.get(key) is None:
            node[key] = {}
        node = node[key]
    last = path[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise SpecError(f"there is no item [{last}] here to override.", location=where, path=path)
    elif not isinstance(node, dict):
        raise SpecError(f"{format_path(path[:-1])} is not a mapping, so it has no key {last!r}.", location=where, path=path)
    for known in [p for p in spec.locations if p[: len(path)] == path]:
        del spec.locations[known]
    if value is None and isinstance(last, str):
        node.pop(last, None)  # `pretrain=null` removes the setting: back to the default
        return
    node[last] = value
    _mark_locations(spec.locations, path, value, where)


def _mark_locations(locations: dict, path: tuple, value: Any, where: Location) -> None:
    locations[path] = where
    if isinstance(value, dict):
        for key, child in value.items():
            _mark_locations(locations, path + (key,), child, where)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _mark_locations(locations, path + (index,), child, where)


# -- schema validation -------------------------------------------------------------

def _is_integer(checker: Any, value: Any) -> bool:
    # JSON Schema counts 2.0 as an integer; Keras does not (a later crash in training).
    return isinstance(value, int) and not isinstance(value, bool)


_TYPES = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer)
_VALIDATOR = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=_TYPES)(SCHEMA)
_TYPE_WORDS = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
               "number": "a number", "boolean": "true or false", "null": "null"}


def _validate_schema(spec: Spec) -> None:
    _validate_tree(spec, spec.with_hyperparameters().tree if spec.markers else spec.tree)


def _validate_tree(spec: Spec, resolved: dict) -> None:
    errors = list(_VALIDATOR.iter_errors(resolved))
    if not errors:
        return
    # An unknown key explains a missing one better than the other way round.
    errors.sort(key=lambda e: (_order(spec, tuple(e.absolute_path)), e.validator != "additionalProperties"))
    raise _describe(spec, errors[0])


def _order(spec: Spec, path: tuple) -> tuple:
    where = spec.where(path)
    return (where.line or 0, where.column or 0, len(path))


def _describe(spec: Spec, error: jsonschema.ValidationError) -> SpecError:
    path = tuple(error.absolute_path)
    value = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    kind = error.validator
    if kind == "additionalProperties" and isinstance(value, dict):
        known = list(schema.get("properties", {}))
        unknown = [k for k in value if k not in known]
        key = unknown[0] if unknown else "?"
        where = format_path(path) if path else "the top level"
        valid = ", ".join(known)
        return spec.error(path + (key,), f"unknown key {key!r} in {where}; valid keys are: {valid}.", closest(key, known))
    if kind == "required":
        missing = [k for k in schema.get("required", []) if k not in value]
        return spec.error(path, f"missing required key {missing[0]!r}.")
    if kind in ("anyOf", "oneOf"):
        branch = _closest_branch(error)
        if branch is not None:
            return _describe(spec, branch)
        deepest = max(_leaves(error), key=lambda e: len(e.absolute_path), default=None)
        if deepest is not None and len(deepest.absolute_path) > len(path) + 1:
            return _describe(spec, deepest)  # a value inside a layer's arguments, such as its dropout
        if deepest is not None and len(deepest.absolute_path) == len(path) + 1 and deepest.validator != "type":
            return _describe(spec, deepest)  # a value of a mapping that is not a component: a class's weight of 0
        if isinstance(value, dict) and len(value) == 1:
            (name, arguments), = value.items()
            if not isinstance(arguments, (dict, type(None))) and not isinstance(arguments, list) and not str(name).isdigit():
                return spec.error(
                    path + (name,),
                    f"the arguments of {name} must be a mapping of constructor arguments, "
                    f"e.g. {{{name}: {{...}}}}; got {arguments!r}.",
                )
        return spec.error(path, f"expected {schema.get('description', 'a valid value')}; got {_show(value)}.")
    if kind == "type":
        expected = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        words = " or ".join(_TYPE_WORDS.get(t, t) for t in expected)
        return spec.error(path, f"expected {words}, got {_show(value)}.")
    if kind == "enum":
        choices = [str(c) for c in schema["enum"]]
        return spec.error(path, f"expected one of {', '.join(choices)}; got {_show(value)}.", closest(str(value), choices))
    if kind == "const":
        return spec.error(path, f"expected {schema.get('description', repr(schema['const']))}; got {_show(value)}.")
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        sign = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[kind]
        bounds = [f"{s} {schema[k]}" for k, s in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")) if k in schema]
        return spec.error(path, f"expected a number {' and '.join(bounds) or sign}, got {_show(value)}.")
    if kind in ("minItems", "minProperties", "minLength"):
        return spec.error(path, f"must not be empty (got {_show(value)}).")
    if kind == "maxProperties":
        return spec.error(path, f"expected {schema.get('description', 'a one-key mapping')}; got {len(value)} keys: {', '.join(map(str, value))}.")
    if kind == "pattern":
        return spec.error(path, f"expected {schema.get('description', 'a name matching ' + schema['pattern'])}; got {_show(value)}.")
    return spec.error(path, error.message)


def _leaves(error: jsonschema.ValidationError) -> Iterator[jsonschema.ValidationError]:
    for sub in error.context or ():
        if sub.context:
            yield from _leaves(sub)
        else:
            yield sub


def _closest_branch(error: jsonschema.ValidationError) -> jsonschema.ValidationError | None:
    """For an anyOf over mappings, the error of the branch whose keys the value uses."""
    value = error.instance
    if not isinstance(value, dict):
        return None
    best, best_overlap = None, 0
    for sub in sorted(error.context or (), key=lambda e: e.validator != "additionalProperties"):
        properties = sub.schema.get("properties", {}) if isinstance(sub.schema, dict) else {}
        branch_schema = error.schema[error.validator][sub.schema_path[0]] if sub.schema_path else {}
        keys = set(branch_schema.get("properties", properties)) | set(branch_schema.get("required", ()))
        overlap = len(keys & set(value))
        if overlap > best_overlap and len(sub.absolute_path) >= len(error.absolute_path):
            best, best_overlap = sub, overlap
    return best


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}" if not isinstance(value, (dict, list)) else text
