"""What a run keeps after every epoch: its history file, the spec's callbacks' counters."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import keras
import numpy as np

from zoo.builders.run.files import atomic_path, write_json, write_text
from zoo.builders.spec.errors import RunError

__all__ = ["HistoryFile", "CallbackState", "read_history", "tensorboard", "SETTINGS"]

SETTINGS = ("learning_rate", "batch_size")  # logged each epoch beside the scores, but not scores themselves

_TENSORBOARD_SKIPPED: list[str] = []  # said once per process


def tensorboard(log_dir: Path) -> list:
    """`[keras.callbacks.TensorBoard(log_dir)]`, or `[]` where it cannot write: Keras's TensorBoard
    callback writes through `tensorflow.summary` on every backend, so without TensorFlow (a JAX or
    PyTorch machine) the run keeps its CSV/JSON history and plots and says once that it skipped these logs."""
    try:
        import tensorflow  # noqa: F401
        import tensorboard as _  # noqa: F401 - KerasTuner's hparams logging needs it too
    except ImportError as error:
        if not _TENSORBOARD_SKIPPED:
            _TENSORBOARD_SKIPPED.append(str(log_dir))
            import sys

            print(f"note: TensorBoard logs skipped ({error.name or 'tensorflow'} is not installed); "
                  "history.csv, history.json and the plots are written as usual.", file=sys.stderr)
        return []
    if keras.backend.backend() != "tensorflow":  # TensorFlow only writes the logs: the accelerator stays the backend's
        import tensorflow as tf

        with contextlib.suppress(RuntimeError):  # already initialized: it has been told before
            tf.config.set_visible_devices([], "GPU")
    return [keras.callbacks.TensorBoard(str(log_dir), write_graph=False, profile_batch=0)]


class HistoryFile(keras.callbacks.Callback):
    """Rewrites history.csv atomically after every epoch; on resume, keeps the epochs already done.
    Its `epoch` column counts from 1, as the console, metrics.json and the plots do."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.rows: list[dict] = read_history(path)

    def on_epoch_begin(self, epoch, logs=None):
        # After a resume, `epoch` (Keras's 0-based index) is where the backup restarts: forget rows it will redo.
        self.rows = [row for row in self.rows if row["epoch"] <= epoch]

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
        optimizer = self.model.optimizer
        if "learning_rate" not in row and optimizer is not None:
            row["learning_rate"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        self.rows = [r for r in self.rows if r["epoch"] != epoch + 1] + [row]
        keys = list(dict.fromkeys(k for r in self.rows for k in r))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys)
        writer.writeheader()
        writer.writerows(self.rows)
        write_text(self.path, buffer.getvalue())


def read_history(path: Path) -> list[dict]:
    """The rows of a run's history.csv (none when it does not exist); RunError when it is damaged."""
    if not path.exists():
        return []
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            rows = []
            for row in csv.DictReader(stream):
                rows.append({k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v not in ("", None)})
    except (ValueError, TypeError, UnicodeDecodeError, csv.Error):
        raise RunError(f"{path} is damaged (not the history this project writes): "
                       "start the run again in a new directory.") from None
    if any("epoch" not in row for row in rows):
        raise RunError(f"{path} is damaged (rows without an epoch): start the run again in a new directory.")
    return rows


class CallbackState(keras.callbacks.Callback):
    """Saves the spec's callbacks' counters with each epoch's backup and restores them on resume.

    The backup keeps weights and optimizer state but not, for example, the
    patience counter of `EarlyStopping` or `ReduceLROnPlateau`: without this a resumed
    run would wait longer than an uninterrupted one. A callback may define
    `get_state()` / `set_state(state)` (JSON-able); otherwise the attributes in
    `ATTRIBUTES` that it has are kept, and `best_weights` goes to an .npz file.
    States are kept per epoch, so a kill between this file and the weights backup
    restores the state that matches the weights.
    """

    ATTRIBUTES = ("wait", "best", "best_epoch", "stopped_epoch", "cooldown_counter")
    KEEP = 3  # epochs of state kept
    FILE = "callback_state.json"

    def __init__(self, callbacks: list, directory: Path) -> None:
        super().__init__()
        self.callbacks = callbacks
        self.directory = directory
        self.path = directory / self.FILE
        self.restored = False

    def _saved(self) -> dict:
        if not self.path.exists():
            return {}
        try:
            saved = json.loads(self.path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            saved = None
        if not isinstance(saved, dict):
            raise RunError(f"{self.path} is damaged: start the run again in a new directory.")
        return saved

    def on_train_begin(self, logs=None):
        self._saved()  # a damaged state file is an error before training, not after it

    def on_epoch_begin(self, epoch, logs=None):
        if self.restored:
            return
        self.restored = True
        state = self._saved().get(str(epoch))
        if epoch == 0 or state is None:
            return
        for index, callback in enumerate(self.callbacks):
            saved = state.get(str(index))
            if saved is None:
                continue
            if hasattr(callback, "set_state"):
                callback.set_state(saved)
                continue
            for name, value in saved.items():
                if name == "best_weights":
                    try:
                        with np.load(self.directory / str(value), allow_pickle=False) as arrays:
                            callback.best_weights = [arrays[f"w{i}"] for i in range(len(arrays.files))]
                    except (OSError, ValueError, KeyError):
                        raise RunError(f"{self.directory / str(value)} is damaged or missing: start the run again "
                                       "in a new directory.") from None
                else:
                    setattr(callback, name, value)

    def on_epoch_end(self, epoch, logs=None):
        state: dict[str, dict] = {}
        for index, callback in enumerate(self.callbacks):
            if hasattr(callback, "get_state"):
                state[str(index)] = callback.get_state()
                continue
            saved = {name: getattr(callback, name) for name in self.ATTRIBUTES if hasattr(callback, name)}
            if getattr(callback, "best_weights", None) is not None:
                name = f"best_weights_{index}_{callback.best_epoch}.npz"
                if not (self.directory / name).exists():
                    with atomic_path(self.directory / name) as temporary:
                        np.savez(temporary, **{f"w{i}": w for i, w in enumerate(callback.best_weights)})
                saved["best_weights"] = name
            if saved:
                state[str(index)] = saved
        if not state:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        history = self._saved()
        history[str(epoch + 1)] = state  # the state a run resuming at epoch + 1 starts from
        kept = dict(sorted(history.items(), key=lambda item: int(item[0]))[-self.KEEP:])
        write_json(self.path, kept)
        in_use = {s.get("best_weights") for epoch_state in kept.values() for s in epoch_state.values()}
        for stale in self.directory.glob("best_weights_*.npz"):
            if stale.name not in in_use:
                stale.unlink()
