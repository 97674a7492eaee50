"""builders/ is in rooms that import one way: cli -> tools, search -> run -> data -> spec, with no cycle; each room
says its purpose in one line; zoo/ and callbacks/ never import builders, YAML, KerasTuner or TFDS."""

from __future__ import annotations

import re

from tests.conftest import ROOT

ROOMS = ["spec", "data", "run", "search", "tools", "cli"]  # each may import only the rooms before it (tools and
ALLOWED = {room: set(ROOMS[:i]) for i, room in enumerate(ROOMS)}  # search not each other)
ALLOWED["tools"] -= {"search"}


def _imports(path) -> set[str]:
    return set(re.findall(r"^\s*(?:from|import) (zoo\.builders\.[a-z_]+|yaml|keras_tuner|tensorflow_datasets|jsonschema)\b",
                          path.read_text(), flags=re.MULTILINE))


def test_every_module_is_in_a_room_with_a_purpose():
    loose = [p.name for p in (ROOT / "builders").glob("*.py") if p.name != "__init__.py"]
    assert not loose, f"modules outside a room: {loose}"
    for room in ROOMS:
        doc = (ROOT / "builders" / room / "__init__.py").read_text()
        assert doc.startswith('"""') and len(doc.split('"""')[1]) > 20, f"builders/{room} says no purpose"


def test_rooms_import_one_way():
    upward = []
    for room in ROOMS:
        for path in (ROOT / "builders" / room).rglob("*.py"):
            for target in {name.split(".")[2] for name in _imports(path) if name.startswith("zoo.builders.")} - {room}:
                if target not in ALLOWED[room]:
                    upward.append(f"{path.relative_to(ROOT)} imports zoo.builders.{target}")
    assert not upward, "\n".join(upward)


def test_building_blocks_import_no_builders_yaml_tuner_or_tfds():
    found = [f"{path.relative_to(ROOT)}: {sorted(_imports(path))}" for folder in ("zoo", "callbacks")
             for path in (ROOT / folder).rglob("*.py") if _imports(path)]
    assert not found, "\n".join(found)
