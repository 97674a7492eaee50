"""The run plan: the one place a spec becomes everything a fit needs.

    spec (+ a KerasTuner `hp`, or None for each marker's default)
      -> concrete spec (markers resolved once, schema defaults filled in)
      -> runtime (seed, precision, determinism, strategy)
      -> data -> compiled model -> checks against the data -> the spec's callbacks
      -> RunPlan(spec, data, model, callbacks, epochs, class_weight)

`zoo train`, each `zoo tune` trial, `zoo doctor`, `zoo lr-find`, the
reproductions and the benchmarks all start from `build_plan`; they differ only
in the callbacks and the directory they add. `validate` is the plan's dry run:
it builds the plan (at every marker's default and at its extremes) and fits
nothing, so every spec problem is a SpecError before any directory exists.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import keras
import numpy as np

from zoo._keras import learning_rate_object
from zoo.batches import EpochOfBatches, batch_size_of, rebatch
from zoo.builders.data.load import Data, GivenData, grows_batches, load_data
from zoo.builders.run.model import build_model, label_form, reconstructs
from zoo.builders.spec.document import Spec, load_spec
from zoo.builders.spec.errors import SpecError, closest
from zoo.builders.spec.markers import extremes, marker_name
from zoo.builders.spec.resolve import resolve
from zoo.callbacks import (
    ActivationMonitor,
    AtomicBackupAndRestore,
    BatchSizeSchedule,
    GradientMonitor,
    UnfreezeSchedule,
    fit_growing_batches,
    greedy_layerwise_pretrain,
    probe_batch,
)
from zoo.callbacks.chain import chain_of
from zoo.callbacks.pretraining import PRETRAIN_DEFAULTS, rbm_layers

__all__ = ["RunPlan", "build_plan", "validate", "first_step", "callback_files_dir", "PATH_ARGUMENTS", "apply_runtime", "apply_distribution", "distribution_strategy",
           "logged_names"]


@dataclass
class RunPlan:
    """Everything one fit of a spec needs, built and checked, nothing trained yet.

    Attributes:
        spec: the concrete spec (no markers; every default filled in).
        data: the pipelines as the model trains on them.
        model: the compiled model.
        callbacks: the spec's own callbacks (train.callbacks, transfer.unfreeze), checked.
        epochs: train.epochs.
        class_weight: from train.class_weight, or None.
    """

    spec: Spec
    data: Data
    model: keras.Model
    callbacks: list = field(default_factory=list)
    epochs: int = 1
    class_weight: dict | None = None
    files: list = field(default_factory=list)  # the paths the spec's callbacks write (inside the run's callbacks/)

    def make_folders(self) -> None:
        """The folders the spec's callbacks write into (Keras's CSVLogger, for one, does not make its folder)."""
        for path in self.files:
            Path(path).parent.mkdir(parents=True, exist_ok=True)

    @property
    def pretrains(self) -> bool:
        return "pretrain" in self.spec.tree  # `pretrain: {}` pretrains with the defaults

    def pretrain(self, verbose: int | str = 0) -> list[dict]:
        """The spec's greedy layer-wise pretraining, applied to the model in place; a report per phase."""
        section = self.spec.tree["pretrain"]
        optimizer = section.get("optimizer")
        return greedy_layerwise_pretrain(
            self.model,
            self.data.train,
            mode=section["mode"],
            epochs_per_layer=section["epochs_per_layer"],
            head_epochs=section.get("head_epochs"),
            optimizer=resolve(optimizer, "optimizer", self.spec, ("pretrain", "optimizer")) if optimizer is not None else None,
            freeze=section["freeze"],
            **{key: section[key] for key in PRETRAIN_DEFAULTS},  # the mode-specific options
            validation_data=self.data.validation,
            verbose=verbose,
        )

    def fit(self, callbacks: list = (), verbose: int | str = "auto", spec_callbacks: bool = True,
            **kwargs: Any) -> keras.callbacks.History:
        """`model.fit` on the plan's data with its callbacks (unless `spec_callbacks` is False: a tool
        that drives the learning rate itself) plus `callbacks`; `kwargs` (a tuner's `epochs`,
        `initial_epoch`) go to Keras."""
        epochs = kwargs.pop("epochs", None) or self.epochs
        chosen = [*(self.callbacks if spec_callbacks else ()), *callbacks]
        if spec_callbacks:
            self.make_folders()
        if any(isinstance(callback, BatchSizeSchedule) for callback in chosen):
            # One fit per batch size; the stretches start where a backup (a resumed run or trial) left off.
            start = max([kwargs.pop("initial_epoch", 0) or 0] + [callback.saved_epoch() for callback in chosen
                                                                  if isinstance(callback, AtomicBackupAndRestore)])
            return fit_growing_batches(self.model, None, feed_at=lambda size: rebatch(self.data.train, size),
                                       batch_size=batch_size_of(self.data.train), epochs=epochs, initial_epoch=start,
                                       callbacks=chosen, validation_data=self.data.validation,
                                       class_weight=self.class_weight, verbose=verbose, **kwargs)
        # EpochOfBatches tells an ArrayBatches the epoch Keras starts: a trial, a resumed run or a Hyperband
        # promotion at epoch k sees epoch k's batches, whatever fits the same data saw before (a search shares it).
        return self.model.fit(
            self.data.train,
            validation_data=self.data.validation,
            epochs=epochs,
            callbacks=[EpochOfBatches(self.data.train), *chosen],
            class_weight=self.class_weight,
            shuffle=False,  # the pipeline shuffles
            verbose=verbose,
            **kwargs,
        )


def apply_runtime(spec: Spec) -> None:
    """Seed every random source and set precision and determinism, before any model exists."""
    runtime = spec.tree["runtime"]
    if spec.seed is not None:
        keras.utils.set_random_seed(spec.seed)
    if runtime["deterministic"] and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_dtype_policy(runtime["precision"])


_STRATEGIES: dict[str, Any] = {}
_DISTRIBUTION: dict[str, Any] = {}  # what apply_distribution last set, so a spec without one clears only ours


def apply_distribution(spec: Spec) -> Any:
    """`runtime.distribution` as Keras's global `keras.distribution` (JAX backend), or None.

    `{DataParallel: {devices: N}}` replicates the variables on N devices (all by default) and splits
    each batch between them. Across hosts, start one process per host with Keras's variables
    KERAS_DISTRIBUTION_JOB_ADDRESSES (the coordinator's host:port), KERAS_DISTRIBUTION_NUM_PROCESSES
    and KERAS_DISTRIBUTION_PROCESS_ID set: `keras.distribution.initialize()` reads them here, once,
    and the devices of every host form the mesh.
    """
    path = ("runtime", "distribution")
    section = spec.tree["runtime"].get("distribution")
    if not section:
        if _DISTRIBUTION.get("set") is not None and keras.distribution.distribution() is _DISTRIBUTION["set"]:
            keras.distribution.set_distribution(None)
        _DISTRIBUTION["set"] = None
        return None
    if keras.backend.backend() != "jax":
        raise spec.error(path, f"keras.distribution runs on the JAX backend (KERAS_BACKEND=jax), not "
                         f"{keras.backend.backend()}; on TensorFlow use runtime.strategy: mirrored for this machine's GPUs.")
    if spec.tree["runtime"]["strategy"] != "default":
        raise spec.error(path, "give runtime.distribution or runtime.strategy, not both.")
    if "KERAS_DISTRIBUTION_JOB_ADDRESSES" in os.environ and not _DISTRIBUTION.get("initialized"):
        import jax

        jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU devices talk across processes too
        keras.distribution.initialize()
        _DISTRIBUTION["initialized"] = True
    arguments = section["DataParallel"]
    available = keras.distribution.list_devices()
    devices = arguments.get("devices")
    if isinstance(devices, int):
        if devices > len(available):
            raise spec.error(path + ("DataParallel", "devices"), f"{devices} devices asked for, {len(available)} present "
                             f"({', '.join(available)}).")
        devices = available[:devices]
    elif devices is not None:
        missing = [d for d in devices if d not in available]
        if missing:
            raise spec.error(path + ("DataParallel", "devices"), f"no device {missing[0]!r}; the devices are "
                             f"{', '.join(available)}.", closest(missing[0], available))
    # Several processes: each feeds its own share of every batch (Data.split_over), so Keras must not shard again.
    distribution = keras.distribution.DataParallel(devices=devices or available,
                                                   auto_shard_dataset="KERAS_DISTRIBUTION_JOB_ADDRESSES" not in os.environ)
    batch_size = (spec.tree.get("data") or {}).get("batch_size")
    count = distribution.device_mesh.devices.size
    if batch_size and batch_size % count:
        raise spec.error(("data", "batch_size"), f"DataParallel splits each batch over {count} devices: give a "
                         f"batch_size that {count} divides (not {batch_size}).")
    keras.distribution.set_distribution(distribution)
    _DISTRIBUTION["set"] = distribution
    return distribution


def distribution_strategy(spec: Spec) -> Any:
    """`runtime.strategy` as a `tf.distribute` strategy (one per process), or None for Keras's default.

    mirrored: `MirroredStrategy`, synchronous data parallelism over this machine's GPUs
    (one replica on a CPU-only machine). multi_worker is refused with the reason:
    Keras 3's `fit` fails under `MultiWorkerMirroredStrategy` (keras-team/keras#20585).
    """
    name = spec.tree["runtime"]["strategy"]
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


def build_plan(spec: Spec, hp: Any = None, *, log_dir: Path | None = None, data_cache: dict | None = None,
               files_dir: Path | None = None, given: GivenData | None = None) -> RunPlan:
    """The plan for one fit of `spec`, with each marker's value from `hp` (its default when None).

    Args:
        spec: a loaded spec (markers allowed).
        hp: a `keras_tuner.HyperParameters`; the values it registers are the trial's.
        log_dir: where monitors that log (GradientMonitor) write, if anywhere.
        data_cache: a dict shared between plans, so a search loads each distinct `data` section once.
        files_dir: where the spec's callbacks write the files their path arguments name (a run's
            `callbacks/` folder); None: a temporary folder removed when the process exits.
        given: data given in Python (`given_data`), in place of the spec's source.

    Raises:
        SpecError: for every problem knowable before the first batch, at the spec line it comes from.
    """
    if not isinstance(spec, Spec):  # a path, YAML text or a mapping, as zoo.train takes
        spec = load_spec(spec)
    try:
        return _build_plan(spec, hp, log_dir, data_cache, files_dir, given)
    except SpecError:
        raise
    except (ValueError, TypeError) as error:  # a Keras constructor that complained far from its argument
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise spec.error((), f"the spec cannot be built: {type(error).__name__}: {text}") from None


def _check_output(spec: Spec) -> None:
    """What the output section asks for can be done here: MLflow installed (and, for its default local
    SQLite store, SQLAlchemy and Alembic)."""
    import importlib.util

    for path in (("output", "directory"), ("tune", "directory")):
        folder = spec.get(*path)
        if isinstance(folder, str):
            _check_can_make(spec, path, Path(folder))
    section = spec.tree["output"].get("mlflow")
    if section is None:
        return
    needed = ["mlflow"] + ([] if section.get("tracking_uri") else ["sqlalchemy", "alembic"])
    missing = [m for m in needed if importlib.util.find_spec(m) is None]
    if missing:
        raise spec.error(("output", "mlflow"), f"MLflow tracking needs {', '.join(missing)}: pip install 'keras-zoo[mlflow]'.")


def _check_can_make(spec: Spec, path: tuple, folder: Path) -> None:
    """`folder` exists as a folder, or can be made: its nearest existing ancestor is a folder we may write in."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():  # a broken link in the way
            break
        existing = existing.parent
    if existing.exists() and existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
        return
    reason = ("is not a folder" if existing.exists() and not existing.is_dir() else
              "is not writable here" if existing.exists() else "cannot be reached")
    raise spec.error(path, f"{folder} cannot be made: {existing} {reason}.")


def _check_runtime(spec: Spec) -> None:
    runtime = spec.tree["runtime"]
    if runtime["run_eagerly"] and runtime["jit_compile"] is True:
        raise spec.error(("runtime", "run_eagerly"), "run_eagerly runs each step as plain Python, which XLA cannot "
                         "compile; jit_compile: true asks for XLA. Give one of them.")


def _build_plan(spec: Spec, hp: Any, log_dir: Path | None, data_cache: dict | None, files_dir: Path | None,
                given: GivenData | None) -> RunPlan:
    spec = spec.resolved(hp)
    _check_output(spec)
    _check_runtime(spec)
    strategy = distribution_strategy(spec)
    distribution = apply_distribution(spec)
    apply_runtime(spec)
    data = _data(spec, data_cache, given)
    if distribution is not None:
        import jax

        data = data.split_over(distribution.device_mesh.devices.size, (jax.process_index(), jax.process_count()))
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        # variables, optimizer slots and metrics mirrored across replicas under a strategy
        model = _build_within_memory(spec, data.info)
    _check_head(spec, model, data)
    _check_learning_rate(spec, model)
    data = _fit_data(spec, model, data)
    _schedules_in_epochs(spec, model, data)
    epochs = spec.tree["train"]["epochs"]
    files: list[str] = []
    callbacks = _spec_callbacks(spec, data, model, epochs, log_dir, files_dir, files)
    if "pretrain" in spec.tree:
        _check_pretrain(spec, model)
    return RunPlan(spec, data, model, callbacks, epochs, _class_weight(spec, data), files)


def _data(spec: Spec, cache: dict | None, given: GivenData | None = None) -> Data:
    if cache is None:
        return load_data(spec, given=given)
    key = (json.dumps(spec.tree.get("data"), sort_keys=True, default=str) + f"|{spec.seed}|{grows_batches(spec)}"
           + f"|{json.dumps(given.digests, sort_keys=True) if given is not None else ''}")
    if key not in cache:
        cache[key] = load_data(spec, given=given)
    return cache[key]


# -- validation: the plan's dry run -------------------------------------------------------------


def validate(spec: Spec, data_cache: dict | None = None, step: bool = True, given: GivenData | None = None) -> list[str]:
    """Everything that can fail before the run is under way, for `zoo validate` (and before any search).

    The plan is built at every marker's default and takes its first step there (`first_step`: one
    training step and one evaluation step on the real data, through the loss, metrics, callbacks and
    optimizer, on this throwaway plan); then it is built once for each marker at each of its extremes
    (min and max, each choice, both booleans) with the others at their defaults, without a step each;
    a `tune` section's tuner, objective and settings are checked too. Nothing is written where the
    user would see it (callbacks that write files write to a temporary folder). Returns what was
    checked, one line each.
    """
    if not isinstance(spec, Spec):  # a path, YAML text or a mapping, as zoo.train takes
        spec = load_spec(spec)
    checked = []
    policy = keras.mixed_precision.dtype_policy()
    cache: dict = {} if data_cache is None else data_cache
    logged, has_validation = None, False
    try:
        for label, hp in _marker_variants(spec):
            if spec.section("data") or given is not None:
                plan = build_plan(spec, hp, data_cache=cache, given=given)
                if hp is None:
                    logged, has_validation = logged_names(plan.model, plan.data), plan.data.validation is not None
                    if step:
                        first_step(plan)
                        label += " + first step"
            else:  # a spec with no data: the model alone (model.input_shape and train.loss given)
                build_model(spec.resolved(hp), None)
            checked.append(label)
            keras.backend.clear_session()
        if spec.markers or spec.section("tune"):
            from zoo.builders.spec.tuners import tuner_settings

            tuner_settings(spec, logged, has_validation)
            checked.append("tune settings")
    finally:
        keras.mixed_precision.set_dtype_policy(policy)
    return checked


def first_step(plan: RunPlan) -> None:
    """One real training step and one evaluation step of `plan`: the first batch of its training data
    through the model, the loss, the metrics and the optimizer, with the spec's callbacks (their
    train, epoch and batch hooks), then one batch of validation (or training) data through evaluation.
    The plan's model is trained by one step: use a plan built for the purpose (as `validate` does).

    Raises:
        SpecError: at the line of what failed (the callback, the loss, a metric, the optimizer), or at
            the spec's top with the error when no single value can be blamed; also when the first step's
            loss is NaN or infinite.
    """
    spec = plan.spec
    kept = [c for c in plan.callbacks if not isinstance(c, BatchSizeSchedule)]  # one step: nothing grows
    plan.make_folders()
    quiet = logging.getLogger("tensorflow")  # validating many specs in one process retraces: Keras's note is noise here
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    filtering = keras.config.is_traceback_filtering_enabled()
    keras.config.disable_traceback_filtering()  # Keras's own frames tell which component raised
    try:
        history = plan.model.fit(plan.data.train, epochs=1, steps_per_epoch=1, callbacks=[EpochOfBatches(plan.data.train), *kept],
                                 validation_data=plan.data.validation, validation_steps=1 if plan.data.validation is not None else None,
                                 class_weight=plan.class_weight, shuffle=False, verbose=0)
        if plan.data.validation is None:
            plan.model.evaluate(plan.data.train, steps=1, verbose=0)
    except SpecError:
        raise
    except Exception as error:  # whatever Keras or a component raised: placed at the value that raised it
        raise _step_error(plan, kept, error) from None
    finally:
        quiet.setLevel(level)
        if filtering:
            keras.config.enable_traceback_filtering()
    loss = (history.history.get("loss") or [None])[0]
    if loss is not None and not math.isfinite(loss):
        raise spec.error(("train",), f"the first training step's loss is {loss}: the data, the learning rate or the loss "
                         "sends it to NaN or infinity before training starts.")


def _step_error(plan: RunPlan, callbacks: list, error: BaseException) -> SpecError:
    """The SpecError for an exception of the first step, at the spec value whose code raised it."""
    import traceback

    spec = plan.spec
    text = _error_text(error)
    what = f"{type(error).__name__}{': ' + text if text else ''}"
    owners = {id(c): ("train", "callbacks", i) for i, c in enumerate(callbacks) if c in plan.callbacks}
    if spec.get("transfer", "unfreeze") and plan.callbacks and id(plan.callbacks[-1]) in owners:
        owners[id(plan.callbacks[-1])] = ("transfer", "unfreeze")
    optimizer = getattr(plan.model, "optimizer", None)
    path: tuple | None = None
    for frame, _ in traceback.walk_tb(error.__traceback__):
        owner = frame.f_locals.get("self")
        if id(owner) in owners:
            path = owners[id(owner)]
            break
        file = frame.f_code.co_filename.replace("\\", "/")
        if "/keras/src/losses/" in file or "/zoo/losses" in file:
            path = ("train", "loss")
        elif "/keras/src/metrics/" in file and path is None:
            path = ("train", "metrics")
        elif owner is not None and owner is optimizer and path is None:
            path = ("train", "optimizer")
    if path is None:  # an error of the compiled graph names the node it failed in
        if "compile_loss" in str(error):
            path = ("train", "loss")
        elif "compile_metrics" in str(error):
            path = ("train", "metrics")
    if path == ("train", "loss"):
        hint = ""
        if "shape" in text.lower() or "incompatible" in text.lower():
            hint = (" (the labels are integer classes: a loss that takes one-hot rows needs data.labels: one_hot, which "
                    "auto gives the categorical losses it knows)")
        return spec.error(path, f"the first training step failed in the loss: {what}{hint}")
    if path is not None:
        return spec.error(path, f"the first training step failed here: {what}")
    return spec.error((), f"the first training step failed: {what}")


def _error_text(error: BaseException) -> str:
    """The line of an exception's message that says what went wrong: TensorFlow's graph errors open with
    "Graph execution error" and node listings, and say it further down."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    said = [line for line in lines if not line.startswith(("Graph execution error", "Detected at node", "File ", "[[", "^"))
            and not line.endswith(":")]
    return (said or lines or [""])[0][:300]


def _marker_variants(spec: Spec) -> Iterator[tuple[str, Any]]:
    """(label, hp) pairs: every marker at its default, then each marker at each extreme."""
    import keras_tuner

    yield ("defaults" if spec.markers else "spec"), None
    for path, marker in spec.markers:
        name = marker_name(path, marker)
        for value in extremes(marker):
            hp = keras_tuner.HyperParameters()
            hp.values[name] = value
            yield f"{name}={value!r}", hp


# -- checks against the data -------------------------------------------------------------------


def _output_path(spec: Spec) -> tuple:
    model = spec.tree["model"]
    if "graph" in model:
        return ("model", "outputs")
    if "layers" in model and model.get("head") != "auto":
        return ("model", "layers", len(model["layers"]) - 1)
    return ("model",)


def _schedules_in_epochs(spec: Spec, model: keras.Model, data: Data) -> None:
    """A `StepDecay` in a spec counts its `every` in epochs: without `steps_per_epoch` it takes the run's
    own (the batches fed per epoch), never its class default of 1, which would make `every` a step count.
    A feed that does not know its length is an error naming the schedule."""
    from zoo.batches import num_batches
    from zoo.schedules import StepDecay

    unset = _step_decays_counting_epochs(spec)
    schedule = learning_rate_object(model.optimizer)
    while schedule is not None and not isinstance(schedule, StepDecay):
        schedule = getattr(schedule, "schedule", None)  # through wrappers such as WarmUp
    if not unset or schedule is None:
        return
    steps = num_batches(data.train)
    if steps is None:
        raise spec.error(unset[0], "StepDecay counts epochs, but this data does not tell its batches "
                         "per epoch: give steps_per_epoch.")
    schedule.steps_per_epoch = steps


def _step_decays_counting_epochs(spec: Spec) -> list[tuple]:
    """The spec paths of the StepDecay schedules without steps_per_epoch: the run gives them its own."""
    return [path + ("StepDecay",) for path, node in _components(spec.tree, ())
            if "StepDecay" in node and "steps_per_epoch" not in (node["StepDecay"] or {})]


def _components(node: Any, path: tuple):
    """(path, mapping) for every mapping in a spec tree."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _components(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _components(value, path + (index,))


# Training holds about this many copies of the weights: the weights, their gradients and an optimizer's two slots
# (Adam's moments); activations and the data come on top.
TRAINING_COPIES = 4


def _build_within_memory(spec: Spec, info: Any) -> keras.Model:
    """`build_model`, refused with an estimate, before any weight is made, when training it cannot fit: its
    parameters are counted from a build that allocates nothing (`zoo._keras.without_weights`), and
    TRAINING_COPIES times their bytes must fit in the memory free. The backend's own out-of-memory
    error while building (where the count could not be made) is refused the same way."""
    count = _parameters_without_weights(spec, info)
    free = free_memory()
    if count is not None and free is not None and TRAINING_COPIES * count * model_dtype_bytes() > free:
        raise spec.error(("model",), f"the model is too large to train here: {_sized(count, model_dtype_bytes())}, and "
                         f"training needs about {TRAINING_COPIES} times that "
                         f"({TRAINING_COPIES * count * model_dtype_bytes() / 2**30:.1f} GiB) while {free / 2**30:.1f} GiB "
                         "is free. Make the layers smaller. (Nothing was allocated.)")
    try:
        return build_model(spec, info)
    except SpecError:
        raise
    except Exception as error:
        if not (isinstance(error, MemoryError) or "RESOURCE_EXHAUSTED" in str(error) or "OOM when allocating" in str(error)):
            raise
        raise spec.error(("model",), f"the model's weights do not fit in memory: {_sized(count, model_dtype_bytes())}; "
                         f"{_free_text()} is free. Make the layers smaller.") from None


def _parameters_without_weights(spec: Spec, info: Any) -> int | None:
    """The model's parameter count from a build that makes no weight; None where such a build fails
    (a model loaded from a file, a layer that computes with its weights while being built)."""
    from zoo._keras import without_weights
    from zoo.builders.data.load import global_random_state_kept

    try:
        with global_random_state_kept(), without_weights():  # the real build draws the same seeds and names after
            model = build_model(spec, info, compile=False)
            return int(sum(int(np.prod(v.shape)) for v in model.weights))
    except SpecError:
        raise
    except Exception:
        return None


def model_dtype_bytes() -> int:
    """Bytes per weight: the dtype policy's variable dtype (float32 under mixed precision too)."""
    return int(np.dtype(keras.mixed_precision.dtype_policy().variable_dtype).itemsize)


def free_memory() -> int | None:
    """Bytes of memory free for the weights: the smaller of this machine's available RAM and, on the JAX
    backend with an accelerator, its first device's free memory; None when unknown."""
    sizes = []
    try:
        with open("/proc/meminfo") as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    sizes.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    if keras.backend.backend() == "jax":
        import jax

        device = jax.devices()[0]
        stats = device.memory_stats() if device.platform != "cpu" and hasattr(device, "memory_stats") else None
        if stats and stats.get("bytes_limit"):
            sizes.append(int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0)))
    return min(sizes) if sizes else None


def _sized(count: int | None, each: int) -> str:
    if count is None:
        return "too many parameters to count"
    return f"{count:,} parameters, {count * each / 2**30:.1f} GiB"


def _free_text() -> str:
    free = free_memory()
    return "an unknown amount" if free is None else f"{free / 2**30:.1f} GiB"


def _check_learning_rate(spec: Spec, model: keras.Model) -> None:
    """A learning rate that is not a positive finite number trains nothing, or trains uphill: refused at its line
    (a schedule by where it starts)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return
    rate = learning_rate_object(optimizer)
    try:
        if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
            value = float(keras.ops.convert_to_numpy(rate(0)))  # where the schedule starts (a warm-up may start at 0)
            later = float(keras.ops.convert_to_numpy(rate(10_000)))
            if math.isfinite(value) and value >= 0 and (value > 0 or later > 0):
                return
        else:
            value = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    except Exception:  # a schedule that cannot be evaluated alone: the first step tries it
        return
    if math.isfinite(value) and value > 0:
        return
    given = spec.tree["train"].get("optimizer")
    path: tuple = ("train", "optimizer")
    if isinstance(given, dict) and len(given) == 1:
        name = next(iter(given))
        if isinstance(given[name], dict) and "learning_rate" in given[name]:
            path += (name, "learning_rate")
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        raise spec.error(path, f"the learning-rate schedule {type(rate).__name__} starts at {value:g}: a rate must be a "
                         "positive number (gradient descent steps downhill by a positive rate; a schedule that stays at 0 "
                         "trains nothing).")
    raise spec.error(path, f"the learning rate is {value:g}: it must be a positive number (gradient descent steps "
                     "downhill by a positive rate; 0 trains nothing).")


def _check_head(spec: Spec, model: keras.Model, data: Data) -> None:
    """A classifier's output must have a unit per class the data has."""
    info = data.info
    if reconstructs(spec) or info.task not in ("binary", "multiclass") or len(model.outputs) != 1:
        return
    units = model.outputs[0].shape[-1]
    classes = info.num_classes
    if units is None or units == 1 and info.task == "binary":
        return
    if units < classes:
        raise spec.error(_output_path(spec), f"the output has {units} unit{'s' if units != 1 else ''}, but the data has "
                         f"{classes} classes (labels 0 to {classes - 1}): give the output layer {classes if classes > 2 else '1 or 2'} "
                         "units, or use model.head: auto.")


def _fit_data(spec: Spec, model: keras.Model, data: Data) -> Data:
    """The pipelines as the model trains on them: inputs as targets for an
    autoencoder, each batch twice in a row for the Backstitch optimizer."""
    from zoo.optimizers import Backstitch, backstitch_batches

    if reconstructs(spec):
        data = data.inputs_as_targets()
    elif _one_hot(spec, data):
        data = data.one_hot_labels()
    if isinstance(model.optimizer, Backstitch):
        data = data.map_train(backstitch_batches)
    return data


def _one_hot(spec: Spec, data: Data) -> bool:
    """Whether the run feeds one-hot labels: `data.labels: one_hot`, or `auto` with a loss that takes them."""
    asked = (spec.tree.get("data") or {}).get("labels", "auto")
    classes = data.info.task in ("binary", "multiclass")
    if asked == "one_hot" and not classes:
        raise spec.error(("data", "labels"), f"one_hot encodes class labels; this data's targets are {data.info.task} targets.")
    return classes and (asked == "one_hot" or asked == "auto" and label_form(spec) == "one_hot")


def _class_weight(spec: Spec, data: Data) -> dict | None:
    """train.class_weight as Keras takes it, {class index: weight}: `balanced` from the training labels, or the
    spec's mapping, whose keys are class indices or (for named classes) class names."""
    given = spec.tree["train"].get("class_weight")
    path = ("train", "class_weight")
    if given is None:
        return None
    info = data.info
    if info.task == "regression" or reconstructs(spec):
        raise spec.error(path, "class_weight weights classes; this run's targets are "
                         + ("its inputs (an autoencoder)." if reconstructs(spec) else "regression targets."))
    if given == "balanced":
        if "train" not in data.arrays:
            raise spec.error(path, "class_weight: balanced counts the training labels, which needs a source held in "
                             "memory; give a mapping {class: weight} for a streamed (TFDS) source.")
        labels = data.arrays["train"][1]
        classes = np.unique(labels)
        counts = np.array([(labels == c).sum() for c in classes])
        return {int(c): float(len(labels) / (len(classes) * n)) for c, n in zip(classes, counts)}
    names = [str(n) for n in info.class_names or []]
    weights = {}
    for key, weight in given.items():
        if isinstance(key, str) and key in names:
            index = names.index(key)
        elif isinstance(key, int) and not isinstance(key, bool) or isinstance(key, str) and key.isdigit():
            index = int(key)
        else:
            raise spec.error(path + (key,), f"{key!r} is not a class: the classes are 0 to {info.num_classes - 1}"
                             + (f" ({', '.join(names)})" if names else "") + ".", closest(str(key), names))
        if not 0 <= index < (info.num_classes or 0):
            raise spec.error(path + (key,), f"class {index} does not exist: the data has {info.num_classes} classes "
                             f"(0 to {info.num_classes - 1}).")
        if not math.isfinite(weight):
            raise spec.error(path + (key,), f"a class weight is a positive number; got {weight!r}.")
        weights[index] = float(weight)
    # Classes not named keep weight 1, as in Keras.
    return {index: weights.get(index, 1.0) for index in range(info.num_classes)}


def _check_pretrain(spec: Spec, model: keras.Model) -> None:
    """What greedy pretraining needs of the model, checked before anything trains."""
    if spec.section("transfer"):
        raise spec.error(("pretrain",), "pretrain and transfer cannot both be given: the reused layers are trained already.")
    try:
        chain = chain_of(model)
    except ValueError as error:
        raise spec.error(("pretrain",), str(error)) from None
    section = spec.tree["pretrain"]
    for key, modes in (("tied", ("unsupervised",)), ("noise", ("unsupervised",)), ("loss", ("unsupervised",)),
                       ("k", ("rbm",)), ("persistent", ("rbm",))):
        if section[key] != PRETRAIN_DEFAULTS[key] and section["mode"] not in modes:
            raise spec.error(("pretrain", key), f"{key} applies to mode {' or '.join(modes)}, not {section['mode']}.")
    if section["mode"] == "rbm":
        try:
            rbm_layers(chain)
        except ValueError as error:
            raise spec.error(("pretrain", "mode"), str(error)) from None
    epochs = spec.tree["pretrain"]["epochs_per_layer"]
    if isinstance(epochs, list) and len(epochs) != len(chain.hidden):
        raise spec.error(("pretrain", "epochs_per_layer"), f"{len(epochs)} entries for {len(chain.hidden)} hidden layers "
                         f"({', '.join(block[0].name for block in chain.hidden)}).")


# -- the spec's callbacks ------------------------------------------------------------------------


def _spec_callbacks(spec: Spec, data: Data, model: keras.Model, epochs: int, log_dir: Path | None,
                    files_dir: Path | None, written: list | None = None) -> list:
    """The callbacks the spec asks for (`train.callbacks`, `transfer.unfreeze`), checked against the model
    and data before training, monitors given their probe batch."""
    entries = [_placed_paths(spec, c, ("train", "callbacks", i), files_dir, written)
               for i, c in enumerate(spec.tree["train"]["callbacks"])]
    user = [resolve(c, "callback", spec, ("train", "callbacks", i)) for i, c in enumerate(entries)]
    unfreeze = spec.get("transfer", "unfreeze")
    if unfreeze:
        user.append(UnfreezeSchedule(**unfreeze))
    _check_monitors(spec, user, data, model)
    _check_learning_rate_control(spec, user, model)
    _check_unfreezing(spec, user, model, epochs)
    _check_batch_size_schedule(spec, user, model, data, epochs)
    _give_probes(user, data, log_dir)
    return user


# A callback's arguments that name a file or folder it writes (Keras's ModelCheckpoint, CSVLogger, BackupAndRestore,
# TensorBoard; the zoo's monitors): they are placed inside the directory the command owns.
PATH_ARGUMENTS = ("filepath", "filename", "backup_dir", "log_dir", "path", "directory")
_SCRATCH: list[Path] = []  # files_dir of plans built without one: a temporary folder, removed at exit


def callback_files_dir(run_dir: Path) -> Path:
    """Where a run's spec callbacks write the files their path arguments name: never beside the run's own files."""
    return Path(run_dir) / "callbacks"


def _placed_paths(spec: Spec, entry: Any, path: tuple, files_dir: Path | None, written: list | None = None) -> Any:
    """A callback entry with each path argument placed inside `files_dir` (the run's `callbacks/` folder).
    A path that is absolute or climbs out with `..` would write where the user did not ask keras-zoo to:
    a SpecError at its line."""
    if not isinstance(entry, dict) or len(entry) != 1:
        return entry
    (name, arguments), = entry.items()
    if not isinstance(arguments, dict) or not any(key in arguments for key in PATH_ARGUMENTS):
        return entry
    placed = dict(arguments)
    for key in PATH_ARGUMENTS:
        value = arguments.get(key)
        if key not in arguments or value is None:
            continue
        where = path + (name, key)
        if not isinstance(value, str):
            raise spec.error(where, f"{key} is a path, given as text (e.g. best.keras); got {value!r}.")
        parts = Path(value).parts
        if not value.strip() or Path(value).is_absolute() or value.startswith("~") or ".." in parts:
            raise spec.error(where, f"{key} {value!r} would write outside the run: a callback's files go inside the run "
                             "directory's callbacks/ folder, so give a relative path without .. (e.g. best.keras).")
        if files_dir is None:
            if not _SCRATCH:
                import atexit
                import shutil
                import tempfile

                _SCRATCH.append(Path(tempfile.mkdtemp(prefix="zoo-callbacks-")))
                atexit.register(shutil.rmtree, _SCRATCH[0], True)
            base = _SCRATCH[0]
        else:
            base = Path(files_dir)
        placed[key] = str(base / value)
        if written is not None:
            written.append(placed[key] if key in ("filepath", "filename", "path") else str(Path(placed[key]) / "_"))
    return {name: placed}


def _check_unfreezing(spec: Spec, callbacks: list, model: keras.Model, epochs: int) -> None:
    """An unfreeze schedule that cannot do what it says is an error before training starts."""
    for index, callback in enumerate(callbacks):
        if not isinstance(callback, UnfreezeSchedule):
            continue
        from_transfer = index == len(callbacks) - 1 and spec.get("transfer", "unfreeze") is not None
        path = ("transfer", "unfreeze") if from_transfer else ("train", "callbacks", index)
        if keras.backend.backend() != "tensorflow":
            raise spec.error(path, "unfreezing layers inside fit needs the TensorFlow backend (KERAS_BACKEND="
                             f"{keras.backend.backend()} here): run with KERAS_BACKEND=tensorflow, or train in two runs, "
                             "the second a transfer.mode: fine_tune of the first's model.")
        if not callback.frozen_layers(model):
            raise spec.error(path, "the schedule would unfreeze layers, but no layer of the model is frozen"
                             + (" (transfer.mode is fine_tune)" if spec.get("transfer", "mode") == "fine_tune" else "") + ".")
        try:
            callback.check(model)
        except ValueError as error:
            raise spec.error(path + (("layers",) if from_transfer else ()), str(error)) from None
        if callback.after_epoch >= epochs:
            raise spec.error(path + (("after_epoch",) if from_transfer else ()),
                             f"after_epoch {callback.after_epoch} is never reached: the layers unfreeze after that many epochs, "
                                 f"and training runs {epochs}.")


def _check_batch_size_schedule(spec: Spec, callbacks: list, model: keras.Model, data: Data, epochs: int) -> None:
    """A batch-size schedule that cannot grow this run's batches, or that would silently change what another
    setting means, is an error before training starts."""
    indices = [index for index, callback in enumerate(callbacks) if isinstance(callback, BatchSizeSchedule)]
    if not indices:
        return
    path = ("train", "callbacks", indices[0])
    if len(indices) > 1:
        raise spec.error(("train", "callbacks", indices[1]), "only one BatchSizeSchedule can set the batch size.")
    schedule = callbacks[indices[0]]
    initial = batch_size_of(data.train)
    try:
        schedule.check(initial, getattr(data.train, "multiple_of", 1))
    except ValueError as error:
        raise spec.error(path, str(error)) from None
    if len(schedule.stretches(0, epochs, initial)) == 1:
        raise spec.error(path, f"the batch size never grows: training runs {epochs} epochs, and the schedule's first "
                         f"growth comes after {schedule.every or schedule.after_epochs[0]}.")
    if getattr(model.optimizer, "use_ema", False):
        raise spec.error(("train", "optimizer"), "use_ema cannot go with a BatchSizeSchedule: Keras writes the averaged "
                         "weights into the model at the end of each fit, and the schedule runs one fit per batch size.")
    unset = _step_decays_counting_epochs(spec)
    if unset:
        raise spec.error(unset[0], "StepDecay counts epochs in this run's batches per epoch, which the BatchSizeSchedule "
                         "changes: give steps_per_epoch (then every counts steps), or grow the batch instead of decaying the rate.")


def _give_probes(callbacks: list, data: Data, log_dir: Path | None) -> None:
    """Monitors that look at a batch get the first training batch; gradient norms go to TensorBoard too."""
    for callback in callbacks:
        if isinstance(callback, (GradientMonitor, ActivationMonitor)) and callback.probe is None:
            callback.set_probe(*probe_batch(data.train))
        if isinstance(callback, GradientMonitor) and callback.log_dir is None and log_dir is not None:
            callback.log_dir = str(log_dir / "gradients")


def _check_learning_rate_control(spec: Spec, callbacks: list, model: keras.Model) -> None:
    """Callbacks that set the learning rate cannot drive an optimizer whose rate is a schedule:
    Keras finds out only at the first change, mid-training; here it is an error before it starts."""
    schedule = learning_rate_object(model.optimizer)
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
    logged = logged_names(model, data)
    for index, callback in enumerate(callbacks):
        if not hasattr(callback, "monitor"):
            continue
        monitor = callback.monitor
        if not isinstance(monitor, str):
            raise spec.error(("train", "callbacks", index), f"{type(callback).__name__} needs a monitor: the name of a "
                             f"logged quantity such as val_loss; got {monitor!r}.")
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


def logged_names(model: keras.Model, data: Data) -> set[str] | None:
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

