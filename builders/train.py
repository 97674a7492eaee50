"""Training runs: `zoo train SPEC`, `zoo train --resume RUN_DIR`, `zoo evaluate`, `zoo predict`.

A run directory holds (each file written atomically, with the permissions the umask gives):

    zoo-manifest.json  ours: kind, state (training | finishing | complete), the spec's fingerprint
    .zoo.lock          the OS lock of the process working in it (with its pid)
    spec.yaml          the concrete spec (markers resolved, defaults filled in)
    history.csv        one row per finished epoch, rewritten after each epoch
    history.json       the same, at the end
    model.keras        the trained model (normalization included)
    data.json          input shape, task, class names and feature columns, for predict
    metrics.json       final/best metrics
    curves.png         loss and each metric, train vs validation, best epoch marked
    logs/              TensorBoard
    backup/            the AtomicBackupAndRestore checkpoint and the state of the spec's callbacks
                       (patience counters, best values) until the run is complete
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import keras
import numpy as np

from zoo.builders.data import Data, load_data, read_inputs
from zoo.builders.errors import RunError, SpecError
from zoo.builders.files import atomic_path, write_json, write_text
from zoo.builders.model import reconstructs
from zoo.builders.plan import RunPlan, build_plan
from zoo.builders.rundir import OwnedDirectory, check_name, fingerprint
from zoo.builders.spec import Spec, load_spec
from zoo.callbacks import AtomicBackupAndRestore, BackupError

__all__ = ["RunResult", "train", "resume", "evaluate", "predict", "class_names", "load_model", "read_history",
           "format_summary"]

COMPLETE_MARKER = "metrics.json"


@dataclass
class RunResult:
    """What a finished run produced."""

    run_dir: Path
    history: dict
    metrics: dict
    model: Any = field(repr=False, default=None)
    epochs_run: int = 0
    wall_time: float = 0.0

    @property
    def paths(self) -> dict[str, Path]:
        names = ("spec.yaml", "model.keras", "history.csv", "history.json", "metrics.json", "curves.png", "logs")
        return {name: self.run_dir / name for name in names if (self.run_dir / name).exists()}


class _HistoryFile(keras.callbacks.Callback):
    """Rewrites history.csv atomically after every epoch; on resume, keeps the epochs already done."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.rows: list[dict] = read_history(path)

    def on_epoch_begin(self, epoch, logs=None):
        # After a resume, `epoch` is where the backup restarts: forget rows it will redo.
        self.rows = [row for row in self.rows if row["epoch"] < epoch]

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}}
        optimizer = self.model.optimizer
        if "learning_rate" not in row and optimizer is not None:
            row["learning_rate"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        self.rows = [r for r in self.rows if r["epoch"] != epoch] + [row]
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


class _EpochLine(keras.callbacks.Callback):
    """The compact progress display of `--quiet`: one line per epoch."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        shown = "  ".join(f"{k} {v:.4g}" for k, v in (logs or {}).items() if k != "learning_rate" and "/" not in k)
        print(f"epoch {epoch + 1}/{self.epochs}  {shown}  ({time.perf_counter() - self.started:.1f}s)", flush=True)


class _CallbackState(keras.callbacks.Callback):
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


def _callbacks(plan: RunPlan, run_dir: Path, quiet: bool, backup: AtomicBackupAndRestore) -> list:
    """What a run adds to the plan's callbacks: its history file, the callbacks' state and the backup,
    TensorBoard, the one-line display."""
    output = plan.spec.tree["output"]
    extra: list = [keras.callbacks.TerminateOnNaN(), _HistoryFile(run_dir / "history.csv"),
                   _CallbackState(plan.callbacks, run_dir / "backup"), backup]
    # History and callback state are written before the backup, so no finished epoch is missing from them.
    if output["tensorboard"]:
        extra.append(keras.callbacks.TensorBoard(str(run_dir / "logs"), write_graph=False, profile_batch=0))
    if quiet:
        extra.append(_EpochLine(plan.epochs))
    return extra


def train(
    spec: Spec | str | Path,
    overrides: Sequence[str] = (),
    run_dir: str | Path | None = None,
    quiet: bool = False,
    verbose: int | str = "auto",
) -> RunResult:
    """Train the model a spec describes and write its run directory.

    The run plan is built (and so the spec validated) before anything is written.

    Args:
        spec: a `Spec`, or a path / YAML text for `load_spec`.
        overrides: dotted overrides such as `"train.epochs=5"`.
        run_dir: where to write (default `<output.directory>/<name>/<timestamp>/`): a new or empty
            directory, or an unfinished run of the same spec, which then continues.
        quiet: one line per epoch instead of Keras's progress bar.
    """
    if not isinstance(spec, Spec):
        spec = load_spec(spec, overrides)
    spec = spec.resolved()  # each marker takes its default
    check_name(spec.name, "the run name")
    text = spec.to_yaml()
    path = Path(run_dir) if run_dir is not None else _stamped_path(spec)
    with _policy_kept():
        plan = build_plan(spec, log_dir=_log_dir(spec, path))  # every spec problem is raised here
        directory = _claim(spec, path, text, fresh=run_dir is None)
        with directory:
            manifest = directory.manifest()
            if manifest["state"] == "complete":
                raise RunError(f"{path} already holds a finished run; choose another directory.")
            if manifest["spec"] != fingerprint(text):
                raise RunError(f"{path} holds an unfinished run of another spec: continue it with "
                               f"`zoo train --resume {path}` (it uses its own spec), or choose another directory.")
            if not (path / "spec.yaml").exists():
                write_text(path / "spec.yaml", text)
            return _execute(plan, directory, quiet, verbose)


def resume(run_dir: str | Path, quiet: bool = False, verbose: int | str = "auto") -> RunResult:
    """Continue an interrupted run from its last finished epoch, with its own spec; a run killed
    while finishing is finished."""
    with OwnedDirectory.reopen(run_dir, "run") as directory:
        if directory.state == "complete":
            raise RunError(f"{directory.path} holds a finished run; there is nothing to resume.")
        if not (directory.path / "spec.yaml").exists():
            raise RunError(f"{directory.path} has no spec.yaml: the run never started; start it again with zoo train.")
        spec = load_spec(directory.path / "spec.yaml").resolved()
        with _policy_kept():
            plan = build_plan(spec, log_dir=_log_dir(spec, directory.path))
            return _execute(plan, directory, quiet, verbose)


@contextlib.contextmanager
def _policy_kept():
    """A mixed-precision run leaves the caller's dtype policy alone."""
    policy = keras.mixed_precision.dtype_policy()
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(policy)


def _stamped_path(spec: Spec) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path(spec.tree["output"]["directory"]) / spec.name / stamp


def _log_dir(spec: Spec, path: Path) -> Path | None:
    return path / "logs" if spec.tree["output"]["tensorboard"] else None


def _claim(spec: Spec, path: Path, text: str, fresh: bool) -> OwnedDirectory:
    """The run directory, created and locked: a fresh timestamped one gets a suffix when taken."""
    if not fresh:
        return OwnedDirectory.claim(path, "run", text)
    for suffix in range(1, 1000):
        candidate = path if suffix == 1 else path.with_name(f"{path.name}-{suffix}")
        try:
            return OwnedDirectory.claim(candidate, "run", text, fresh=True)
        except FileExistsError:
            continue
    raise RunError(f"cannot find a free run directory beside {path}.")


def _execute(plan: RunPlan, directory: OwnedDirectory, quiet: bool, verbose: int | str) -> RunResult:
    """Fit (or, after a kill while finishing, only finish) and write the run's results.

    The order is what makes a kill at any moment safe: history and backup after every
    epoch; after the fit, model.keras and then the state `finishing`; then the results,
    metrics.json, the state `complete`; only then is the backup removed.
    """
    run_dir = directory.path
    backup = AtomicBackupAndRestore(run_dir / "backup", delete_checkpoint=False)
    model = plan.model
    started = time.perf_counter()
    if directory.state == "training":
        callbacks = _callbacks(plan, run_dir, quiet, backup)
        try:
            done = backup.saved_epoch()
            if plan.pretrains and not done:  # the backup holds the pretrained weights
                _pretrain(plan, run_dir, quiet, verbose)
            plan.data.skip_epochs(done)  # the shuffle continues where it stopped
            plan.fit(callbacks, verbose=0 if quiet else verbose)
        except BackupError as error:
            raise RunError(str(error)) from None
        except KeyboardInterrupt:
            print(f"\ninterrupted: resume with  zoo train --resume {run_dir}", flush=True)
            raise
        with atomic_path(run_dir / "model.keras") as temporary:
            model.save(temporary)
        directory.set_state("finishing")
    else:
        model = _load_model(run_dir / "model.keras")
    wall_time = time.perf_counter() - started
    rows = read_history(run_dir / "history.csv")
    history = {key: [row.get(key) for row in rows] for key in dict.fromkeys(k for r in rows for k in r if k != "epoch")}
    metrics = _summary(model, history, plan.data, epochs_run=len(rows), wall_time=wall_time)
    write_json(run_dir / "history.json", history)
    write_json(run_dir / "data.json", _data_facts(plan))
    if plan.spec.tree["output"]["plots"]:
        plot_curves(history, run_dir / "curves.png", metrics.get("best_epoch"))
    write_json(run_dir / COMPLETE_MARKER, metrics)
    directory.set_state("complete")
    _remove_backup(run_dir / "backup", backup)  # last: until now a kill resumes from it
    return RunResult(run_dir, history, metrics, model, len(rows), wall_time)


def _data_facts(plan: RunPlan) -> dict:
    """What predict and evaluate need to read new rows as training read them."""
    info, source = plan.data.info, plan.spec.tree["data"]["source"]
    return {"input_shape": list(info.input_shape), "task": info.task, "num_classes": info.num_classes,
            "class_names": info.class_names, "features": source.get("features"), "label": source.get("label")}


def _remove_backup(backup_dir: Path, backup: AtomicBackupAndRestore) -> None:
    """The files the backup and the callbacks' state wrote; the folder only when nothing else is in it."""
    for path in [backup_dir / _CallbackState.FILE, *backup_dir.glob("best_weights_*.npz")]:
        path.unlink(missing_ok=True)
    backup.remove()


def _pretrain(plan: RunPlan, run_dir: Path, quiet: bool, verbose: int | str) -> None:
    """Greedy layer-wise pretraining, once per run: a resumed run reloads the pretrained weights."""
    report_path, weights_path = run_dir / "pretrain.json", run_dir / "pretrained.weights.h5"
    if report_path.exists() and weights_path.exists():
        try:
            plan.model.load_weights(weights_path)
        except (OSError, ValueError) as error:
            raise RunError(f"{weights_path} cannot be loaded ({type(error).__name__}): it is damaged; "
                           "start the run again in a new directory.") from None
        return
    phases = plan.pretrain(verbose=0 if quiet else (2 if verbose == "auto" else verbose))
    for phase in phases:
        shown = "  ".join(f"{k} {v:.4g}" for k, v in phase.items() if isinstance(v, float) and k != "wall_time_s")
        print(f"pretrain phase {phase['phase']} ({phase['kind']}: {', '.join(phase['trained'])}, "
              f"{phase['epochs']} epochs)  {shown}  ({phase['wall_time_s']:.1f}s)", flush=True)
    with atomic_path(weights_path) as temporary:
        plan.model.save_weights(temporary)
    write_json(report_path, phases)  # after the weights: its presence means both are there


def _summary(model, history: dict, data: Data, epochs_run: int, wall_time: float) -> dict:
    monitor = "val_loss" if history.get("val_loss") else "loss"
    values = [v if v is not None and math.isfinite(v) else math.inf for v in history.get(monitor, [])]
    best = int(np.argmin(values)) if values else None
    metrics: dict[str, Any] = {"epochs_run": epochs_run, "wall_time_s": round(wall_time, 3), "best_epoch": best, "monitor": monitor}
    for key, series in history.items():
        if key == "learning_rate" or not series:
            continue
        metrics[f"final_{key}"] = series[-1]
        if best is not None and best < len(series):
            metrics[f"best_{key}"] = series[best]
    if data.test is not None:
        results = model.evaluate(data.test, verbose=0, return_dict=True)
        metrics.update({f"test_{k}": float(v) for k, v in results.items()})
    return metrics


def plot_curves(history: dict, target: Path, best_epoch: int | None) -> None:
    """Loss and each metric, train vs validation, one panel each, the best epoch marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k in history if not k.startswith("val_") and k != "learning_rate"]
    if not names:
        return
    figure, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    for axis, name in zip(axes[0], names):
        epochs = np.arange(1, len(history[name]) + 1)
        axis.plot(epochs, history[name], label="train")
        if history.get(f"val_{name}"):
            axis.plot(epochs, history[f"val_{name}"], label="validation")
        if best_epoch is not None:
            axis.axvline(best_epoch + 1, color="grey", linestyle="--", linewidth=1, label=f"best epoch ({best_epoch + 1})")
        axis.set_xlabel("epoch")
        axis.set_title(name)
        axis.legend()
    figure.tight_layout()
    with atomic_path(target) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    plt.close(figure)


def load_model(path: str | Path) -> keras.Model:
    """A saved model (`model.keras`, or a run directory holding one), zoo classes registered, in safe mode."""
    path = Path(path)
    return _load_model(path / "model.keras" if path.is_dir() else path)


def _load_model(path: Path) -> keras.Model:
    from zoo.builders.resolve import load_project_classes

    load_project_classes()  # registers the project's classes for loading
    if not path.is_file():
        raise RunError(f"{path} is missing: the run did not finish; resume it with zoo train --resume {path.parent}.")
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as error:  # zip, h5 and config errors all mean the same thing to a user
        raise RunError(f"{path} cannot be loaded ({type(error).__name__}): it is damaged or truncated; "
                       "train the run again in a new directory.") from None


def _load_run(run_dir: str | Path) -> tuple[Spec, keras.Model, dict]:
    """A finished run's concrete spec, model and data facts."""
    run_dir = Path(run_dir)
    if not (run_dir / "spec.yaml").is_file():
        raise RunError(f"{run_dir} is not a run directory (it has no spec.yaml).")
    if not (run_dir / COMPLETE_MARKER).is_file():
        raise RunError(f"{run_dir} holds no finished run (no {COMPLETE_MARKER}); resume it with zoo train --resume {run_dir}.")
    spec = load_spec(run_dir / "spec.yaml").resolved()
    facts_path = run_dir / "data.json"
    try:
        facts = json.loads(facts_path.read_text()) if facts_path.exists() else {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise RunError(f"{facts_path} is damaged: train the run again in a new directory.") from None
    return spec, _load_model(run_dir / "model.keras"), facts if isinstance(facts, dict) else {}


def _check_rows(model: keras.Model, shape: tuple, where: str) -> None:
    expected = tuple(model.input_shape[1:])
    if tuple(shape) != expected:
        raise RunError(f"{where}: rows have shape {tuple(shape)}, the model expects {expected}.")


def evaluate(run_dir: str | Path, data_source: dict | None = None) -> dict:
    """Metrics of a finished run's model on its test split (else validation), or on `data_source`."""
    spec, model, _ = _load_run(run_dir)
    if data_source is not None:
        tree = {key: value for key, value in spec.tree.items() if key not in ("data", "pretrain", "transfer", "tune")}
        tree["data"] = {"batch_size": spec.tree["data"]["batch_size"], "source": data_source}
        spec = load_spec(tree).resolved()
        data = load_data(spec)
        dataset, split = data.train, "data"
    else:
        data = load_data(spec)
        dataset, split = (data.test, "test") if data.test is not None else (data.validation, "validation")
        if dataset is None:
            raise SpecError("the run's spec has no test or validation split; pass a data source to evaluate on.")
    _check_rows(model, data.info.input_shape, "the data")
    if reconstructs(spec):
        dataset = dataset.map(lambda x, y: (x, x))
    results = model.evaluate(dataset, verbose=0, return_dict=True)
    return {"split": split, **{k: float(v) for k, v in results.items()}}


def class_names(run_dir: str | Path) -> list | None:
    """The names of a finished run's classes, when its training data had them."""
    return _load_run(run_dir)[2].get("class_names")


def predict(run_dir: str | Path, inputs: str | Path, allow_nan: bool = False) -> np.ndarray:
    """Predictions of a finished run's model for the rows of a .npy, .npz (key `x`), .csv or .parquet file,
    read as training read its data.

    Raises:
        RunError: unreadable or empty input, rows of the wrong shape, NaN or infinite values
            (unless `allow_nan`).
    """
    _, model, facts = _load_run(run_dir)
    x = read_inputs(inputs, features=facts.get("features"), label=facts.get("label"))
    _check_rows(model, x.shape[1:], str(inputs))
    if not allow_nan and not np.isfinite(x).all():
        bad = int(np.argwhere(~np.isfinite(x).reshape(len(x), -1).all(axis=1))[0][0])
        raise RunError(f"{inputs}: row {bad + 1} holds NaN or infinite values; fix the data, or pass --allow-nan "
                       "to predict anyway.")
    return model.predict(x, verbose=0)


def format_summary(metrics: dict) -> str:
    """The table `zoo train` prints at the end."""
    names = sorted({k.split("_", 1)[1] for k in metrics if k.startswith(("final_", "best_"))
                    and not k.startswith(("final_val_", "best_val_")) and "/" not in k})
    lines = [f"{'':22}{'final':>10}{'best':>10}"]
    for name in names:
        for prefix in ("", "val_"):
            final, best = metrics.get(f"final_{prefix}{name}"), metrics.get(f"best_{prefix}{name}")
            if final is None:
                continue
            label = f"{'validation' if prefix else 'train'} {name}"
            lines.append(f"{label:22}{final:>10.4f}{best if best is not None else float('nan'):>10.4f}")
    for key, value in metrics.items():
        if key.startswith("test_"):
            lines.append(f"{'test ' + key[5:]:22}{value:>10.4f}")
    best = metrics.get("best_epoch")
    lines.append(f"epochs run {metrics['epochs_run']}, best epoch {best + 1 if best is not None else '-'} by {metrics['monitor']}, wall time {metrics['wall_time_s']:.1f}s")
    return "\n".join(lines)
