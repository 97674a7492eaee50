"""`zoo learning-curve` and `zoo ensemble`, end to end on digits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zoo.builders.run.train import train
from zoo.builders.spec.document import load_spec
from zoo.builders.spec.errors import RunError, SpecError
from zoo.builders.tools.ensemble import ensemble
from tests.conftest import DIGITS_SPEC, call_zoo


def test_learning_curve_trains_each_size_and_reads_bias_and_variance(tmp_path, capsys):
    spec = tmp_path / "digits.yaml"
    spec.write_text(DIGITS_SPEC)
    result = call_zoo(capsys, "learning-curve", str(spec), "--sizes", "60", "300", "1.0", "--run-dir", str(tmp_path / "curve"),
                      "train.epochs=3")
    assert result.returncode == 0, result.stderr
    found = json.loads((tmp_path / "curve" / "learning_curve.json").read_text())
    assert found["sizes"] == [60, 300, 1438]  # 1.0: every one of the 1438 training rows (digits, validation_split 0.2)
    assert found["error"] == "1 - accuracy"
    assert found["validation_error"][-1] < found["validation_error"][0] - 0.1  # more rows, better validation
    assert found["verdict"]["verdict"] in ("high bias", "high variance", "high bias and high variance", "neither")
    assert (tmp_path / "curve" / "learning_curve.png").stat().st_size > 1000
    assert "at 1438 rows:" in result.stdout and "remedies" in result.stdout and "written:" in result.stdout


@pytest.mark.parametrize("sizes, words, code", [
    (["5000"], "5000 rows asked for, but the spec's training split holds 1438", 1),
    (["100"], "at least two sizes", 1),
    (["100", "100"], "the same row count twice", 1),
    (["-3", "100"], "row counts (whole numbers) or fractions", 2),  # not a size at all: a bad argument
])
def test_learning_curve_refuses_sizes_that_cannot_be_trained(sizes, words, code, tmp_path, capsys):
    spec = tmp_path / "digits.yaml"
    spec.write_text(DIGITS_SPEC)
    result = call_zoo(capsys, "learning-curve", str(spec), "--sizes", *sizes, "--run-dir", str(tmp_path / "curve"))
    assert result.returncode == code and words in result.stderr, result.stderr
    assert not (tmp_path / "curve").exists()


def test_learning_curve_needs_validation_rows(tmp_path, capsys):
    spec = tmp_path / "digits.yaml"
    spec.write_text(DIGITS_SPEC.replace("  validation_split: 0.2\n", ""))
    result = call_zoo(capsys, "learning-curve", str(spec), "--sizes", "100", "200")
    assert result.returncode == 2 and "needs validation rows" in result.stderr


def _member(tmp_path, seed: int, split_seed: int | None = 3):
    overrides = [f"seed={seed}", "train.epochs=2", "output.plots=false", "output.tensorboard=false"] + ([f"data.split_seed={split_seed}"] if split_seed is not None else [])
    return train(load_spec(DIGITS_SPEC, overrides), run_dir=tmp_path / f"seed{seed}-{split_seed}", quiet=True).run_dir


def test_an_ensemble_of_seeds_averages_probabilities_on_the_same_held_out_rows(tmp_path, capsys):
    members = [_member(tmp_path, seed) for seed in (1, 2)]
    result = ensemble(members)
    assert result["split"] == "validation" and result["rows"] == 359 and result["task"] == "multiclass"
    members_accuracy = [row["accuracy"] for row in result["members"]]
    # averaging probabilities: the log loss is never above the members' mean (convexity)
    assert result["ensemble"]["log_loss"] <= np.mean([row["log_loss"] for row in result["members"]]) + 1e-9
    assert result["ensemble"]["accuracy"] >= min(members_accuracy)
    printed = call_zoo(capsys, "ensemble", *map(str, members))
    assert printed.returncode == 0 and "ensemble of 2 on 359 validation rows" in printed.stdout
    assert printed.stdout.strip().splitlines()[-1].startswith("ensemble")


def test_an_ensemble_refuses_members_that_held_out_other_rows(tmp_path):
    first, second = _member(tmp_path, 1, split_seed=None), _member(tmp_path, 2, split_seed=None)  # seeds 1, 2 split apart
    with pytest.raises(RunError, match="holds out other validation rows.*data.split_seed"):
        ensemble([first, second])
    with pytest.raises(RunError, match="at least two members"):
        ensemble([first])
    with pytest.raises(RunError, match="neither a finished run directory nor a .keras file"):
        ensemble([first, tmp_path / "nothing"])


def test_split_seed_keeps_the_split_when_the_seed_changes():
    def validation_rows(seed, split_seed=None):
        from zoo.builders.data.load import load_data

        overrides = [f"seed={seed}"] + ([f"data.split_seed={split_seed}"] if split_seed is not None else [])
        return load_data(load_spec(DIGITS_SPEC, overrides)).arrays["validation"][1]

    np.testing.assert_array_equal(validation_rows(1, 5), validation_rows(2, 5))
    assert not np.array_equal(validation_rows(1), validation_rows(2))
    with pytest.raises(SpecError, match="split_seed"):
        load_spec(DIGITS_SPEC, ["data.split_seed=-1"])
