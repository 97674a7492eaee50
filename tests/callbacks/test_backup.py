"""AtomicBackupAndRestore: a crash in the middle of writing a backup still resumes, from the last complete epoch."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from zoo.callbacks import AtomicBackupAndRestore
from tests.callbacks.helpers import digits, mlp


class Crash(Exception):
    """Stands for the process dying: raised from inside the weights write, after half the file is on disk."""


def crash_while_saving(model: keras.Model, file_name: str) -> None:
    """Make `model.save_weights` leave a truncated `file_name` behind and die, as a kill mid-write would."""
    original = model.save_weights

    def save_weights(filepath, overwrite=True):
        original(filepath, overwrite=overwrite)
        path = Path(filepath)
        if path.name == file_name:
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
            raise Crash(file_name)

    model.save_weights = save_weights


def fit(model: keras.Model, callbacks: list, epochs: int = 5) -> keras.callbacks.History:
    x, y, x_val, y_val = digits()
    return model.fit(x, y, validation_data=(x_val, y_val), epochs=epochs, batch_size=128, shuffle=False,
                     callbacks=callbacks, verbose=0)


def test_a_crash_while_writing_epoch_3_resumes_from_epoch_2_and_ends_where_an_unbroken_run_does(tmp_path):
    unbroken = mlp([32])
    fit(unbroken, [])
    broken = mlp([32])
    crash_while_saving(broken, "epoch_3.weights.h5")
    with pytest.raises(Crash):
        fit(broken, [AtomicBackupAndRestore(tmp_path / "backup")])
    assert AtomicBackupAndRestore(tmp_path / "backup").saved_epoch() == 2

    resumed = mlp([32], seed=1)  # different initial weights: everything must come from the backup
    history = fit(resumed, [AtomicBackupAndRestore(tmp_path / "backup")])
    assert len(history.history["loss"]) == 3  # epochs 2, 3 and 4
    for a, b in zip(unbroken.weights, resumed.weights):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-5, atol=1e-6)
    for a, b in zip(unbroken.optimizer.variables, resumed.optimizer.variables):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-5, atol=1e-6)
    assert not (tmp_path / "backup").exists()  # removed once training finished


def test_a_crash_while_writing_the_first_backup_starts_over_where_keras_backup_cannot_resume(tmp_path):
    model = mlp([32])
    crash_while_saving(model, "epoch_1.weights.h5")
    with pytest.raises(Crash):
        fit(model, [AtomicBackupAndRestore(tmp_path / "ours")])
    history = fit(mlp([32]), [AtomicBackupAndRestore(tmp_path / "ours")])
    assert len(history.history["loss"]) == 5

    # Control: Keras's own callback, double checkpoint included, has nothing to fall back on.
    model = mlp([32])
    crash_while_saving(model, "latest.weights.h5")
    with pytest.raises(Crash):
        fit(model, [keras.callbacks.BackupAndRestore(str(tmp_path / "keras"), double_checkpoint=True)])
    with pytest.raises(OSError):
        fit(mlp([32]), [keras.callbacks.BackupAndRestore(str(tmp_path / "keras"), double_checkpoint=True)])


def test_a_backup_is_kept_when_asked_and_only_its_last_epoch(tmp_path):
    fit(mlp([16]), [AtomicBackupAndRestore(tmp_path / "backup", delete_checkpoint=False)], epochs=3)
    assert sorted(p.name for p in (tmp_path / "backup").iterdir()) == ["epoch_3.random.npz", "epoch_3.weights.h5", "state.json"]
    # A finished backup: the next fit over the same epochs runs none.
    history = fit(mlp([16], seed=1), [AtomicBackupAndRestore(tmp_path / "backup")], epochs=3)
    assert history.history == {}


def test_config_round_trip_and_an_empty_directory_is_refused(tmp_path):
    backup = AtomicBackupAndRestore(tmp_path / "b", delete_checkpoint=False)
    again = AtomicBackupAndRestore.from_config(backup.get_config())
    assert again.get_config() == backup.get_config() == {"backup_dir": str(tmp_path / "b"), "delete_checkpoint": False}
    assert backup.as_component() == {"AtomicBackupAndRestore": backup.get_config()}
    with pytest.raises(ValueError, match="`backup_dir` is empty"):
        AtomicBackupAndRestore("")
