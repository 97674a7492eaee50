"""A spec as a KerasTuner HyperModel: `build(hp)` is the run plan for the trial's values, `fit` runs it."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
import weakref
from pathlib import Path
from typing import Sequence

import keras
import keras_tuner

from zoo.builders.data.load import Data, GivenData
from zoo.builders.run.plan import build_plan, distribution_strategy
from zoo.builders.spec.document import Spec, load_spec
from zoo.callbacks import AtomicBackupAndRestore, make_trainable_later

__all__ = ["SpecHyperModel", "build_hypermodel"]


class SpecHyperModel(keras_tuner.HyperModel):
    """A spec as a KerasTuner hypermodel: every `{hp: ...}` marker is a hyperparameter.

    Args:
        spec: a loaded spec with markers.
        verbose: passed to `model.fit` in each trial.

    Example:
        >>> hypermodel = build_hypermodel("specs/digits_tune.yaml")
        >>> tuner = keras_tuner.RandomSearch(hypermodel, objective="val_accuracy", max_trials=5)
        >>> tuner.search()
    """

    def __init__(self, spec: Spec, verbose: int | str = 0) -> None:
        super().__init__(name=spec.name)
        self.spec = spec
        self.verbose = verbose
        self.data_cache: dict[str, Data] = {}  # each distinct `data` section loaded once per search
        self.files_dir: Path | None = None  # where the spec's callbacks write (zoo tune: the search's callbacks/)
        self.given: GivenData | None = None  # data given in Python (zoo.tune(spec, data=...)), for every trial
        self._plans: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> the plan that built it

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        """The trial's model: the run plan for the spec with `hp`'s values (the seed and precision policy
        applied, so every trial starts alike)."""
        plan = build_plan(self.spec, hp, data_cache=self.data_cache, files_dir=self.files_dir, given=self.given)
        strategy = distribution_strategy(plan.spec)
        with strategy.scope() if strategy is not None else contextlib.nullcontext():  # where the model's variables are
            # Built now, so Hyperband's promoted trials load their optimizer state with their weights.
            make_trainable_later(plan.model)
        self._plans[plan.model] = plan
        return plan.model

    def fit(self, hp: keras_tuner.HyperParameters, model: keras.Model, *args, **kwargs):
        plan = self._plans.pop(model, None)
        if plan is None:  # a model this hypermodel did not build: plan it for these values
            plan = dataclasses.replace(build_plan(self.spec, hp, data_cache=self.data_cache, files_dir=self.files_dir,
                                                  given=self.given), model=model)
        given = list(kwargs.pop("callbacks", None) or [])
        callbacks = [keras.callbacks.TerminateOnNaN()]
        trial_dir = _trial_dir(given)
        resuming = False
        if trial_dir is not None:
            # A trial killed at epoch 40 of 50 resumes at epoch 40 when the search resumes.
            backup = AtomicBackupAndRestore(trial_dir / "backup")
            resuming = backup.saved_epoch() > 0
            callbacks += [backup, _ExecutionLog(trial_dir / "executions.jsonl")]
        if plan.pretrains and not kwargs.get("initial_epoch") and not resuming:  # the backup holds its result
            plan.pretrain(verbose=0)
        verbose = kwargs.pop("verbose", self.verbose)
        history = plan.fit(callbacks + given, verbose=verbose, **kwargs)
        self.epochs_run = len(history.epoch)  # for the trial's line (KerasTuner records only the best step)
        losses = history.history.get("loss", [])
        if not losses or not all(math.isfinite(v) for v in losses):
            raise keras_tuner.errors.FailedTrialError(
                f"the training loss became {losses[-1] if losses else 'nothing'} (NaN or infinite); trial recorded as failed.")
        return history


class _ExecutionLog(keras.callbacks.Callback):
    """One line per start and per end of a trial's training, with the tuner that ran it:
    which worker ran what, and whether a trial was interrupted and picked up again."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def _write(self, event: str, **extra) -> None:
        line = {"event": event, "tuner_id": os.environ.get("KERASTUNER_TUNER_ID", "tuner0"), "pid": os.getpid(),
                "time": time.time(), **extra}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as stream:
            stream.write(json.dumps(line) + "\n")

    def on_train_begin(self, logs=None):
        self.epochs = 0
        self._write("started")

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1

    def on_train_end(self, logs=None):
        self._write("finished", epochs=self.epochs)


def _trial_dir(callbacks: list) -> Path | None:
    """KerasTuner's own per-trial callback knows the trial and its directory."""
    for callback in callbacks:
        trial, tuner = getattr(callback, "trial", None), getattr(callback, "tuner", None)
        if trial is not None and tuner is not None:
            return Path(tuner.get_trial_dir(trial.trial_id))
    return None


def build_hypermodel(spec: Spec | str | Path, overrides: Sequence[str] = (), verbose: int | str = 0) -> SpecHyperModel:
    """The spec's hypermodel, for `zoo tune` or your own KerasTuner code."""
    if not isinstance(spec, Spec):
        spec = load_spec(spec, overrides)
    return SpecHyperModel(spec, verbose)
