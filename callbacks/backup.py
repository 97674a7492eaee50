"""A training backup that a kill at any moment leaves loadable.

Keras's `BackupAndRestore` overwrites `latest.weights.h5` and then
`training_metadata.json` in place. A process killed while it writes the
first epoch's weights leaves a truncated file and nothing to fall back on,
and the next `fit` raises instead of resuming; `double_checkpoint=True`
only covers the epochs after the first.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import keras
import numpy as np

from zoo._keras import set_restored_epoch
from zoo.callbacks.base import ConfigurableCallback, file_mode

__all__ = ["AtomicBackupAndRestore", "BackupError"]

register = keras.saving.register_keras_serializable(package="zoo")


class BackupError(ValueError):
    """A backup that cannot be restored: its state or weights file is damaged."""


@register
class AtomicBackupAndRestore(ConfigurableCallback):
    """Backs up weights and optimizer state after every epoch; the next `fit` resumes from the last complete one.

    Each epoch's weights go to a new file, `epoch_<n>.weights.h5`. Only once that
    file is complete does `state.json` (`{"epoch": n, "weights": ...}`) point to
    it, through an atomic rename; then the older weights are removed. So the
    state always names a complete file, whenever the process dies. At the end
    of a finished `fit` its files are removed (unless `delete_checkpoint` is
    False), and the directory too when nothing else is in it: files it did not
    write are never touched. The model must be built and compiled the same way as the one that
    was backed up.

    Args:
        backup_dir: the backup's directory; other files in it are always left alone.
        delete_checkpoint: remove the backup once training finishes (or call `remove()` yourself
            once the run's results are safely written).

    Example:
        >>> backup = AtomicBackupAndRestore("runs/mlp/backup")
        >>> model.fit(x, y, epochs=50, callbacks=[backup])  # killed at epoch 30
        >>> model.fit(x, y, epochs=50, callbacks=[backup])  # runs epochs 30..49
    """

    STATE = "state.json"

    def __init__(self, backup_dir: str | os.PathLike, delete_checkpoint: bool = True) -> None:
        super().__init__()
        if not str(backup_dir):
            raise ValueError("AtomicBackupAndRestore: argument `backup_dir` is empty; give a directory.")
        self.backup_dir = Path(backup_dir)
        self.delete_checkpoint = bool(delete_checkpoint)

    def get_config(self) -> dict[str, Any]:
        return {"backup_dir": str(self.backup_dir), "delete_checkpoint": self.delete_checkpoint}

    def saved_epoch(self) -> int:
        """The number of epochs the backup holds; 0 when there is none."""
        state = self._state()
        return int(state["epoch"]) if state else 0

    @staticmethod
    def _random_states(model) -> list:
        """The states of the model's random generators (dropout, noise): `save_weights` leaves them out,
        and a resumed run must draw the same masks as an uninterrupted one."""
        return [v for v in model.variables if v.path.endswith("seed_generator_state")]

    def _state(self) -> dict | None:
        path = self.backup_dir / self.STATE
        if not path.exists():
            return None
        try:
            state = json.loads(path.read_text())
            valid = isinstance(state, dict) and isinstance(state.get("epoch"), int) and isinstance(state.get("weights"), str)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            valid = False
        if not valid or "/" in state["weights"] or not (self.backup_dir / state["weights"]).is_file():
            raise BackupError(f"the backup {path} is damaged (it does not name a complete weights file): "
                             "start the run again in a new directory.")
        return state

    def remove(self) -> None:
        """Remove the files this backup wrote, and its directory if nothing else is left in it."""
        if not self.backup_dir.is_dir():
            return
        for path in self.backup_dir.iterdir():
            if path.name == self.STATE or path.name.startswith(".state.") or (
                    path.name.startswith("epoch_") and path.name.endswith((".weights.h5", ".random.npz"))):
                path.unlink(missing_ok=True)
        try:
            self.backup_dir.rmdir()
        except OSError:  # something else is in it: not ours to delete
            pass

    def on_train_begin(self, logs=None):
        state = self._state()
        if state is None:
            return
        if not self.model.built:
            raise ValueError("AtomicBackupAndRestore: the model must be built before `fit` to restore a backup; "
                             f"{self.model.name} is not.")
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)  # its slots must exist to be loaded into
        try:
            self.model.load_weights(self.backup_dir / state["weights"])
            if state.get("random"):
                with np.load(self.backup_dir / state["random"], allow_pickle=False) as saved:
                    values = [saved[f"s{i}"] for i in range(len(saved.files))]
                states = self._random_states(self.model)
                if len(values) == len(states):
                    for variable, value in zip(states, values):
                        variable.assign(value)
        except (OSError, ValueError, KeyError) as error:
            raise BackupError(f"the backup {self.backup_dir / state['weights']} cannot be loaded ({type(error).__name__}): "
                             "it is damaged or from another model; start the run again in a new directory.") from None
        set_restored_epoch(self.model, int(state["epoch"]))  # as Keras's own BackupAndRestore tells `fit`

    def on_epoch_end(self, epoch, logs=None):
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        name = f"epoch_{epoch + 1}.weights.h5"
        self.model.save_weights(self.backup_dir / name, overwrite=True)
        random = f"epoch_{epoch + 1}.random.npz"
        np.savez(self.backup_dir / random, **{f"s{i}": keras.ops.convert_to_numpy(v)
                                              for i, v in enumerate(self._random_states(self.model))})
        handle, temporary = tempfile.mkstemp(prefix=".state.", suffix=".json", dir=self.backup_dir)
        with os.fdopen(handle, "w") as stream:
            json.dump({"epoch": epoch + 1, "weights": name, "random": random}, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, file_mode())
        os.replace(temporary, self.backup_dir / self.STATE)
        for old in [*self.backup_dir.glob("epoch_*.weights.h5"), *self.backup_dir.glob("epoch_*.random.npz")]:
            if old.name not in (name, random):
                old.unlink(missing_ok=True)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:
            self.remove()
