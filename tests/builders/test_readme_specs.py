"""Every YAML example in the README is a spec in specs/ (the whole file, or an excerpt of it, as its
first line says), and every spec the README shows trains here."""

from __future__ import annotations

import re
import textwrap

import pytest
import yaml

from zoo.builders.run.train import train
from zoo.builders.search.tune import tune
from zoo.builders.spec.document import load_spec
from tests.conftest import ROOT

BLOCK = re.compile(r"^( *)```yaml\n(.*?)^\1```", re.S | re.M)
MARKER = re.compile(r"^# (from )?(specs/[\w/.-]+\.yaml)")


def _blocks() -> list[tuple[str, str | None, bool]]:
    """(the block's text, the spec it names, whether it is an excerpt)."""
    found = []
    for match in BLOCK.finditer((ROOT / "README.md").read_text()):
        text = textwrap.dedent(match.group(2))
        marker = MARKER.match(text)
        found.append((text, marker.group(2) if marker else None, bool(marker and marker.group(1))))
    return found


def _contains(whole, part, path="") -> list[str]:
    """Where `part` is not a piece of `whole` (mappings by key, everything else equal)."""
    if isinstance(part, dict) and isinstance(whole, dict):
        return [p for key, value in part.items() for p in
                ([f"{path}.{key}: missing"] if key not in whole else _contains(whole[key], value, f"{path}.{key}"))]
    return [] if part == whole else [f"{path}: {part!r} in the README, {whole!r} in the spec"]


def test_every_readme_yaml_block_is_a_shipped_spec_or_an_excerpt_of_one():
    blocks = _blocks()
    assert len(blocks) >= 7
    for text, name, excerpt in blocks:
        assert name, f"a README YAML block does not name its spec on its first line:\n{text[:200]}"
        shipped = yaml.safe_load((ROOT / name).read_text())
        shown = yaml.safe_load(text)
        if excerpt:
            assert not _contains(shipped, shown), (name, _contains(shipped, shown))
        else:
            assert shown == shipped, name


# The budget each shown spec trains with here: seconds, not its full run.
SMALL = {
    "specs/digits_mlp_regularized.yaml": ["train.epochs=1"],
    "specs/digits_conv.yaml": ["train.epochs=1", "data.limit=256"],
    "specs/digits_graph.yaml": ["train.epochs=1"],
    "specs/digits_grow_batch.yaml": ["train.epochs=2", "train.callbacks=[{BatchSizeSchedule: {every: 1}}]"],
    "specs/mnist1d_zoo_cnn.yaml": ["train.epochs=1", "data.source.mnist1d.num_samples=1000"],
    "specs/deep_sigmoid_pretrain.yaml": ["train.epochs=1", "pretrain.epochs_per_layer=1"],
    "specs/digits_dbn.yaml": ["train.epochs=1", "pretrain.epochs_per_layer=1", "pretrain.head_epochs=1", "model.units=[16, 16]"],
    "specs/transfer_digits_5to9.yaml": ["train.epochs=2", "transfer.unfreeze.after_epoch=1"],
    "specs/digits_tune.yaml": ["train.epochs=1", "tune.max_trials=1"],
}


def test_the_readme_names_exactly_the_specs_trained_here():
    assert {name for _, name, _ in _blocks()} == set(SMALL)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_each_spec_the_readme_shows_trains(name, tmp_path):
    overrides = [*SMALL[name], f"output.directory={tmp_path}"]
    if name == "specs/digits_tune.yaml":
        summary = tune(load_spec(ROOT / name, [*overrides, f"tune.directory={tmp_path}"]), report=lambda *_: None)
        assert summary["counts"] == {"COMPLETED": 1}
        return
    result = train(load_spec(ROOT / name, overrides), run_dir=tmp_path / "run", verbose=0)
    assert result.epochs_run == int(SMALL[name][0].split("=")[1]) and (tmp_path / "run" / "model.keras").is_file()
