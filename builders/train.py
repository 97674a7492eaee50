"""Training runs: `zoo train SPEC`, `zoo train --resume RUN_DIR`, `zoo evaluate`, `zoo predict`.

A run directory holds (each file written atomically):

    spec.yaml       the resolved spec (markers replaced by their values)
    history.csv     one row per finished epoch, rewritten after each epoch
    history.json    the same, at the end
    model.keras     the trained model (normalization included)
    metrics.json    final/best metrics; written last, so its presence means "complete"
    curves.png      loss and each metric, train vs validation, best epoch marked
    logs/           TensorBoard
    backup/         the AtomicBackupAndRestore checkpoint while the run is unfinished, with
                    the state of the spec's callbacks (patience counters, best values)
"""

from __future__ import annotations

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

from builders.data import Data, load_data
from builders.errors import SpecError, closest
from builders.files import atomic_path, write_json, write_text
from builders.model import build_model, reconstructs
from builders.resolve import resolve
from builders.spec import Spec, load_spec
from callbacks import (
    ActivationMonitor,
    AtomicBackupAndRestore,
    GradientMonitor,
    UnfreezeSchedule,
    greedy_layerwise_pretrain,
    probe_batch,
)
from callbacks.chain import chain_of

__all__ = ["RunResult", "train", "resume", "evaluate", "predict", "apply_runtime", "spec_callbacks", "fit_data", "pretrain_model",
           "distribution_strategy"]

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


def apply_runtime(spec: Spec) -> None:
    """Seed every random source and set precision and determinism, before any model exists."""
    runtime = spec.section("runtime")
    if spec.seed is not None:
        keras.utils.set_random_seed(spec.seed)
    if runtime.get("deterministic"):
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_dtype_policy(runtime.get("precision", "float32"))


def _new_run_dir(spec: Spec, run_dir: str | Path | None) -> Path:
    if run_dir is not None:
        path = Path(run_dir)
        if (path / COMPLETE_MARKER).exists():
            raise SpecError(f"{path} already holds a finished run; choose another directory.")
        path.mkdir(parents=True, exist_ok=True)
        return path
    root = Path(spec.get("output", "directory", default="runs")) / spec.name
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    path = root / stamp
    suffix = 1
    while path.exists():
        suffix += 1
        path = root / f"{stamp}-{suffix}"
    path.mkdir(parents=True)
    return path


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
    if not path.exists():
        return []
    with open(path, newline="") as stream:
        rows = []
        for row in csv.DictReader(stream):
            rows.append({k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v not in ("", None)})
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

    def __init__(self, callbacks: list, directory: Path) -> None:
        super().__init__()
        self.callbacks = callbacks
        self.directory = directory
        self.path = directory / "callback_state.json"
        self.restored = False

    def _saved(self) -> dict:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

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
                    with np.load(self.directory / value) as arrays:
                        callback.best_weights = [arrays[f"w{i}"] for i in range(len(arrays.files))]
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


def spec_callbacks(spec: Spec, data: Data, model: keras.Model, epochs: int, log_dir: Path | None) -> list:
    """The callbacks the spec asks for (`train.callbacks`, `transfer.unfreeze`), checked against the model
    and data before training, monitors given their probe batch."""
    user = [resolve(c, "callback", spec, ("train", "callbacks", i)) for i, c in enumerate(spec.get("train", "callbacks", default=[]))]
    unfreeze = spec.get("transfer", "unfreeze")
    if unfreeze:
        user.append(UnfreezeSchedule(**unfreeze))
    _check_monitors(spec, user, data, model)
    _check_learning_rate_control(spec, user, model)
    _check_unfreezing(spec, user, model, epochs)
    _give_probes(spec, user, data, log_dir)
    return user


def _callbacks(spec: Spec, run_dir: Path, epochs: int, quiet: bool, data: Data, model: keras.Model) -> list:
    user = spec_callbacks(spec, data, model, epochs, run_dir / "logs" if spec.get("output", "tensorboard", default=True) else None)
    history = _HistoryFile(run_dir / "history.csv")
    extra: list = [keras.callbacks.TerminateOnNaN(), history, _CallbackState(user, run_dir / "backup"),
                   # A kill in the middle of writing a backup leaves the previous one loadable.
                   AtomicBackupAndRestore(run_dir / "backup")]
    if spec.get("output", "tensorboard", default=True):
        extra.append(keras.callbacks.TensorBoard(str(run_dir / "logs"), write_graph=False, profile_batch=0))
    if quiet:
        extra.append(_EpochLine(epochs))
    # History and callback state are written before the backup, so no finished epoch is missing from them.
    return user + extra


def _check_unfreezing(spec: Spec, callbacks: list, model: keras.Model, epochs: int) -> None:
    """An unfreeze schedule that cannot do what it says is an error before training starts."""
    for index, callback in enumerate(callbacks):
        if not isinstance(callback, UnfreezeSchedule):
            continue
        from_transfer = index == len(callbacks) - 1 and spec.get("transfer", "unfreeze") is not None
        path = ("transfer", "unfreeze") if from_transfer else ("train", "callbacks", index)
        if not callback.frozen_layers(model):
            raise spec.error(path, "the schedule would unfreeze layers, but no layer of the model is frozen"
                             + (" (transfer.mode is fine_tune)" if spec.get("transfer", "mode") == "fine_tune" else "") + ".")
        try:
            callback.check(model)
        except ValueError as error:
            raise spec.error(path + (("layers",) if from_transfer else ()), str(error)) from None
        if callback.after_epoch >= epochs:
            raise spec.error(path + (("after_epoch",) if from_transfer else ()),
                             f"after_epoch {callback.after_epoch} is never reached: training runs epochs 0 to {epochs - 1}.")


def _give_probes(spec: Spec, callbacks: list, data: Data, log_dir: Path | None) -> None:
    """Monitors that look at a batch get the first training batch; gradient norms go to TensorBoard too."""
    for callback in callbacks:
        if isinstance(callback, (GradientMonitor, ActivationMonitor)) and callback.probe is None:
            callback.set_probe(*probe_batch(data.train))
        if isinstance(callback, GradientMonitor) and callback.log_dir is None and log_dir is not None:
            callback.log_dir = str(log_dir / "gradients")


def _check_learning_rate_control(spec: Spec, callbacks: list, model: keras.Model) -> None:
    """Callbacks that set the learning rate cannot drive an optimizer whose rate is a schedule:
    Keras finds out only at the first change, mid-training; here it is an error before it starts."""
    schedule = getattr(model.optimizer, "_learning_rate", None)
    if not isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        return
    for index, callback in enumerate(callbacks):
        if isinstance(callback, (keras.callbacks.ReduceLROnPlateau, keras.callbacks.LearningRateScheduler)):
            raise spec.error(
                ("train", "callbacks", index),
                f"{type(callback).__name__} sets the learning rate, but train.optimizer's learning_rate is a schedule "
                f"({type(schedule).__name__}); use one or the other.",
            )


def _check_monitors(spec: Spec, callbacks: list, data: Data, model: keras.Model) -> None:
    """A callback that monitors a quantity that will never be logged is an error now, not a warning later."""
    logged = _logged_names(model, data)
    for index, callback in enumerate(callbacks):
        monitor = getattr(callback, "monitor", None)
        if not isinstance(monitor, str):
            continue
        if monitor.startswith("val_") and data.validation is None:
            raise spec.error(
                ("train", "callbacks", index),
                f"{type(callback).__name__} monitors {monitor!r}, but there is no validation data; "
                "add data.validation_split or data.validation, or monitor a training metric.",
            )
        if logged is not None and monitor not in logged:
            raise spec.error(
                ("train", "callbacks", index),
                f"{type(callback).__name__} monitors {monitor!r}, which training does not log; it logs "
                f"{', '.join(sorted(logged))}.",
                closest(monitor, sorted(logged)),
            )


def _logged_names(model: keras.Model, data: Data) -> set[str] | None:
    """What `fit` will put in the epoch logs: loss, each compiled metric's name, their val_ twins;
    None when the model's metrics are not plain enough to tell (several outputs)."""
    config = model.get_compile_config() or {}
    metrics = config.get("metrics") or []
    if isinstance(metrics, dict) or len(model.outputs) > 1:
        return None
    names = {"loss"}
    for metric in metrics:
        if isinstance(metric, str):
            names.add(metric)
        elif isinstance(metric, dict) and isinstance(metric.get("config"), dict) and "name" in metric["config"]:
            names.add(metric["config"]["name"])
        else:
            return None
    if data.validation is not None:
        names |= {f"val_{name}" for name in names}
    return names | {"learning_rate"}


def train(
    spec: Spec | str | Path,
    overrides: Sequence[str] = (),
    run_dir: str | Path | None = None,
    quiet: bool = False,
    verbose: int | str = "auto",
) -> RunResult:
    """Train the model a spec describes and write its run directory.

    Args:
        spec: a `Spec`, or a path / YAML text for `load_spec`.
        overrides: dotted overrides such as `"train.epochs=5"`.
        run_dir: where to write (default `runs/<name>/<timestamp>/`); an unfinished
            run directory given here is resumed.
        quiet: one line per epoch instead of Keras's progress bar.
    """
    if not isinstance(spec, Spec):
        spec = load_spec(spec, overrides)
    if spec.markers:
        spec = spec.with_hyperparameters()  # each marker takes its default
    run_dir = _new_run_dir(spec, run_dir)
    if not (run_dir / "spec.yaml").exists():
        write_text(run_dir / "spec.yaml", spec.to_yaml())
    return _run(spec, run_dir, quiet, verbose)


def resume(run_dir: str | Path, quiet: bool = False, verbose: int | str = "auto") -> RunResult:
    """Continue an interrupted run from its last finished epoch, optimizer state included."""
    run_dir = Path(run_dir)
    if not (run_dir / "spec.yaml").exists():
        raise SpecError(f"{run_dir} is not a run directory (it has no spec.yaml).")
    if (run_dir / COMPLETE_MARKER).exists():
        raise SpecError(f"{run_dir} holds a finished run; there is nothing to resume.")
    return _run(load_spec(run_dir / "spec.yaml"), run_dir, quiet, verbose)


def _run(spec: Spec, run_dir: Path, quiet: bool, verbose: int | str) -> RunResult:
    policy = keras.mixed_precision.dtype_policy()
    try:
        return _fit(spec, run_dir, quiet, verbose)
    finally:
        keras.mixed_precision.set_dtype_policy(policy)  # a mixed-precision run leaves the caller's policy alone


_STRATEGIES: dict[str, Any] = {}


def distribution_strategy(spec: Spec) -> Any:
    """`runtime.strategy` as a `tf.distribute` strategy (one per process), or None for Keras's default.

    mirrored: `MirroredStrategy`, synchronous data parallelism over this machine's GPUs
    (one replica on a CPU-only machine). multi_worker is refused with the reason:
    Keras 3's `fit` fails under `MultiWorkerMirroredStrategy` (keras-team/keras#20585).
    """
    name = spec.get("runtime", "strategy", default="default")
    if name == "default":
        return None
    if name == "multi_worker":
        raise spec.error(("runtime", "strategy"), "multi_worker is not available: Keras 3's model.fit fails under "
                         "tf.distribute.MultiWorkerMirroredStrategy (its TensorFlow trainer cannot reduce the per-replica "
                         "input batches; keras-team/keras#20585, open). Use mirrored for the GPUs of one machine, or spread "
                         "a search over machines with zoo tune --distributed.")
    if keras.backend.backend() != "tensorflow":
        raise spec.error(("runtime", "strategy"), f"runtime.strategy {name} needs the TensorFlow backend, not {keras.backend.backend()}.")
    if name not in _STRATEGIES:
        import tensorflow as tf

        _STRATEGIES[name] = tf.distribute.MirroredStrategy()
    return _STRATEGIES[name]


def _fit(spec: Spec, run_dir: Path, quiet: bool, verbose: int | str) -> RunResult:
    strategy = distribution_strategy(spec)
    apply_runtime(spec)
    data = load_data(spec)
    if strategy is None:
        model = build_model(spec, data.info)
    else:
        with strategy.scope():  # variables, optimizer slots and metrics mirrored across replicas
            model = build_model(spec, data.info)
    data = fit_data(spec, model, data)
    epochs = spec.get("train", "epochs", default=10)
    callbacks = _callbacks(spec, run_dir, epochs, quiet, data, model)
    if "pretrain" in spec.tree:  # `pretrain: {}` pretrains with the defaults
        _pretrain(spec, model, data, run_dir, quiet, verbose)
    class_weight = _class_weight(spec, data)
    started = time.perf_counter()
    try:
        model.fit(
            data.train,
            validation_data=data.validation,
            epochs=epochs,
            callbacks=callbacks,
            class_weight=class_weight,
            shuffle=False,  # the tf.data pipeline shuffles
            verbose=0 if quiet else verbose,
        )
    except KeyboardInterrupt:
        print(f"\ninterrupted: resume with  zoo train --resume {run_dir}", flush=True)
        raise
    wall_time = time.perf_counter() - started
    rows = read_history(run_dir / "history.csv")
    history = {key: [row.get(key) for row in rows] for key in dict.fromkeys(k for r in rows for k in r if k != "epoch")}
    with atomic_path(run_dir / "model.keras") as temporary:
        model.save(temporary)
    metrics = _summary(model, history, data, epochs_run=len(rows), wall_time=wall_time)
    write_json(run_dir / "history.json", history)
    if spec.get("output", "plots", default=True):
        plot_curves(history, run_dir / "curves.png", metrics.get("best_epoch"))
    write_json(run_dir / COMPLETE_MARKER, metrics)  # last: marks the run complete
    return RunResult(run_dir, history, metrics, model, len(rows), wall_time)


def _check_pretrain(spec: Spec, model: keras.Model) -> None:
    """What greedy pretraining needs of the model, checked before anything trains."""
    if spec.section("transfer"):
        raise spec.error(("pretrain",), "pretrain and transfer cannot both be given: the reused layers are trained already.")
    try:
        chain = chain_of(model)
    except ValueError as error:
        raise spec.error(("pretrain",), str(error)) from None
    epochs = spec.get("pretrain", "epochs_per_layer", default=3)
    if isinstance(epochs, list) and len(epochs) != len(chain.hidden):
        raise spec.error(("pretrain", "epochs_per_layer"), f"{len(epochs)} entries for {len(chain.hidden)} hidden layers "
                         f"({', '.join(block[0].name for block in chain.hidden)}).")


def pretrain_model(spec: Spec, model: keras.Model, data: Data, verbose: int | str = 0) -> list[dict]:
    """The spec's `pretrain` section applied to `model` in place; returns the report of each phase."""
    _check_pretrain(spec, model)
    section = spec.section("pretrain")
    optimizer = section.get("optimizer")
    return greedy_layerwise_pretrain(
        model,
        data.train,
        mode=section.get("mode", "supervised"),
        epochs_per_layer=section.get("epochs_per_layer", 3),
        head_epochs=section.get("head_epochs"),
        optimizer=resolve(optimizer, "optimizer", spec, ("pretrain", "optimizer")) if optimizer is not None else None,
        freeze=section.get("freeze", True),
        validation_data=data.validation,
        verbose=verbose,
    )


def _pretrain(spec: Spec, model: keras.Model, data: Data, run_dir: Path, quiet: bool, verbose: int | str) -> None:
    """Greedy layer-wise pretraining, once per run: a resumed run reloads the pretrained weights."""
    report_path, weights_path = run_dir / "pretrain.json", run_dir / "pretrained.weights.h5"
    if report_path.exists() and weights_path.exists():
        model.load_weights(weights_path)
        return
    phases = pretrain_model(spec, model, data, verbose=0 if quiet else (2 if verbose == "auto" else verbose))
    for phase in phases:
        shown = "  ".join(f"{k} {v:.4g}" for k, v in phase.items() if isinstance(v, float) and k != "wall_time_s")
        print(f"pretrain phase {phase['phase']} ({phase['kind']}: {', '.join(phase['trained'])}, "
              f"{phase['epochs']} epochs)  {shown}  ({phase['wall_time_s']:.1f}s)", flush=True)
    with atomic_path(weights_path) as temporary:
        model.save_weights(temporary)
    write_json(report_path, phases)  # after the weights: its presence means both are there


def fit_data(spec: Spec, model: keras.Model, data: Data) -> Data:
    """The pipelines as the model trains on them: inputs as targets for an
    autoencoder, each batch twice in a row for the Backstitch optimizer."""
    from zoo.optimizers import Backstitch, backstitch_batches

    if reconstructs(spec):
        data = data.inputs_as_targets()
    if isinstance(model.optimizer, Backstitch):
        data = data.map_train(backstitch_batches)
    return data


def _class_weight(spec: Spec, data: Data) -> dict | None:
    if spec.get("train", "class_weight") != "balanced":
        return None
    if "train" not in data.arrays or data.info.task == "regression":
        raise spec.error(("train", "class_weight"), "class_weight: balanced needs a classification source held in memory.")
    labels = data.arrays["train"][1]
    classes = np.unique(labels)
    counts = np.array([(labels == c).sum() for c in classes])
    return {int(c): float(len(labels) / (len(classes) * n)) for c, n in zip(classes, counts)}


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


def _load_run(run_dir: str | Path) -> tuple[Spec, keras.Model]:
    run_dir = Path(run_dir)
    if not (run_dir / COMPLETE_MARKER).exists():
        raise SpecError(f"{run_dir} holds no finished run (no {COMPLETE_MARKER}); train or resume it first.")
    from builders.resolve import load_project_classes

    load_project_classes()  # registers the project's classes for loading
    spec = load_spec(run_dir / "spec.yaml")
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    return spec, model


def evaluate(run_dir: str | Path, data_source: dict | None = None) -> dict:
    """Metrics of a finished run's model on its test split (else validation), or on `data_source`."""
    spec, model = _load_run(run_dir)
    if data_source is not None:
        tree = dict(spec.tree)
        tree["data"] = {**{k: v for k, v in spec.section("data").items() if k in ("batch_size", "rescale")}, "source": data_source}
        spec = load_spec(tree)
        data = load_data(spec)
        dataset, split = data.train, "data"
    else:
        data = load_data(spec)
        dataset, split = (data.test, "test") if data.test is not None else (data.validation, "validation")
        if dataset is None:
            raise SpecError("the run's spec has no test or validation split; pass a data source to evaluate on.")
    if reconstructs(spec):
        dataset = dataset.map(lambda x, y: (x, x))
    results = model.evaluate(dataset, verbose=0, return_dict=True)
    return {"split": split, **{k: float(v) for k, v in results.items()}}


def predict(run_dir: str | Path, inputs: str | Path) -> np.ndarray:
    """Predictions of a finished run's model for the rows in a .npy, .npz (key `x`) or .csv file."""
    _, model = _load_run(run_dir)
    path = Path(inputs)
    if not path.exists():
        raise SpecError(f"input file not found: {path}")
    if path.suffix == ".npy":
        x = np.load(path, allow_pickle=False)
    elif path.suffix == ".npz":
        arrays = np.load(path, allow_pickle=False)
        if "x" not in arrays:
            raise SpecError(f"{path} holds no array 'x'; it holds {', '.join(arrays.keys())}.")
        x = arrays["x"]
    elif path.suffix == ".csv":
        x = np.loadtxt(path, delimiter=",", ndmin=2, dtype="float32")
    else:
        raise SpecError(f"cannot read {path}: expected a .npy, .npz or .csv file.")
    expected = tuple(model.input_shape[1:])
    if tuple(x.shape[1:]) != expected:
        raise SpecError(f"{path}: rows have shape {tuple(x.shape[1:])}, the model expects {expected}.")
    return model.predict(x.astype("float32"), verbose=0)


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
