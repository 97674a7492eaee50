"""Every use of KerasTuner beyond its public API, in one place.

keras-tuner is pinned to 1.4.x in pyproject.toml; a test in tests/builders/test_plan.py
fails loudly when one of the internals below changes. What is used, and why:

- `Oracle._retry_queue`: the only way to hand a dead worker's trial to another worker
  (KerasTuner retries a trial only when its own worker reports a failure).
- `HyperbandOracle._get_num_brackets / _get_num_rounds / _get_size / _get_epochs`: the
  bracket arithmetic, to print what a Hyperband search will cost before it starts.
- `Oracle.max_trials`, set on the running oracle: a time budget (KerasTuner has none) stops
  new trials by lowering the trial limit to the trials already made.
- `conditions.Parent.to_proto`: KerasTuner 1.4.8 left a debug `print(self.values[0])` in it,
  so in chief/worker mode every conditional hyperparameter sent over gRPC printed a stray
  value ("1", "2", ...) into the search's output; `quiet_conditions()` swallows that print.
"""

from __future__ import annotations

import contextlib
import functools
import io
import time
from typing import Any

import keras_tuner
from keras_tuner.src.engine import conditions

__all__ = ["with_time_budget", "with_trial_lines", "requeue", "hyperband_rounds", "quiet_conditions", "INTERNALS"]

# (class, attribute) pairs this module relies on; the internals test checks each exists.
INTERNALS = (
    (keras_tuner.Oracle, "_retry_queue"),
    (keras_tuner.oracles.HyperbandOracle, "_get_num_brackets"),
    (keras_tuner.oracles.HyperbandOracle, "_get_num_rounds"),
    (keras_tuner.oracles.HyperbandOracle, "_get_size"),
    (keras_tuner.oracles.HyperbandOracle, "_get_epochs"),
    (conditions.Parent, "to_proto"),
)


def quiet_conditions() -> None:
    """`conditions.Parent.to_proto` without its stray print (see the module); idempotent."""
    original = conditions.Parent.to_proto
    if getattr(original, "_zoo_quiet", False):
        return

    @functools.wraps(original)
    def to_proto(self):
        with contextlib.redirect_stdout(io.StringIO()):
            return original(self)

    to_proto._zoo_quiet = True
    conditions.Parent.to_proto = to_proto


def with_time_budget(tuner_class: type, seconds: float | None) -> type:
    """`tuner_class`, or a subclass whose search starts no new trial after `seconds`."""
    if not seconds:
        return tuner_class

    class Budgeted(tuner_class):
        def on_search_begin(self):
            super().on_search_begin()
            self._zoo_deadline = time.monotonic() + seconds

        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            if time.monotonic() > self._zoo_deadline:
                self.oracle.max_trials = len(self.oracle.trials)  # no new trial starts

    Budgeted.__name__ = Budgeted.__qualname__ = tuner_class.__name__
    return Budgeted


def with_trial_lines(tuner_class: type, report) -> type:
    """`tuner_class`, with a subclass that calls `report(trial, seconds, objective, epochs)` when each trial
    ends (KerasTuner's `on_trial_end` runs for failed trials too), with the trial as the oracle holds it then
    and the epochs its last execution ran (the hypermodel's `epochs_run`, when it keeps one)."""

    class Reporting(tuner_class):
        def on_trial_begin(self, trial):
            self._zoo_trial_started = time.perf_counter()
            self.hypermodel.epochs_run = None
            super().on_trial_begin(trial)

        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            report(self.oracle.get_trial(trial.trial_id), time.perf_counter() - self._zoo_trial_started,
                   self.oracle.objective, getattr(self.hypermodel, "epochs_run", None))

    Reporting.__name__ = Reporting.__qualname__ = tuner_class.__name__
    return Reporting


def requeue(oracle: keras_tuner.Oracle, trial_id: str) -> None:
    """Put a running trial back in the oracle's retry queue (the caller holds the oracle's lock)."""
    oracle._retry_queue.append(trial_id)


def hyperband_rounds(oracle: Any) -> list[list[tuple[int, int]]]:
    """For each bracket, its rounds as (models, epochs per model) pairs."""
    return [[(oracle._get_size(bracket, round_number), oracle._get_epochs(bracket, round_number))
             for round_number in range(oracle._get_num_rounds(bracket))]
            for bracket in range(oracle._get_num_brackets())]
