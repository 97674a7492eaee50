"""KerasTuner's chief/worker mode: who is the chief, and the chief's watch over silent workers."""

from __future__ import annotations

import os
import threading
import time

import keras_tuner

from zoo.builders.search import _keras_tuner

__all__ = ["WorkerLeases", "distributed", "is_chief"]


class WorkerLeases:
    """The chief's watch over a distributed search: a trial whose worker falls silent goes back to the queue.

    KerasTuner's chief waits for every running trial to end, so a worker killed in
    the middle of one holds the search until a worker with the same `--tuner-id`
    returns. A worker reports to the chief when it takes a trial and after every
    epoch; with `tune.worker_timeout: S`, a trial whose worker has said nothing for
    S seconds goes to KerasTuner's retry queue, the next free worker takes it and
    resumes from its backup (on the shared search directory), and the silent
    worker no longer holds the chief. Workers with no trial left to start stay
    while another trial runs, to take it if it is handed on. S must exceed the
    slowest epoch plus a model's build: a live worker whose trial was handed on
    would run it twice.

    Args:
        oracle: the chief's `keras_tuner.Oracle`.
        timeout: seconds of silence after which a trial is handed on.
        report: where a handed-on trial is announced.
    """

    IDLE_WAIT = 0.2  # seconds a worker with nothing to do waits before it asks again

    def __init__(self, oracle: keras_tuner.Oracle, timeout: float, report=print) -> None:
        Status = keras_tuner.engine.trial.TrialStatus
        self.oracle = oracle
        self.timeout = float(timeout)
        self.report = report
        self.heard: dict[str, float] = {}  # trial id: when its worker last reported
        self._stopped = threading.Event()
        create_trial, update_trial, end_trial = oracle.create_trial, oracle.update_trial, oracle.end_trial

        def created(tuner_id, *args, **kwargs):
            trial = create_trial(tuner_id, *args, **kwargs)
            if trial.status == Status.RUNNING:
                self.heard[trial.trial_id] = time.monotonic()
            elif trial.status == Status.STOPPED and oracle.ongoing_trials:
                # No trial left to start, but one running elsewhere may yet be handed on: ask again shortly.
                time.sleep(self.IDLE_WAIT)
                trial.status = Status.IDLE
            return trial

        def updated(trial_id, *args, **kwargs):
            self.heard[trial_id] = time.monotonic()
            return update_trial(trial_id, *args, **kwargs)

        def ended(trial, *args, **kwargs):
            self.heard.pop(trial.trial_id, None)
            return end_trial(trial, *args, **kwargs)

        oracle.create_trial, oracle.update_trial, oracle.end_trial = created, updated, ended
        self._thread = threading.Thread(target=self._watch, name="worker-leases", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stopped.wait(min(1.0, self.timeout / 4)):
            for tuner_id, trial_id, silent in _hand_on(self.oracle, self.heard, self.timeout):
                self.report(f"worker {tuner_id} silent for {silent:.0f} s: trial {trial_id} goes back to the queue")

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


@keras_tuner.synchronized
def _hand_on(oracle: keras_tuner.Oracle, heard: dict[str, float], timeout: float) -> list[tuple[str, str, float]]:
    """Under the oracle's lock: move each trial silent for over `timeout` seconds to the retry queue."""
    now, handed = time.monotonic(), []
    for tuner_id, trial in list(oracle.ongoing_trials.items()):
        silent = now - heard.get(trial.trial_id, now)
        if silent > timeout:
            del oracle.ongoing_trials[tuner_id]
            oracle.tuner_ids.discard(tuner_id)
            _keras_tuner.requeue(oracle, trial.trial_id)
            heard.pop(trial.trial_id, None)
            handed.append((tuner_id, trial.trial_id, silent))
    if handed:
        oracle.save()
    return handed


def distributed() -> bool:
    """KerasTuner's chief/worker mode: the chief's address is in the environment."""
    return "KERASTUNER_ORACLE_IP" in os.environ


def is_chief() -> bool:
    """A worker of a distributed search leaves the results to the chief."""
    return not distributed() or os.environ.get("KERASTUNER_TUNER_ID") == "chief"
