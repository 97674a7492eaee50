"""Batches of in-memory arrays for every Keras backend, and the few operations runs apply to a feed.

`ArrayBatches` is a `keras.utils.PyDataset`: it needs no TensorFlow, and
Keras feeds it to JAX, PyTorch and TensorFlow alike. Its shuffle is a pure
function of `(seed, epoch)`, so epoch 7 sees the same batches whether the run
got there in one go or resumed after a crash: `start_at(7)` is all a resume
needs.

The helpers (`map_batches`, `repeat_each`, `num_batches`, `first_batch`,
`start_at`) take either an `ArrayBatches` (or a `MappedBatches` over one) or
a batched `tf.data.Dataset`, which is what a TFDS source gives, so the code
that uses them never asks which it holds.

Example:
    >>> train = ArrayBatches(x, y, batch_size=64, shuffle=True, seed=0)
    >>> model.fit(train, epochs=5)
    >>> model.fit(map_batches(train, lambda x, y: (x, x)), epochs=5)  # an autoencoder
"""

from __future__ import annotations

import math
from typing import Any, Callable

import keras
import numpy as np

__all__ = ["ArrayBatches", "MappedBatches", "EpochOfBatches", "map_batches", "repeat_each", "num_batches", "first_batch",
           "start_at", "rebatch", "batch_size_of", "rows_of"]


class ArrayBatches(keras.utils.PyDataset):
    """`(x, y)` batches of NumPy arrays, in order or reshuffled each epoch from `(seed, epoch)`.

    Args:
        x: the inputs, first axis the rows; or {input name: array} for a model with named inputs.
        y: the targets (same number of rows), or None for inputs only.
        batch_size: rows per batch; the last batch holds the rest.
        shuffle: a fresh permutation of the rows each epoch.
        seed: the shuffle's seed (0 when None).
        multiple_of: every batch holds a multiple of this many rows: the last one drops up to
            `multiple_of - 1` rows (which ones changes with the shuffle), as a batch split evenly
            over that many devices needs.
        process: `(index, count)`: serve only this process's share of each batch (rows index,
            index + count, ...), for a distribution over `count` processes that each feed their own
            devices; every process holds the same arrays and seed, so the shares make up the batch.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray | None, batch_size: int, *, shuffle: bool = False,
                 seed: int | None = None, multiple_of: int = 1, process: tuple[int, int] = (0, 1)) -> None:
        super().__init__()
        self.size = len(next(iter(x.values()))) if isinstance(x, dict) else len(x)  # named inputs: {name: array}
        if isinstance(x, dict) and any(len(a) != self.size for a in x.values()):
            raise ValueError(f"ArrayBatches: the named inputs have different numbers of rows: "
                             f"{ {k: len(a) for k, a in x.items()} }.")
        if y is not None and self.size != len(y):
            raise ValueError(f"ArrayBatches: x has {self.size} rows but y has {len(y)}.")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"ArrayBatches: batch_size must be a positive integer; got {batch_size!r}.")
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = 0 if seed is None else int(seed)
        self.multiple_of = int(multiple_of)
        if batch_size % self.multiple_of:
            raise ValueError(f"ArrayBatches: batch_size {batch_size} is not a multiple of {multiple_of}.")
        self.process = (int(process[0]), int(process[1]))
        if not 0 <= self.process[0] < self.process[1] or self.multiple_of % self.process[1]:
            raise ValueError(f"ArrayBatches: process {process} does not divide batches that are multiples of {multiple_of}.")
        self.epoch = 0  # the epoch the next `on_epoch_begin` starts
        self._order: np.ndarray | None = None

    @property
    def rows(self) -> int:
        """Rows served per epoch."""
        return self.size - self.size % self.multiple_of

    def __len__(self) -> int:
        return math.ceil(self.rows / self.batch_size)

    def split_over(self, devices: int, process: tuple[int, int] = (0, 1)) -> "ArrayBatches":
        """The same batches (same arrays, same shuffle), each a multiple of `devices` rows; with `process`,
        only that process's share of each."""
        return self._copy(multiple_of=devices, process=process)

    def with_batch_size(self, batch_size: int) -> "ArrayBatches":
        """The same rows, shuffle and epoch, in batches of `batch_size`."""
        return self._copy(batch_size=batch_size)

    def _copy(self, **changes) -> "ArrayBatches":
        arguments = {"batch_size": self.batch_size, "shuffle": self.shuffle, "seed": self.seed,
                     "multiple_of": self.multiple_of, "process": self.process, **changes}
        copy = ArrayBatches(self.x, self.y, **arguments)
        copy.epoch = self.epoch
        return copy

    def start_at(self, epoch: int) -> None:
        """The next epoch is `epoch` (0-based): its shuffle is the one an uninterrupted run has there."""
        self.epoch = int(epoch)

    def on_epoch_begin(self) -> None:
        if self.shuffle:
            self._order = np.random.default_rng([self.seed, self.epoch]).permutation(self.size)
        self.epoch += 1

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        rows = slice(index * self.batch_size, min((index + 1) * self.batch_size, self.rows))
        if self._order is not None:
            rows = np.sort(self._order[rows])  # sorted: a gather in memory order is faster, the batch is the same set
        index, count = self.process
        if count > 1:
            rows = np.arange(self.size)[rows][index::count]
        x = {k: a[rows] for k, a in self.x.items()} if isinstance(self.x, dict) else self.x[rows]
        return x if self.y is None else (x, self.y[rows])


class MappedBatches(keras.utils.PyDataset):
    """Another PyDataset's batches through `function(*batch)`, each given `repeat` times in a row."""

    def __init__(self, inner: keras.utils.PyDataset, function: Callable | None = None, repeat: int = 1) -> None:
        super().__init__()
        self.inner, self.function, self.repeat = inner, function, repeat

    def __len__(self) -> int:
        return len(self.inner) * self.repeat

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        batch = self.inner[index // self.repeat]
        if self.function is None:
            return batch
        return self.function(*batch) if isinstance(batch, tuple) else self.function(batch)

    def on_epoch_begin(self) -> None:
        self.inner.on_epoch_begin()

    def on_epoch_end(self) -> None:
        self.inner.on_epoch_end()

    def start_at(self, epoch: int) -> None:
        start_at(self.inner, epoch)

    def with_batch_size(self, batch_size: int) -> "MappedBatches":
        return MappedBatches(rebatch(self.inner, batch_size), self.function, self.repeat)


class EpochOfBatches(keras.callbacks.Callback):
    """Tells a feed which epoch `fit` is starting, so its shuffle follows Keras's epoch number.

    Counting `on_epoch_begin` calls alone is not enough: Keras may peek at a PyDataset before the
    first epoch (to build the model), and does so in a fresh run but not in a resumed one.
    """

    def __init__(self, feed: Any) -> None:
        super().__init__()
        self.feed = feed

    def on_epoch_begin(self, epoch, logs=None):
        start_at(self.feed, epoch)


def _is_py_dataset(feed: Any) -> bool:
    return isinstance(feed, keras.utils.PyDataset)


def map_batches(feed: Any, function: Callable) -> Any:
    """`function(*batch)` applied to every batch (written with plain indexing, it serves NumPy and tf.data alike)."""
    if feed is None:
        return None
    return MappedBatches(feed, function) if _is_py_dataset(feed) else feed.map(function)


def repeat_each(feed: Any, times: int = 2) -> Any:
    """Every batch `times` times in a row (Backstitch takes two steps on one minibatch)."""
    if _is_py_dataset(feed):
        return MappedBatches(feed, repeat=times)
    import tensorflow as tf  # a tf.data feed: TensorFlow is there

    repeated = feed.flat_map(lambda *batch: tf.data.Dataset.from_tensors(batch if len(batch) > 1 else batch[0]).repeat(times))
    batches = int(feed.cardinality())
    if batches >= 0:  # known: keep it known, so Keras counts the epoch's steps right
        repeated = repeated.apply(tf.data.experimental.assert_cardinality(times * batches))
    return repeated


def num_batches(feed: Any) -> int | None:
    """Batches per epoch, or None when the feed does not know."""
    if _is_py_dataset(feed):
        return len(feed)
    count = int(feed.cardinality())
    return count if count >= 0 else None


def first_batch(feed: Any) -> Any:
    """The first batch, as NumPy arrays (in the order before any shuffle, for a PyDataset)."""
    batch = feed[0] if _is_py_dataset(feed) else next(iter(feed))
    if isinstance(batch, (tuple, list)):
        return tuple(np.asarray(part) for part in batch)
    return np.asarray(batch)


def start_at(feed: Any, epoch: int) -> bool:
    """Set a PyDataset's next epoch (its shuffle follows); False for a feed that cannot (tf.data)."""
    if hasattr(feed, "start_at"):
        feed.start_at(epoch)
        return True
    return False


def rebatch(feed: Any, batch_size: int) -> Any:
    """The same rows in batches of `batch_size`: a PyDataset of ours rebuilt, a batched tf.data pipeline rebatched."""
    if hasattr(feed, "with_batch_size"):
        return feed.with_batch_size(batch_size)
    if hasattr(feed, "rebatch"):
        return feed.rebatch(batch_size)
    raise TypeError(f"cannot change the batch size of a {type(feed).__name__}: give an ArrayBatches, NumPy arrays "
                    "or a batched tf.data.Dataset.")


def batch_size_of(feed: Any) -> int:
    """Rows per batch (a tf.data pipeline's: those of its first batch)."""
    if isinstance(feed, ArrayBatches):
        return feed.batch_size
    if isinstance(feed, MappedBatches):
        return batch_size_of(feed.inner)
    batch = feed[0] if _is_py_dataset(feed) else next(iter(feed))
    inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
    return int((next(iter(inputs.values())) if isinstance(inputs, dict) else inputs).shape[0])


def rows_of(feed: Any) -> int | None:
    """Rows served per epoch by an ArrayBatches (or a MappedBatches over one); None for a feed that does not say."""
    if isinstance(feed, MappedBatches):
        return rows_of(feed.inner)
    return feed.rows if isinstance(feed, ArrayBatches) else None
