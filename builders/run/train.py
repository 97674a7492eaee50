"""Training runs: `zoo train SPEC`, `zoo train --resume RUN_DIR`, `zoo evaluate`, `zoo predict`.

A run directory holds (each file written atomically, with the permissions the umask gives):

    zoo-manifest.json  ours: kind, state (training | finishing | complete), the spec's fingerprint
    .zoo.lock          the OS lock of the process working in it (with its pid)
    spec.yaml          the concrete spec (markers resolved, defaults filled in)
    history.csv        one row per finished epoch, rewritten after each epoch
    history.json       the same, at the end
    model.keras        the trained model (normalization included)
    data.json          input shape, task, class names and feature columns, for predict
    run.json           command line, versions, backend, devices, git revision (builders/run/records.py)
    MODEL_CARD.md      spec, data, metrics, versions; intended-use fields for the owner
    classes_*.csv      per-class precision/recall/F1 of the validation and test splits (classification)
    confusion_*.png    their confusion matrices
    metrics.json       final/best metrics (best_epoch counted from 1), written last
    curves.png         loss and each metric, train vs validation, best epoch marked
    logs/              TensorBoard
    backup/            the AtomicBackupAndRestore checkpoint and the state of the spec's callbacks
                       (patience counters, best values) until the run is complete
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import keras
import numpy as np

from zoo.builders.data.load import Data, GivenData, anchored, given_data, spec_for_given
from zoo.builders.run.files import atomic_path, write_json, write_text
from zoo.builders.run.history import SETTINGS, CallbackState, HistoryFile, read_history, tensorboard
from zoo.builders.run.plan import RunPlan, build_plan, callback_files_dir
from zoo.builders.run.plots import plot_curves
from zoo.builders.run.records import classification_report, write_hparams, write_model_card, write_run_record
from zoo.builders.run.rundir import OwnedDirectory, check_name, fingerprint
from zoo.builders.run.saved import COMPLETE_MARKER, load_model
from zoo.builders.run.tracking import MlflowLogger, mlflow_settings
from zoo.builders.spec.document import Spec, load_spec
from zoo.builders.spec.errors import RunError
from zoo.callbacks import AtomicBackupAndRestore, BackupError

__all__ = ["RunResult", "train", "resume", "format_summary"]



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
        names = ("spec.yaml", "model.keras", "history.csv", "history.json", "metrics.json", "curves.png", "logs",
                 "run.json", "MODEL_CARD.md", "classes_validation.csv", "classes_test.csv", "confusion_validation.png",
                 "confusion_test.png")
        return {name: self.run_dir / name for name in names if (self.run_dir / name).exists()}


def _callbacks(plan: RunPlan, run_dir: Path, backup: AtomicBackupAndRestore, mlflow: MlflowLogger | None) -> list:
    """What a run adds to the plan's callbacks: its history file, the callbacks' state and the backup,
    TensorBoard."""
    output = plan.spec.tree["output"]
    extra: list = [keras.callbacks.TerminateOnNaN(), HistoryFile(run_dir / "history.csv"),
                   CallbackState(plan.callbacks, run_dir / "backup"), backup]
    # History and callback state are written before the backup, so no finished epoch is missing from them.
    if output["tensorboard"]:
        extra.extend(tensorboard(run_dir / "logs"))
    if mlflow is not None:
        extra.append(mlflow)
    return extra


def train(
    spec: Spec | str | Path | dict,
    overrides: Sequence[str] = (),
    run_dir: str | Path | None = None,
    quiet: bool = False,
    verbose: int | str = "auto",
    *,
    data: Any = None,
    validation_data: Any = None,
    test_data: Any = None,
    label: str | None = None,
) -> RunResult:
    """Train the model a spec describes and write its run directory.

    The run plan is built (and so the spec validated) before anything is written.

    Example, with data already in memory (as in a notebook):

        spec = {"version": 1, "name": "notebook", "model": {"layers": [{"Dense": {"units": 64, "activation": "relu"}}],
                "head": "auto"}, "train": {"metrics": ["accuracy"]}}
        result = zoo.train(spec, data=(x, y), validation_data=(x_val, y_val))
        result.metrics["final_val_accuracy"], result.model, result.paths["model.keras"]

    Args:
        spec: a `Spec`, a path / YAML text for `load_spec`, or a parsed mapping.
        data: training data given in Python instead of the spec's source: `(x, y)` NumPy arrays (x may be
            {input name: array} for a graph's named inputs), a pandas DataFrame (with `label=`), or a
            `tf.data.Dataset` of `(x, y)`; checked as a file source is. The spec's other data settings stay.
        validation_data, test_data: splits in the same forms (replacing validation_split / test_split).
        label: the target column of DataFrames.
        overrides: dotted overrides such as `"train.epochs=5"`.
        run_dir: where to write (default `<output.directory>/<name>/<timestamp>/`): a new or empty
            directory, or an unfinished run of the same spec, which then continues.
        quiet: one line per epoch instead of Keras's progress bar (`verbose=2`).
        verbose: Keras's fit verbosity: "auto" (a progress bar), 2 (one line per epoch), 0 (nothing).
    """
    if run_dir is not None and not isinstance(run_dir, (str, os.PathLike)):
        raise TypeError(f"zoo.train: run_dir is a path (str or os.PathLike); got {type(run_dir).__name__} {run_dir!r}.")
    given = given_data(data, validation_data, test_data, label)  # checked before the spec is read
    spec = spec_for_given(loaded_spec(spec, overrides), given)
    spec = anchored(spec.resolved())  # each marker takes its default; files by absolute path
    check_name(spec.name, "the run name")
    text = spec.to_yaml()
    path = Path(run_dir) if run_dir is not None else _stamped_path(spec)
    with _policy_kept():
        plan = build_plan(spec, log_dir=_log_dir(spec, path), files_dir=callback_files_dir(path),
                          given=given)  # every spec problem is raised here
        directory = _claim(spec, path, text + _given_text(given), fresh=run_dir is None)
        with directory:
            manifest = directory.manifest()
            if manifest["state"] == "complete":
                raise RunError(f"{path} already holds a finished run; choose another directory.")
            if manifest["spec"] != fingerprint(text + _given_text(given)):
                raise RunError(f"{path} holds an unfinished run of another spec or other data: continue it with "
                               f"`zoo train --resume {path}` (it uses its own spec), or choose another directory.")
            if not (path / "spec.yaml").exists():
                if given is not None:
                    write_json(path / GIVEN_DATA, {"label": given.label, "digests": given.digests})
                write_text(path / "spec.yaml", text)
            write_run_record(path, spec.source)
            return _execute(plan, directory, 2 if quiet else verbose, given)


GIVEN_DATA = "given_data.json"  # a run trained on data given in Python: each split's fingerprint, for its resume


def loaded_spec(spec: Spec | str | Path | dict, overrides: Sequence[str] = ()) -> Spec:
    """`train`'s and `tune`'s spec argument (a Spec, a path, YAML text or a mapping) loaded, with its overrides."""
    if isinstance(overrides, str):  # one override given alone
        overrides = [overrides]
    if isinstance(spec, Spec):
        if overrides:
            import copy

            from zoo.builders.spec.document import apply_override, check_tree

            spec = spec.replace(copy.deepcopy(spec.tree))
            for text in overrides:
                apply_override(spec, text)
            return check_tree(spec)
        return spec
    return load_spec(spec, overrides)


def _given_text(given: GivenData | None) -> str:
    """What the directory's fingerprint adds for data given in Python: a run is of its spec and its data."""
    return "" if given is None else "\n# given data: " + json.dumps(given.digests, sort_keys=True)


def resume(run_dir: str | Path, quiet: bool = False, verbose: int | str = "auto", *, data: Any = None,
           validation_data: Any = None, test_data: Any = None, label: str | None = None) -> RunResult:
    """Continue an interrupted run from its last finished epoch, with its own spec; a run killed
    while finishing is finished. A run of data given in Python needs the same data again (`data=`...)."""
    with OwnedDirectory.reopen(run_dir, "run") as directory:
        if directory.state == "complete":
            raise RunError(f"{directory.path} holds a finished run; there is nothing to resume.")
        if not (directory.path / "spec.yaml").exists():
            raise RunError(f"{directory.path} has no spec.yaml: the run never started; start it again with zoo train.")
        spec = load_spec(directory.path / "spec.yaml").resolved()
        given = given_data(data, validation_data, test_data, label)
        _check_same_data(directory.path, given)
        with _policy_kept():
            plan = build_plan(spec, log_dir=_log_dir(spec, directory.path), files_dir=callback_files_dir(directory.path),
                              given=given)
            write_run_record(directory.path, spec.source, resumed=True)
            return _execute(plan, directory, 2 if quiet else verbose, given)


def _check_same_data(run_dir: Path, given: GivenData | None) -> None:
    """A run trained on data given in Python resumes only on the same data; a run of a source, only on its source."""
    recorded = None
    if (run_dir / GIVEN_DATA).exists():
        try:
            recorded = json.loads((run_dir / GIVEN_DATA).read_text())["digests"]
        except (OSError, ValueError, KeyError, TypeError):
            raise RunError(f"{run_dir / GIVEN_DATA} is damaged: the data the run was trained on cannot be told.") from None
    if recorded is None and given is not None:
        raise RunError(f"{run_dir} was trained on its spec's data source, not on data given in Python; resume it "
                       "without data=.")
    if recorded is not None and given is None:
        raise RunError(f"{run_dir} was trained on data given in Python, which exists only in that process: resume it "
                       "with zoo.resume(run_dir, data=...) and the same arrays.")
    if recorded is not None and given.digests != recorded:
        changed = sorted(set(recorded) ^ set(given.digests) | {k for k in recorded if given.digests.get(k) != recorded[k]})
        names = {"source": "data", "validation": "validation_data", "test": "test_data"}
        raise RunError(f"the {', '.join(names.get(k, k) for k in changed)} given differ from what {run_dir} was trained "
                       "on; resume it with the same arrays.")


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


def _execute(plan: RunPlan, directory: OwnedDirectory, verbose: int | str, given: GivenData | None = None) -> RunResult:
    """Fit (or, after a kill while finishing, only finish) and write the run's results.

    The order is what makes a kill at any moment safe: history and backup after every
    epoch; after the fit, model.keras and then the state `finishing`; then the results,
    metrics.json, the state `complete`; only then is the backup removed.
    """
    run_dir = directory.path
    backup = AtomicBackupAndRestore(run_dir / "backup", delete_checkpoint=False)
    settings = mlflow_settings(plan.spec)
    mlflow = MlflowLogger(settings, plan.spec.tree, run_dir) if settings else None
    model = plan.model
    started = time.perf_counter()
    if directory.state == "training":
        callbacks = _callbacks(plan, run_dir, backup, mlflow)
        try:
            done = backup.saved_epoch()
            if plan.pretrains and not done:  # the backup holds the pretrained weights
                _pretrain(plan, run_dir, verbose)
            plan.data.skip_epochs(done)  # the shuffle continues where it stopped
            plan.fit(callbacks, verbose=verbose)
        except BackupError as error:
            raise RunError(str(error)) from None
        except KeyboardInterrupt:
            print(f"\ninterrupted: resume with  zoo train --resume {run_dir}", flush=True)
            raise
        with atomic_path(run_dir / "model.keras") as temporary:
            model.save(temporary)
        directory.set_state("finishing")
    else:
        model = load_model(run_dir / "model.keras")
    wall_time = time.perf_counter() - started
    rows = read_history(run_dir / "history.csv")
    history = {key: [row.get(key) for row in rows] for key in dict.fromkeys(k for r in rows for k in r if k != "epoch")}
    metrics = _summary(model, history, plan.data, epochs_run=len(rows), wall_time=wall_time)
    write_json(run_dir / "history.json", history)
    write_json(run_dir / "data.json", _data_facts(plan, given))
    output = plan.spec.tree["output"]
    if output["plots"]:
        plot_curves(history, run_dir / "curves.png", metrics.get("best_epoch"))
    classes = classification_report(model, plan.data, run_dir, output["plots"])
    if output["tensorboard"]:
        write_hparams(run_dir / "logs", plan.spec.tree, metrics, run_dir.name)
    write_model_card(run_dir, plan.spec, model, plan.data, metrics, classes)
    write_json(run_dir / COMPLETE_MARKER, metrics)
    if mlflow is not None:
        mlflow.finish(metrics)
    directory.set_state("complete")
    _remove_backup(run_dir / "backup", backup)  # last: until now a kill resumes from it
    return RunResult(run_dir, history, metrics, model, len(rows), wall_time)


def _data_facts(plan: RunPlan, given: GivenData | None = None) -> dict:
    """What predict and evaluate need to read new rows as training read them."""
    info = plan.data.info
    source = {"label": given.label} if given is not None else plan.spec.tree["data"].get("source") or {}
    shape = ({k: list(v) for k, v in info.input_shape.items()} if isinstance(info.input_shape, dict)
             else list(info.input_shape))
    return {"input_shape": shape, "task": info.task, "num_classes": info.num_classes, "class_names": info.class_names,
            "features": source.get("features"), "label": source.get("label"),
            "x": source.get("x") if isinstance(source.get("x"), dict) else None}


def _remove_backup(backup_dir: Path, backup: AtomicBackupAndRestore) -> None:
    """The files the backup and the callbacks' state wrote; the folder only when nothing else is in it."""
    for path in [backup_dir / CallbackState.FILE, *backup_dir.glob("best_weights_*.npz")]:
        path.unlink(missing_ok=True)
    backup.remove()


def _pretrain(plan: RunPlan, run_dir: Path, verbose: int | str) -> None:
    """Greedy layer-wise pretraining, once per run: a resumed run reloads the pretrained weights."""
    report_path, weights_path = run_dir / "pretrain.json", run_dir / "pretrained.weights.h5"
    if report_path.exists() and weights_path.exists():
        try:
            plan.model.load_weights(weights_path)
        except (OSError, ValueError) as error:
            raise RunError(f"{weights_path} cannot be loaded ({type(error).__name__}): it is damaged; "
                           "start the run again in a new directory.") from None
        return
    phases = plan.pretrain(verbose=2 if verbose == "auto" else verbose)
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
    best = int(np.argmin(values)) if values else None  # an index into the history
    # Epochs are numbered from 1 everywhere a person reads them: the console, the plot, metrics.json.
    metrics: dict[str, Any] = {"epochs_run": epochs_run, "wall_time_s": round(wall_time, 3),
                               "best_epoch": None if best is None else best + 1, "monitor": monitor}
    for key, series in history.items():
        if key in SETTINGS or not series:
            continue
        metrics[f"final_{key}"] = series[-1]
        if best is not None and best < len(series):
            metrics[f"best_{key}"] = series[best]
    if data.test is not None:
        results = model.evaluate(data.test, verbose=0, return_dict=True)
        metrics.update({f"test_{k}": float(v) for k, v in results.items()})
    return metrics


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
    lines.append(f"epochs run {metrics['epochs_run']}, best epoch {best if best is not None else '-'} by {metrics['monitor']}, wall time {metrics['wall_time_s']:.1f}s")
    return "\n".join(lines)
