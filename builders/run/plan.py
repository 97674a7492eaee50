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
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import keras
import numpy as np

from zoo.batches import EpochOfBatches, batch_size_of, rebatch
from zoo.builders.data.load import Data, grows_batches, load_data
from zoo.builders.run.model import build_model, reconstructs
from zoo.builders.spec.document import Spec
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

__all__ = ["RunPlan", "build_plan", "validate", "apply_runtime", "apply_distribution", "distribution_strategy",
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


def build_plan(spec: Spec, hp: Any = None, *, log_dir: Path | None = None, data_cache: dict | None = None) -> RunPlan:
    """The plan for one fit of `spec`, with each marker's value from `hp` (its default when None).

    Args:
        spec: a loaded spec (markers allowed).
        hp: a `keras_tuner.HyperParameters`; the values it registers are the trial's.
        log_dir: where monitors that log (GradientMonitor) write, if anywhere.
        data_cache: a dict shared between plans, so a search loads each distinct `data` section once.

    Raises:
        SpecError: for every problem knowable before the first batch, at the spec line it comes from.
    """
    try:
        return _build_plan(spec, hp, log_dir, data_cache)
    except SpecError:
        raise
    except (ValueError, TypeError) as error:  # a Keras constructor that complained far from its argument
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise spec.error((), f"the spec cannot be built: {type(error).__name__}: {text}") from None


def _check_output(spec: Spec) -> None:
    """What the output section asks for can be done here: MLflow installed (and, for its default local
    SQLite store, SQLAlchemy and Alembic)."""
    import importlib.util

    section = spec.tree["output"].get("mlflow")
    if section is None:
        return
    needed = ["mlflow"] + ([] if section.get("tracking_uri") else ["sqlalchemy", "alembic"])
    missing = [m for m in needed if importlib.util.find_spec(m) is None]
    if missing:
        raise spec.error(("output", "mlflow"), f"MLflow tracking needs {', '.join(missing)}: pip install 'keras-zoo[mlflow]'.")


def _check_runtime(spec: Spec) -> None:
    runtime = spec.tree["runtime"]
    if runtime["run_eagerly"] and runtime["jit_compile"] is True:
        raise spec.error(("runtime", "run_eagerly"), "run_eagerly runs each step as plain Python, which XLA cannot "
                         "compile; jit_compile: true asks for XLA. Give one of them.")


def _build_plan(spec: Spec, hp: Any, log_dir: Path | None, data_cache: dict | None) -> RunPlan:
    spec = spec.resolved(hp)
    _check_output(spec)
    _check_runtime(spec)
    strategy = distribution_strategy(spec)
    distribution = apply_distribution(spec)
    apply_runtime(spec)
    data = _data(spec, data_cache)
    if distribution is not None:
        import jax

        data = data.split_over(distribution.device_mesh.devices.size, (jax.process_index(), jax.process_count()))
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        # variables, optimizer slots and metrics mirrored across replicas under a strategy
        model = build_model(spec, data.info)
    _check_head(spec, model, data)
    data = _fit_data(spec, model, data)
    _schedules_in_epochs(spec, model, data)
    epochs = spec.tree["train"]["epochs"]
    callbacks = _spec_callbacks(spec, data, model, epochs, log_dir)
    if "pretrain" in spec.tree:
        _check_pretrain(spec, model)
    return RunPlan(spec, data, model, callbacks, epochs, _class_weight(spec, data))


def _data(spec: Spec, cache: dict | None) -> Data:
    if cache is None:
        return load_data(spec)
    key = json.dumps(spec.tree.get("data"), sort_keys=True, default=str) + f"|{spec.seed}|{grows_batches(spec)}"
    if key not in cache:
        cache[key] = load_data(spec)
    return cache[key]


# -- validation: the plan's dry run -------------------------------------------------------------


def validate(spec: Spec, data_cache: dict | None = None) -> list[str]:
    """Everything that can fail before the first batch, for `zoo validate` (and before any run or search).

    The plan is built at every marker's default, then once for each marker at each of its
    extremes (min and max, each choice, both booleans) with the others at their defaults;
    a `tune` section's tuner, objective and settings are checked too. Nothing is fitted
    and nothing is written. Returns what was checked, one line each.
    """
    checked = []
    policy = keras.mixed_precision.dtype_policy()
    cache: dict = {} if data_cache is None else data_cache
    logged, has_validation = None, False
    try:
        for label, hp in _marker_variants(spec):
            if spec.section("data"):
                plan = build_plan(spec, hp, data_cache=cache)
                if hp is None:
                    logged, has_validation = logged_names(plan.model, plan.data), plan.data.validation is not None
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
    schedule = getattr(model.optimizer, "_learning_rate", None)
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
    if isinstance(model.optimizer, Backstitch):
        data = data.map_train(backstitch_batches)
    return data


def _class_weight(spec: Spec, data: Data) -> dict | None:
    if spec.tree["train"].get("class_weight") != "balanced":
        return None
    if "train" not in data.arrays or data.info.task == "regression":
        raise spec.error(("train", "class_weight"), "class_weight: balanced needs a classification source held in memory.")
    labels = data.arrays["train"][1]
    classes = np.unique(labels)
    counts = np.array([(labels == c).sum() for c in classes])
    return {int(c): float(len(labels) / (len(classes) * n)) for c, n in zip(classes, counts)}


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


def _spec_callbacks(spec: Spec, data: Data, model: keras.Model, epochs: int, log_dir: Path | None) -> list:
    """The callbacks the spec asks for (`train.callbacks`, `transfer.unfreeze`), checked against the model
    and data before training, monitors given their probe batch."""
    user = [resolve(c, "callback", spec, ("train", "callbacks", i)) for i, c in enumerate(spec.tree["train"]["callbacks"])]
    unfreeze = spec.get("transfer", "unfreeze")
    if unfreeze:
        user.append(UnfreezeSchedule(**unfreeze))
    _check_monitors(spec, user, data, model)
    _check_learning_rate_control(spec, user, model)
    _check_unfreezing(spec, user, model, epochs)
    _check_batch_size_schedule(spec, user, model, data, epochs)
    _give_probes(user, data, log_dir)
    return user


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

