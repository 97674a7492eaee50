"""`runtime.strategy`: MirroredStrategy in one process; multi_worker refused with Keras 3's reason."""

from __future__ import annotations


import keras
import numpy as np
import pytest

from zoo.builders.run.train import train
from zoo.builders.spec.document import load_spec
from zoo.builders.spec.errors import SpecError
from tests.conftest import DIGITS_SPEC


def test_mirrored_strategy_builds_the_model_in_its_scope_and_trains(tmp_path):
    result = train(load_spec(DIGITS_SPEC + "runtime: {strategy: mirrored}\n"), run_dir=tmp_path / "run", quiet=True)
    assert "Mirrored" in type(result.model.weights[0].value).__name__
    plain = train(load_spec(DIGITS_SPEC), run_dir=tmp_path / "plain", quiet=True)
    # one replica on a CPU: the same training as without the strategy, up to float reduction order
    assert result.history["loss"] == pytest.approx(plain.history["loss"], abs=0.03)
    assert result.history["val_accuracy"] == pytest.approx(plain.history["val_accuracy"], abs=0.03)
    reloaded = keras.saving.load_model(tmp_path / "run" / "model.keras", safe_mode=True)
    assert all(np.array_equal(a, b) for a, b in zip(reloaded.get_weights(), result.model.get_weights()))


def test_multi_worker_is_refused_before_training_with_the_reason(tmp_path):
    spec = load_spec(DIGITS_SPEC + "runtime: {strategy: multi_worker}\n")
    with pytest.raises(SpecError, match="keras-team/keras#20585") as error:
        train(spec, run_dir=tmp_path / "run", quiet=True)
    assert error.value.key_path == "runtime.strategy" and error.value.line == 22
    assert not (tmp_path / "run" / "history.csv").exists()


def test_a_search_builds_every_trial_in_the_mirrored_strategy(tmp_path):
    from zoo.builders.search.hypermodel import build_hypermodel
    from zoo.builders.search.tune import make_tuner, tune

    text = (DIGITS_SPEC.replace("units: 32", "units: {hp: Choice, values: [16, 32]}")
            + f"runtime: {{strategy: mirrored}}\ntune: {{tuner: GridSearch, max_trials: 2, directory: {tmp_path}}}\n")
    spec = load_spec(text)
    tuner = make_tuner(load_spec(text, [f"tune.directory={tmp_path / 'other'}"]), build_hypermodel(spec))
    assert type(tuner.distribution_strategy).__name__ == "MirroredStrategy"
    summary = tune(spec, overwrite=True, report=lambda *_: None)
    assert [r["status"] for r in summary["trials"]] == ["COMPLETED", "COMPLETED"]
