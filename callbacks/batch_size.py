"""Grow the batch size during training instead of decaying the learning rate (Smith et al., 2018).

"Don't decay the learning rate, increase the batch size": the noise of SGD
scales with learning_rate / batch_size, so multiplying the batch by k where a
schedule would divide the rate by k reaches a comparable model in fewer
parameter updates, with bigger (better parallel) batches.

Keras fixes an epoch's number of batches when `fit` starts, so no callback can
change the batch size inside one `fit`. `fit_growing_batches` therefore runs
one `fit` per stretch of epochs with the same batch size, and wraps the
callbacks so that they see a single training: `on_train_begin` once, at the
start, and `on_train_end` once, when training ends or a callback stops it.
EarlyStopping's patience, ReduceLROnPlateau's wait, a backup and the epoch
numbers carry on across the stretches; the returned History holds every epoch.

    >>> schedule = BatchSizeSchedule(factor=2, every=10, max_batch_size=1024)
    >>> history = fit_growing_batches(model, x, y, batch_size=128, epochs=40, callbacks=[schedule])

In a spec, `train.callbacks: [{BatchSizeSchedule: {factor: 2, every: 10}}]`
grows `data.batch_size`; the run, a search trial and a resumed run all follow it.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import keras

from zoo._keras import restored_epoch, set_restored_epoch
from zoo import _checks
from zoo.callbacks.base import ConfigurableCallback

__all__ = ["BatchSizeSchedule", "fit_growing_batches"]

register = keras.saving.register_keras_serializable(package="zoo")


@register
class BatchSizeSchedule(ConfigurableCallback):
    """Multiplies the batch size by `factor` after every `every` epochs, or after each epoch count in `after_epochs`.

    The callback holds the schedule and writes the epoch's `batch_size` into the logs
    (so it lands in the history); `fit_growing_batches`, or a spec's run, changes the
    batches. Given to a plain `model.fit`, it raises at the start rather than train at
    a constant batch size.

    Args:
        factor: the batch size's multiplier at each growth (Smith et al. use 5, matching a
            learning-rate decay by 5).
        every: grow after every this many epochs.
        after_epochs: grow after these numbers of epochs (increasing), instead of `every`.
        max_batch_size: the batch size never exceeds this (growth stops there); None for no limit.
        verbose: 1 prints each growth.

    Example:
        >>> BatchSizeSchedule(factor=5, after_epochs=[60, 120, 160]).batch_size(epoch=130, initial=128)
        3200
    """

    def __init__(self, factor: int = 2, every: int | None = None, after_epochs: Sequence[int] | None = None,
                 max_batch_size: int | None = None, verbose: int = 1) -> None:
        super().__init__()
        owner = "BatchSizeSchedule"
        self.factor = _checks.int_at_least(owner, "factor", factor, 2)
        if (every is None) == (after_epochs is None):
            raise ValueError(f"{owner}: give one of `every` (grow after every N epochs) or `after_epochs` "
                             f"(grow after these epoch counts); got every={every!r}, after_epochs={after_epochs!r}.")
        self.every = None if every is None else _checks.positive_int(owner, "every", every)
        if after_epochs is not None:
            if isinstance(after_epochs, (str, bytes)) or not isinstance(after_epochs, Sequence) or not after_epochs:
                raise ValueError(f"{owner}: argument `after_epochs` got {after_epochs!r}; allowed: a non-empty list "
                                 "of increasing epoch counts.")
            after_epochs = [_checks.positive_int(owner, f"after_epochs[{i}]", n) for i, n in enumerate(after_epochs)]
            if any(b <= a for a, b in zip(after_epochs, after_epochs[1:])):
                raise ValueError(f"{owner}: argument `after_epochs` got {after_epochs!r}; allowed: increasing epoch counts.")
        self.after_epochs = after_epochs
        self.max_batch_size = None if max_batch_size is None else _checks.positive_int(owner, "max_batch_size",
                                                                                         max_batch_size)
        self.verbose = verbose
        self.driven = False  # set by fit_growing_batches
        self.current: int | None = None

    def get_config(self) -> dict[str, Any]:
        return {"factor": self.factor, "every": self.every, "after_epochs": self.after_epochs,
                "max_batch_size": self.max_batch_size, "verbose": self.verbose}

    def growths(self, epoch: int) -> int:
        """How many times the batch has grown by the start of `epoch` (0-based)."""
        if self.every is not None:
            return epoch // self.every
        return sum(1 for count in self.after_epochs if count <= epoch)

    def batch_size(self, epoch: int, initial: int) -> int:
        """The batch size of `epoch` (0-based) for a training that starts at `initial`."""
        size = initial * self.factor ** self.growths(epoch)
        if self.max_batch_size is not None:
            size = min(size, max(self.max_batch_size, initial))
        return size

    def check(self, initial: int, multiple_of: int = 1) -> None:
        """A ValueError where the schedule cannot apply to batches of `initial` rows split over `multiple_of` devices."""
        if self.max_batch_size is not None and self.max_batch_size < initial:
            raise ValueError(f"BatchSizeSchedule: max_batch_size {self.max_batch_size} is below the starting batch "
                             f"size {initial}: nothing would grow.")
        if self.max_batch_size is not None and self.max_batch_size % multiple_of:
            raise ValueError(f"BatchSizeSchedule: max_batch_size {self.max_batch_size} is not a multiple of "
                             f"{multiple_of}, the devices each batch is split over.")

    def stretches(self, initial_epoch: int, epochs: int, initial: int, rows: int | None = None) -> list[tuple[int, int, int]]:
        """(first epoch, end epoch, batch size) for each run of epochs in [initial_epoch, epochs) with one batch
        size; with `rows`, no batch is bigger than the data (one batch of every row)."""
        runs: list[tuple[int, int, int]] = []
        for epoch in range(initial_epoch, epochs):
            size = self.batch_size(epoch, initial) if rows is None else min(self.batch_size(epoch, initial), max(rows, initial))
            if runs and runs[-1][2] == size:
                runs[-1] = (runs[-1][0], epoch + 1, size)
            else:
                runs.append((epoch, epoch + 1, size))
        return runs

    def on_train_begin(self, logs=None):
        if not self.driven:
            raise RuntimeError("BatchSizeSchedule: Keras's fit cannot change its batch size; train with "
                               "zoo.callbacks.fit_growing_batches(model, x, y, callbacks=[schedule], ...) instead, "
                               "or list it in a spec's train.callbacks.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.current is not None:
            logs["batch_size"] = self.current


class _OneTraining(keras.callbacks.Callback):
    """Callbacks that see the stretches' `fit` calls as one training: begun once, ended once.

    Keras gives each `fit` its own epoch count in `params`; the callbacks here see the
    whole training's. A backup that restores a different epoch from the one planned is
    an error (the stretches were planned from it).
    """

    def __init__(self, callbacks: list, model: keras.Model, epochs: int, verbose: int | str, start: int) -> None:
        super().__init__()
        self.inner = keras.callbacks.CallbackList(list(callbacks), add_history=False, add_progbar=verbose != 0,
                                                  verbose=verbose, epochs=epochs, steps=None, model=model)
        self.epochs, self.start, self.verbose = epochs, start, verbose
        self.first, self.last = True, True

    def set_model(self, model):
        super().set_model(model)
        self.inner.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        self.inner.set_params({**params, "epochs": self.epochs, "verbose": self.verbose})

    def on_train_begin(self, logs=None):
        if not self.first:
            return
        self.inner.on_train_begin(logs)
        restored = restored_epoch(self.model)  # what a backup restored
        if restored is not None and restored != self.start:
            raise RuntimeError(f"fit_growing_batches: a callback restored epoch {restored}, but the batch sizes were "
                               f"planned from epoch {self.start}; give initial_epoch={restored}.")

    def on_train_end(self, logs=None):
        if self.last or self.model.stop_training:
            self.inner.on_train_end(logs)


def _forwarding(name: str):
    def hook(self, *args, **kwargs):
        return getattr(self.inner, name)(*args, **kwargs)

    hook.__name__ = name
    return hook


for _hook in ("on_epoch_begin", "on_epoch_end", "on_train_batch_begin", "on_train_batch_end", "on_test_begin",
              "on_test_end", "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
              "on_predict_batch_begin", "on_predict_batch_end"):
    setattr(_OneTraining, _hook, _forwarding(_hook))
del _hook


def fit_growing_batches(model: keras.Model, x: Any, y: Any = None, *, epochs: int, batch_size: int | None = None,
                        callbacks: Sequence[keras.callbacks.Callback] = (), initial_epoch: int = 0,
                        verbose: int | str = "auto", feed_at: Callable[[int], Any] | None = None,
                        **fit_kwargs: Any) -> keras.callbacks.History:
    """`model.fit` with the batch size the `BatchSizeSchedule` in `callbacks` gives each epoch.

    Args:
        model: a compiled model.
        x, y: NumPy arrays (shuffled each epoch, from `seed` in `fit_kwargs` or 0), a
            `zoo.batches.ArrayBatches`, or a batched `tf.data.Dataset` (rebatched).
        epochs, initial_epoch, verbose: as for `fit`.
        batch_size: the starting batch size (arrays only; a batched feed starts at its own).
        callbacks: must hold one `BatchSizeSchedule`; the others see one training.
        feed_at: `batch_size -> feed`, instead of `x` and `y`.
        fit_kwargs: the rest of `fit`'s arguments (validation_data, class_weight, ...), and `seed`.

    Returns:
        A History with every epoch run, as `model.history`.
    """
    from zoo.batches import ArrayBatches, EpochOfBatches, batch_size_of, rebatch, rows_of

    schedules = [c for c in callbacks if isinstance(c, BatchSizeSchedule)]
    if len(schedules) != 1:
        raise ValueError(f"fit_growing_batches: callbacks must hold exactly one BatchSizeSchedule; got {len(schedules)}.")
    schedule = schedules[0]
    if getattr(model.optimizer, "use_ema", False):
        raise ValueError("fit_growing_batches: the optimizer uses EMA, whose averaged weights Keras writes into the "
                         "model at the end of each fit; it cannot span several.")
    seed, shuffle = fit_kwargs.pop("seed", 0), fit_kwargs.pop("shuffle", True)  # each feed shuffles itself
    if feed_at is None:
        if isinstance(x, keras.utils.PyDataset) or hasattr(x, "cardinality"):
            base = x
        else:
            base = ArrayBatches(x, y, batch_size or 32, shuffle=shuffle, seed=seed)
        initial = batch_size_of(base)
        feed_at = functools.partial(rebatch, base)
    else:
        initial = batch_size
    if not initial:
        raise ValueError("fit_growing_batches: give batch_size: the feed does not tell its own.")
    schedule.check(initial)
    stretches = schedule.stretches(initial_epoch, epochs, initial, rows_of(feed_at(initial)))
    others = [c for c in callbacks if c is not schedule]
    together = _OneTraining([schedule, *others], model, epochs, verbose, initial_epoch)
    epochs_run: list[int] = []
    logs: dict[str, list] = {}
    history = None
    schedule.driven = True
    try:
        for index, (start, end, size) in enumerate(stretches):
            together.first, together.last = index == 0, index == len(stretches) - 1
            if schedule.verbose and index:
                print(f"BatchSizeSchedule: epoch {start + 1}: batch size {size}", flush=True)
            schedule.current = size
            feed = feed_at(size)
            set_restored_epoch(model, None)  # Keras keeps a restored epoch past the fit that restored it
            history = model.fit(feed, epochs=end, initial_epoch=start, callbacks=[EpochOfBatches(feed), together],
                                verbose=0, shuffle=False, **fit_kwargs)
            epochs_run += history.epoch
            for key, values in {**history.history, "batch_size": [size] * len(history.epoch)}.items():
                logs.setdefault(key, []).extend(values)
            if model.stop_training:
                break
    finally:
        schedule.driven = False
    if history is None:  # nothing left to run
        history = keras.callbacks.History()
        history.set_model(model)
    history.epoch, history.history = epochs_run, logs
    model.history = history
    return history
