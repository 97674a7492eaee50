"""Safe YAML reading that remembers where every value came from.

Only the plain YAML types are accepted (mappings, sequences, strings, numbers,
booleans, null). Tags such as `!!python/object` and aliases (`*name`, the
vehicle of "billion laughs" documents) are refused with the position they
stand at; duplicate keys are refused rather than silently overwritten.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from zoo.builders.spec.errors import Location, SpecError, format_path

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


class _SpecLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and reads `1e-3` as a float (YAML 1.2)."""

    def compose_node(self, parent, index):  # noqa: D401 - PyYAML hook
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _YamlRefusal(
                "YAML aliases (*name) are not allowed in specs: write the value out.",
                event.start_mark,
            )
        return super().compose_node(parent, index)


# PyYAML follows YAML 1.1, where `1e-3` (no dot) is a string; learning rates
# are written that way all the time, so read it as the float a user means.
_SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


class _YamlRefusal(Exception):
    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


def _location(source: str, mark: Any) -> Location:
    return Location(source, mark.line + 1, mark.column + 1)


def parse_yaml(text: str, source: str = "<string>") -> tuple[Any, dict]:
    """Parse YAML text into plain Python values and a {path: Location} map."""
    loader = None
    try:
        loader = _SpecLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None, {}
        locations: dict = {(): _location(source, node.start_mark)}
        value = _construct(loader, node, (), source, locations)
        return value, locations
    except _YamlRefusal as refusal:
        raise SpecError(refusal.message, location=_location(source, refusal.mark)) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = _location(source, mark) if mark else Location(source)
        problem = error.problem or str(error)
        raise SpecError(f"invalid YAML: {problem}", location=where) from None
    except yaml.YAMLError as error:
        raise SpecError(f"invalid YAML: {error}", location=Location(source)) from None
    except RecursionError:  # the YAML parser's own recursion, deeper than _construct's limit
        raise SpecError(f"the spec is nested more than {MAX_DEPTH} levels deep; no spec needs that.",
                        location=Location(source)) from None
    finally:
        if loader is not None:
            loader.dispose()


MAX_DEPTH = 64  # nesting a spec may have: far beyond any real spec, far below Python's recursion limit


def check_depth(tree: Any, source: str = "<dict>") -> None:
    """SpecError when `tree` (a spec given as a mapping) nests deeper than MAX_DEPTH; iterative, so
    even a tree too deep for Python's recursion is refused clearly."""
    stack = [(tree, ())]
    while stack:
        node, path = stack.pop()
        if len(path) > MAX_DEPTH:
            raise SpecError(f"the spec is nested more than {MAX_DEPTH} levels deep; no spec needs that.",
                            location=Location(source), path=path[:8])
        if isinstance(node, dict):
            stack.extend((value, path + (key,)) for key, value in node.items())
        elif isinstance(node, (list, tuple)):
            stack.extend((value, path + (index,)) for index, value in enumerate(node))


def _construct(loader, node, path: tuple, source: str, locations: dict) -> Any:
    if len(path) > MAX_DEPTH:
        raise _YamlRefusal(f"the spec is nested more than {MAX_DEPTH} levels deep here; no spec needs that.",
                           node.start_mark)
    if isinstance(node, yaml.MappingNode):
        if node.tag != "tag:yaml.org,2002:map":
            raise _YamlRefusal(f"the YAML tag {node.tag!r} is not allowed in specs.", node.start_mark)
        result: dict = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                raise _YamlRefusal("mapping keys must be plain names.", key_node.start_mark)
            key = _construct(loader, key_node, path, source, {})
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise _YamlRefusal(f"mapping keys must be names, got {key!r}.", key_node.start_mark)
            key = str(key)
            if key in result:
                raise _YamlRefusal(
                    f"duplicate key {key!r} at {format_path(path + (key,))}: "
                    "the earlier value would be lost.",
                    key_node.start_mark,
                )
            locations[path + (key,)] = _location(source, key_node.start_mark)
            result[key] = _construct(loader, value_node, path + (key,), source, locations)
        return result
    if isinstance(node, yaml.SequenceNode):
        if node.tag != "tag:yaml.org,2002:seq":
            raise _YamlRefusal(f"the YAML tag {node.tag!r} is not allowed in specs.", node.start_mark)
        items = []
        for index, item in enumerate(node.value):
            locations[path + (index,)] = _location(source, item.start_mark)
            items.append(_construct(loader, item, path + (index,), source, locations))
        return items
    if node.tag not in _PLAIN_TAGS:
        raise _YamlRefusal(f"the YAML tag {node.tag!r} is not allowed in specs.", node.start_mark)
    return loader.construct_object(node, deep=True)


def read_spec_text(path_or_text: str | Path) -> tuple[str, str]:
    """Return (text, source name) for a file path or literal YAML text."""
    if isinstance(path_or_text, Path) or (
        isinstance(path_or_text, str) and "\n" not in path_or_text and path_or_text.endswith((".yaml", ".yml"))
    ):
        path = Path(path_or_text)
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except FileNotFoundError:
            raise SpecError(f"spec file not found: {path}", location=Location(str(path))) from None
        except (OSError, UnicodeDecodeError) as error:
            raise SpecError(f"cannot read spec file: {error}", location=Location(str(path))) from None
    return str(path_or_text), "<string>"
