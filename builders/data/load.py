"""The `data` section: real sources turned into batches Keras can fit on.

Every source ends as three splits (train, validation, test; the last two
optional) of `(features, label)` pairs and a `DataInfo` that tells the model
builder the input shape, the task (regression, binary, multiclass) and the
normalization statistics, computed on the training split only.

In-memory sources (scikit-learn's bundled sets, CSV, Parquet, NumPy .npz,
MNIST-1D) are read into arrays and batched by `zoo.batches.ArrayBatches`, a
`keras.utils.PyDataset` that needs no TensorFlow, on the JAX and PyTorch
backends; on the TensorFlow backend by a tf.data pipeline, which feeds
TensorFlow faster than any Python iterator can (Keras wraps a PyDataset in
`Dataset.from_generator` there: 0.73x the samples/s of tf.data for a
784-256-256-10 MLP on 2 CPU cores, measured), except under a
`BatchSizeSchedule`: its stretches need the batch size changed with the
shuffle a pure function of (seed, epoch), which `ArrayBatches` keeps and a
tf.data shuffle does not. TensorFlow Datasets streams from
its own files, with split slicing (`train[:90%]`), and is the one source that
needs TensorFlow on every backend. Nothing here downloads anything unless you
name a TFDS dataset that is not prepared yet.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from zoo.batches import ArrayBatches, map_batches, start_at
from zoo.builders.spec.document import Spec
from zoo.builders.spec.errors import RunError, closest
from zoo.builders.spec.schema import SOURCE_SCHEMA

__all__ = ["DataInfo", "Data", "GivenData", "load_data", "given_data", "spec_for_given", "infer_task", "read_inputs",
           "anchored", "SOURCES", "SourceKind", "register_source", "class_labels"]


@dataclass(frozen=True)
class SourceKind:
    """One kind of data source: the key that names it in `data.source`, and how it is read.

    `read(spec, path, source)` returns `(x, y, class names or None, (x_test, y_test) or None)`;
    a streamed source (TFDS) has no `read` and is fed from its own files."""

    name: str
    read: Callable[[Spec, tuple, dict], tuple] | None
    files: bool = False  # its value is a file path: found beside the spec, anchored in the copies runs write
    user: bool = False  # registered from a user's code with `register_source`


SOURCES: dict[str, SourceKind] = {}  # name -> kind, in registration order: the built-ins, then the user's


@dataclass
class DataInfo:
    """What the model builder needs to know about the data."""

    input_shape: tuple
    task: str  # "regression" | "binary" | "multiclass"
    num_classes: int | None = None
    output_dim: int = 1
    mean: np.ndarray | None = None
    variance: np.ndarray | None = None
    sizes: dict = field(default_factory=dict)
    class_names: list | None = None
    whitening: Any = None  # (mean, matrix), or {input: (mean, matrix)}, for data.normalize: center, pca or zca
    target_mean: list | None = None  # data.scale_targets: the training targets' mean and std, one per output
    target_std: list | None = None


@dataclass
class Data:
    """The batches of each split (an `ArrayBatches`, or a tf.data pipeline; see the module), and their `DataInfo`."""

    info: DataInfo
    train: Any
    validation: Any = None
    test: Any = None
    arrays: dict = field(default_factory=dict, repr=False)  # split -> (x, y) for in-memory sources

    # Iterators Keras's TensorFlow trainer makes of a training dataset per epoch (measured with Keras
    # 3.15 / TF 2.21: the one it runs and one more); the deterministic-resume test fails if it changes.
    ITERATORS_PER_EPOCH = 2

    def skip_epochs(self, epochs: int) -> None:
        """Bring the training shuffle to where it stands after `epochs` epochs, so a resumed run sees the
        batches an uninterrupted one would. An `ArrayBatches` is told its epoch; tf.data reshuffles
        (from the spec's seed) each time an iterator is made, so that many iterators are made."""
        if start_at(self.train, epochs):
            return
        for _ in range(epochs * self.ITERATORS_PER_EPOCH):
            iter(self.train)

    def split_over(self, devices: int, process: tuple[int, int] = (0, 1)) -> "Data":
        """Every split's batches a multiple of `devices` rows, for a distribution that splits each batch
        evenly over that many devices; with `process` (index, count), this process's share of each batch
        (in-memory sources; a tf.data feed is left to Keras)."""
        def trim(batches):
            return batches.split_over(devices, process) if isinstance(batches, ArrayBatches) else batches

        return dataclasses.replace(self, train=trim(self.train), validation=trim(self.validation), test=trim(self.test))

    def map_train(self, transform) -> "Data":
        """The same data with `transform(batches)` applied to the training batches."""
        return dataclasses.replace(self, train=transform(self.train))

    def one_hot_labels(self) -> "Data":
        """Every split's class labels as one-hot rows (info.num_classes columns), for a loss that takes them;
        `arrays` keep the integer labels."""
        classes = int(self.info.num_classes)

        def encode(x, y):
            if isinstance(y, np.ndarray):
                return x, np.eye(classes, dtype="float32")[y.reshape(-1).astype("int64")]
            import tensorflow as tf

            return x, tf.one_hot(tf.cast(tf.reshape(y, [-1]), "int32"), classes)

        def mapped(batches):
            return None if batches is None else map_batches(batches, encode)

        return dataclasses.replace(self, train=mapped(self.train), validation=mapped(self.validation), test=mapped(self.test))

    def inputs_as_targets(self) -> "Data":
        """Every split as (x, x): the targets of an autoencoder are its inputs."""
        def swap(batches):
            return map_batches(batches, lambda x, y: (x, x))

        return dataclasses.replace(self, train=swap(self.train), validation=swap(self.validation), test=swap(self.test))


# Inputs are one array, or, for a model with named inputs, a dict {input name: array} with the same rows.


def count_rows(x) -> int:
    return len(next(iter(x.values()))) if isinstance(x, dict) else len(x)


def take_rows(x, rows):
    return {name: array[rows] for name, array in x.items()} if isinstance(x, dict) else x[rows]


def row_shape(x):
    """The shape of one row: a tuple, or {input name: tuple} for named inputs."""
    if isinstance(x, dict):
        return {name: tuple(int(d) for d in array.shape[1:]) for name, array in x.items()}
    return tuple(int(d) for d in x.shape[1:])


def infer_task(y: np.ndarray) -> tuple[str, int | None]:
    """regression for float targets, binary / multiclass for integer labels."""
    y = np.asarray(y)
    if y.dtype.kind == "f" or (y.ndim > 1 and y.shape[-1] > 1):
        return "regression", None
    classes = int(np.max(y)) + 1 if y.size else 0
    return ("binary", 2) if classes <= 2 else ("multiclass", classes)


# -- sources ---------------------------------------------------------------------


def _source_kind(spec: Spec, path: tuple, source: dict) -> SourceKind:
    kinds = [k for k in SOURCES if k in source]
    if len(kinds) != 1:
        raise spec.error(
            path,
            "a data source names exactly one of " + ", ".join(SOURCES)
            + (f"; this one names {', '.join(kinds)}." if kinds else "; this one names none."),
        )
    return SOURCES[kinds[0]]


def _builtin(name: str, files: bool = False, streamed: bool = False):
    def add(read):
        SOURCES[name] = SourceKind(name, None if streamed else read, files)
        return read
    return add


# The keys a source mapping takes besides its name (they configure the built-in kinds).
SOURCE_OPTIONS = ("split", "data_dir", "label", "features", "x", "y", "input_key", "label_key")


def register_source(name: str, function: Callable | None = None, *, schema: dict | None = None,
                    replace: bool = False) -> Callable:
    """Register `function` as a data source a spec names as `data.source: {NAME: ARGUMENTS}`.

    The function is called with the mapping under its name as keyword arguments (`{name: {n: 100}}`
    calls `function(n=100)`; `{name: null}` calls `function()`; any other value is passed as the one
    argument) and returns `(x, y)` or `(x, y, class_names)`: NumPy arrays (x may be `{input name: array}`),
    y integer classes, floats for regression, or class names. The rows get the checks every source
    gets (numbers only, no NaN or infinity, one label a row) and then the spec's splits, `limit`,
    `normalize` and so on. Arguments that the function does not take, an exception it raises and rows
    that fail a check are SpecErrors at the source's line.

    A registered source exists in the process that registered it: name it in specs you train or tune
    from Python (`zoo.train`, `zoo.tune`), after the registration.

    Args:
        name: the key in `data.source`: a Python identifier, not a built-in source or source option.
        function: the reader; omitted, `register_source(name)` is a decorator.
        schema: the JSON Schema of the value under the name (`zoo schema` shows it; default: anything).
        replace: allow registering `name` again (a user's source only).

    Example:
        >>> @zoo.register_source("blobs")
        ... def blobs(rows=500, seed=0):
        ...     from sklearn.datasets import make_blobs
        ...     return make_blobs(rows, n_features=4, centers=3, random_state=seed)
        >>> zoo.train("spec.yaml", ["data.source={blobs: {rows: 300}}"])
    """
    import inspect
    import keyword

    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"register_source: a source name is a Python identifier; got {name!r}.")
    if name in SOURCE_OPTIONS or (name in SOURCES and not SOURCES[name].user):
        raise ValueError(f"register_source: {name!r} is a built-in source or source option "
                         f"({', '.join([*(k for k, v in SOURCES.items() if not v.user), *SOURCE_OPTIONS])}); choose another name.")
    if name in SOURCES and not replace:
        raise ValueError(f"register_source: {name!r} is registered already; pass replace=True to register it again.")
    if schema is not None and not isinstance(schema, dict):
        raise ValueError(f"register_source: schema must be a JSON Schema mapping; got {type(schema).__name__}.")

    def add(reader: Callable) -> Callable:
        if not callable(reader):
            raise ValueError(f"register_source: {name!r} needs a callable; got {type(reader).__name__}.")
        signature = inspect.signature(reader)

        def read(spec: Spec, path: tuple, source: dict) -> tuple:
            return _read_user_source(spec, path + (name,), name, reader, signature, source[name])

        SOURCES[name] = SourceKind(name, read, user=True)
        SOURCE_SCHEMA["properties"][name] = dict(schema) if schema is not None else {}
        return reader

    return add(function) if function is not None else add


def _read_user_source(spec: Spec, path: tuple, name: str, reader: Callable, signature, value: Any) -> tuple:
    args, kwargs = ((), dict(value)) if isinstance(value, dict) else ((), {}) if value is None else ((value,), {})
    try:
        signature.bind(*args, **kwargs)
    except TypeError as error:
        accepted = list(signature.parameters)
        unknown = next((k for k in kwargs if k not in accepted), None)
        if unknown is not None and not any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
            raise spec.error(path + (unknown,), f"the source {name!r} takes no argument {unknown!r}; its arguments are "
                             f"{', '.join(accepted) or 'none'}.", closest(unknown, accepted)) from None
        raise spec.error(path, f"the source {name!r} cannot be called with {value!r}: {error}.") from None
    try:
        made = reader(*args, **kwargs)
    except Exception as error:
        raise spec.error(path, f"the source {name!r} failed: {type(error).__name__}: {error}") from None
    if not isinstance(made, (tuple, list)) or len(made) not in (2, 3):
        raise spec.error(path, f"the source {name!r} returned {type(made).__name__}; a source returns (x, y) or "
                         "(x, y, class_names).")
    from zoo.builders.spec.errors import SpecError

    try:
        x, y, names = checked_arrays(made[:2], f"the source {name!r}")
    except SpecError as error:
        raise spec.error(path, str(error)) from None
    if len(made) == 3 and made[2] is not None:
        given = [str(n) for n in made[2]]
        if names is not None or y.dtype.kind not in "iu" or y.ndim != 1 or (len(y) and int(y.max()) >= len(given)):
            raise spec.error(path, f"the source {name!r} gave {len(given)} class names for labels that are not "
                             f"integer classes below {len(given)}.")
        names = given
    return x, y, names, None


@_builtin("sklearn")
def _sklearn(spec: Spec, path: tuple, source: dict) -> tuple:
    from sklearn import datasets

    loader = getattr(datasets, f"load_{source['sklearn']}")
    bunch = loader()
    x = np.asarray(bunch.data, dtype="float32")
    task_regression = source["sklearn"] == "diabetes"
    y = np.asarray(bunch.target, dtype="float32" if task_regression else "int32")
    return x, y, list(getattr(bunch, "target_names", [])) or None, None


_builtin("tfds", streamed=True)(None)


@_builtin("csv", files=True)
def _csv(spec: Spec, path: tuple, source: dict) -> tuple:
    return (*_table(spec, path, source, "csv"), None)


@_builtin("parquet", files=True)
def _parquet(spec: Spec, path: tuple, source: dict) -> tuple:
    return (*_table(spec, path, source, "parquet"), None)


def _table(spec: Spec, path: tuple, source: dict, kind: str) -> tuple[np.ndarray, np.ndarray, list | None]:
    file = find_file(spec, path + (kind,), source[kind])
    try:
        frame = _read_frame(file, kind)
    except ValueError as error:
        raise spec.error(path + (kind,), str(error)) from None
    return _frame_arrays(spec, path, source, frame, kind, file)


def _frame_arrays(spec: Spec, path: tuple, source: dict, frame, kind: str, file) -> tuple:
    """(x, y, class names) of a DataFrame, read from a file or given in Python: the label column, the
    feature columns (all others, a list, or {input: [columns]}), numeric features, no missing values."""
    import pandas as pd

    if "label" not in source:
        raise spec.error(path, f"a {kind} source needs `label:` naming the target column; columns are {', '.join(map(str, frame.columns))}.")
    label = source["label"]
    if label not in frame.columns:
        raise spec.error(path + ("label",), f"{file} has no column {label!r}; columns are {', '.join(map(str, frame.columns))}.", closest(label, map(str, frame.columns)))
    features = source.get("features") or [c for c in frame.columns if c != label]
    groups = features if isinstance(features, dict) else {None: features}  # named inputs: {input: [columns]}
    for name, columns in groups.items():
        where = path + ("features",) + ((name,) if name is not None else ())
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise spec.error(where, f"{file} has no column {missing[0]!r}; columns are {', '.join(map(str, frame.columns))}.",
                             closest(str(missing[0]), map(str, frame.columns)))
        non_numeric = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c])]
        if non_numeric:
            raise spec.error(where, f"feature column {non_numeric[0]!r} of {file} is not numeric.")
    arrays = {name: frame[columns].to_numpy(dtype="float32") for name, columns in groups.items()}
    x = arrays if isinstance(features, dict) else arrays[None]
    target = frame[label]
    if target.isna().any():
        raise spec.error(path + ("label",), f"{file} has no label in row {int(np.argmax(target.isna().to_numpy()))} "
                         f"(column {label!r}; the first such row); drop the rows without a label first.")
    class_names = None
    if pd.api.types.is_numeric_dtype(target):
        y = target.to_numpy()
        y = y.astype("float32") if y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0) else y.astype("int32")
    else:
        codes, uniques = pd.factorize(target, sort=True)
        y, class_names = codes.astype("int32"), [str(u) for u in uniques]
    allow_nan = bool((spec.tree.get("data") or {}).get("allow_nan"))
    for name, columns in groups.items():
        found = None if allow_nan else nonfinite_at(arrays[name], list(columns))
        if found:
            raise spec.error(path + (kind,), f"{file} has {found}; fill or drop those rows, or set data.allow_nan: "
                             "true for a model that handles them.")
    return x, y, class_names


def _read_frame(file: Path, kind: str, header: int | None = 0):
    """A CSV or Parquet file as a DataFrame: the one reader for training and for new rows."""
    import pandas as pd

    try:
        return pd.read_csv(file, header=header) if kind == "csv" else pd.read_parquet(file)
    except Exception as error:  # pandas raises many types for unreadable files
        raise ValueError(f"cannot read {file} as {kind}: {str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__}") from None


def read_inputs(path: str | Path, features: list | dict | None = None, label: str | None = None,
                keys: str | dict | None = None):
    """Rows to predict from a .npy, .npz (key `x`), .csv or .parquet file, as float32.

    A table is read as training read it: the training features by name when the training
    source named them, the label column dropped; a CSV whose first row is all numbers has no header.
    For a model with named inputs, `features` ({input: [columns]}) or the npz `keys` ({input: key})
    give {input name: array}.

    Raises:
        RunError: a missing, unreadable, empty or non-numeric file, with what to do.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise RunError(f"input file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            x = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as arrays:
                wanted = keys if isinstance(keys, dict) else {None: "x"}
                for key in wanted.values():
                    if key not in arrays:
                        raise RunError(f"{path} holds no array {key!r}; it holds {', '.join(arrays.keys()) or 'nothing'}.")
                if isinstance(keys, dict):
                    return {name: _input_array(arrays[key], f"{path}[{key}]") for name, key in keys.items()}
                x = arrays["x"]
        elif suffix in (".csv", ".parquet"):
            kind = suffix[1:]
            frame = _read_frame(path, kind, header=None if kind == "csv" else 0)
            if kind == "csv":  # a first row of names is a header; a first row of numbers is data
                header = len(frame) > 0 and not all(_is_number(v) for v in frame.iloc[0])
                frame = _read_frame(path, kind) if header else frame
            if isinstance(features, dict):  # named inputs
                for columns in features.values():
                    missing = [c for c in columns if c not in frame.columns]
                    if missing:
                        raise RunError(f"{path} has no column {missing[0]!r}, which the model was trained on; "
                                       f"columns are {', '.join(map(str, frame.columns))}.")
                return {name: _input_array(frame[columns].to_numpy(), f"{path} {name}") for name, columns in features.items()}
            if features is not None:
                missing = [c for c in features if c not in frame.columns]
                if missing:
                    raise RunError(f"{path} has no column {missing[0]!r}, which the model was trained on; "
                                   f"columns are {', '.join(map(str, frame.columns))}.")
                frame = frame[features]
            elif label is not None and label in frame.columns:
                frame = frame.drop(columns=[label])
            non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
            if non_numeric:
                raise RunError(f"{path}: column {non_numeric[0]!r} is not numeric.")
            x = frame.to_numpy()
        else:
            raise RunError(f"cannot read {path}: expected a .npy, .npz, .csv or .parquet file.")
    except ValueError as error:  # numpy's and pandas's words for an unreadable file
        raise RunError(f"cannot read {path}: {str(error).strip().splitlines()[0] if str(error).strip() else 'unreadable'}") from None
    return _input_array(x, str(path))


def _input_array(x: np.ndarray, where: str) -> np.ndarray:
    if x.dtype.kind not in "biuf":
        raise RunError(f"{where} holds {x.dtype} values, not numbers.")
    if x.ndim == 0 or len(x) == 0:
        raise RunError(f"{where} holds no rows.")
    return np.asarray(x, dtype="float32")


def _is_number(text: Any) -> bool:
    try:
        float(str(text))
        return True
    except ValueError:
        return False


# -- data given in Python (zoo.train(spec, data=...)) -------------------------------------------


@dataclass
class GivenData:
    """Data given in Python, passed straight to the plan (`zoo.train(spec, data=...)`): no file, no store.

    Attributes:
        splits: "source" (the training rows, before the spec's validation/test fractions), "validation",
            "test" -> `(x, y, class names)` checked arrays, or a pandas DataFrame read as a CSV is.
        label: the target column of DataFrames.
        digests: a fingerprint of each split, recorded in a run (`given_data.json`) so a resume can tell
            whether it was given the same data.
    """

    splits: dict
    label: str | None = None
    digests: dict = field(default_factory=dict)


def given_data(data: Any = None, validation_data: Any = None, test_data: Any = None,
               label: str | None = None) -> GivenData | None:
    """The data `zoo.train`, `zoo.tune` and `zoo.resume` take, checked as a file source's rows are; None when
    nothing is given. Each of `data`, `validation_data`, `test_data` is a tuple `(x, y)` of arrays (x may be
    {input name: array}), a pandas DataFrame with a label column (`label=`), or a `tf.data.Dataset` of
    `(x, y)` elements, batched or not.

    Raises:
        SpecError: what is wrong with the data, named after the argument.
    """
    import hashlib

    from zoo.builders.spec.errors import SpecError

    splits, digests = {}, {}
    for name, value, what in (("source", data, "data"), ("validation", validation_data, "validation_data"),
                              ("test", test_data, "test_data")):
        if value is None:
            continue
        kind = type(value).__module__.split(".")[0] + "." + type(value).__name__
        digest = hashlib.sha256()
        if kind == "pandas.DataFrame":
            if label is None:
                raise SpecError(f"{what}: a DataFrame needs label= naming its target column; its columns are "
                                f"{', '.join(map(str, value.columns))}.")
            import pandas as pd

            digest.update(pd.util.hash_pandas_object(value, index=False).to_numpy().tobytes())
            digest.update(repr(list(map(str, value.columns))).encode())
            splits[name] = value
        else:
            x, y, names = checked_arrays(value, what)
            for key, array in (x.items() if isinstance(x, dict) else [("", x)]):
                digest.update(key.encode() + repr(array.shape).encode() + np.ascontiguousarray(array).tobytes())
            digest.update(np.ascontiguousarray(y).tobytes() + repr(names).encode())
            splits[name] = (x, y, names)
        digests[name] = digest.hexdigest()[:16]
    if not splits:
        return None
    if label is not None and not any(type(v).__name__ == "DataFrame" for v in splits.values()):
        raise SpecError(f"label={label!r} names a DataFrame's target column, but the data given are arrays: give "
                        "(x, y), or a DataFrame with label=.")
    if "source" not in splits:
        raise SpecError("validation_data and test_data go with data=: give the training rows too.")
    return GivenData(splits, label, digests)


def spec_for_given(spec: Spec, given: GivenData | None) -> Spec:
    """The spec as a run on `given` records it: its `data` section keeps the settings (batch size, normalize...)
    and loses what the given data replaces (the source; validation/test and their fractions when given), so
    the spec a run writes says where its rows came from: from Python, not from a file it never read."""
    import copy

    from zoo.builders.spec.document import check_tree

    if given is None:
        return spec
    tree = copy.deepcopy(spec.tree)
    data = tree.setdefault("data", {})
    if not isinstance(data, dict):
        return spec  # the schema's error, at its line, comes from check_tree of the spec as given
    data.pop("source", None)
    for name in ("validation", "test"):
        if name in given.splits:
            data.pop(name, None)
            data.pop(f"{name}_split", None)
    return check_tree(spec.replace(tree))


def checked_arrays(data: Any, what: str) -> tuple:
    """`(x, y, class names or None)` from `(x, y)` arrays (x may be {input name: array}) or a tf.data.Dataset of
    them: numbers only, a row axis and a feature axis, matching rows, no NaN or infinity; y as `_labels` reads it.

    Raises:
        SpecError: what is wrong, named after `what`.
    """
    from zoo.builders.spec.errors import SpecError

    kind = type(data).__module__.split(".")[0] + "." + type(data).__name__
    if "tensorflow" in kind or hasattr(data, "as_numpy_iterator"):
        data = _dataset_arrays(data, what)
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise SpecError(f"{what}: expected (x, y) arrays, a pandas DataFrame with label=, or a tf.data.Dataset "
                        f"of (x, y); got {kind}.")
    x, y = data
    x = {str(k): _numeric(v, f"{what} x[{k!r}]") for k, v in x.items()} if isinstance(x, dict) else _numeric(x, f"{what} x")
    y, names = _labels(y, f"{what} y")
    for name, array in (x.items() if isinstance(x, dict) else [("", x)]):
        where = f"{what} x" + (f"[{name!r}]" if name else "")
        if array.ndim < 2:
            raise SpecError(f"{where} has shape {array.shape}: give it a row axis and a feature axis "
                            "(one feature: x.reshape(-1, 1)).")
        if len(array) != len(y):
            raise SpecError(f"{where} has {len(array)} rows but y has {len(y)}.")
        if not np.isfinite(array).all():
            bad = int(np.argwhere(~np.isfinite(array.reshape(len(array), -1)).all(axis=1))[0][0])
            raise SpecError(f"{where} has NaN or infinite values (row {bad} is the first); fill or drop them first.")
    if len(y) == 0:
        raise SpecError(f"{what} holds no rows.")
    return x, y, names


def _numeric(array: Any, where: str) -> np.ndarray:
    from zoo.builders.spec.errors import SpecError

    try:
        array = np.asarray(array)
    except Exception as error:
        raise SpecError(f"{where} cannot be read as an array: {error}") from None
    if array.dtype.kind not in "biuf":
        raise SpecError(f"{where} holds {array.dtype} values; the inputs must be numbers.")
    return array.astype("float32")


def _labels(y: Any, where: str) -> tuple[np.ndarray, list | None]:
    """Targets as training reads a label column: integers (classes), floats (regression), or names
    (classes numbered in sorted order)."""
    from zoo.builders.spec.errors import SpecError

    y = np.asarray(y)
    if y.dtype.kind in "USO":
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise SpecError(f"{where}: class names must be one per row (shape (n,)); got shape {y.shape}.")
        missing = [i for i, v in enumerate(y.tolist()) if v is None or isinstance(v, float) and v != v]
        if missing:
            raise SpecError(f"{where} has no label in row {missing[0]} (None or NaN; the first such row): drop the rows "
                            "without a label first.")
        names, codes = np.unique(y.astype(str), return_inverse=True)
        return codes.astype("int32"), [str(n) for n in names]
    if y.dtype.kind not in "biuf":
        raise SpecError(f"{where} holds {y.dtype} values; targets are numbers or class names.")
    if y.ndim == 0:
        raise SpecError(f"{where} is a single value; give one target per row.")
    return class_labels(y, where)


def _dataset_arrays(dataset: Any, what: str) -> tuple:
    """A tf.data.Dataset of (x, y) elements as arrays: batched when its first axis is unknown."""
    from zoo.builders.spec.errors import SpecError

    spec = dataset.element_spec
    if not isinstance(spec, tuple) or len(spec) != 2:
        raise SpecError(f"{what}: a tf.data.Dataset must yield (x, y) pairs; its elements are {spec}.")
    first = next(iter(spec[0].values())) if isinstance(spec[0], dict) else spec[0]
    batched = len(first.shape) > 0 and first.shape[0] is None
    xs, ys = [], []
    for x, y in dataset.as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    if not xs:
        raise SpecError(f"{what}: the tf.data.Dataset is empty.")
    join = np.concatenate if batched else np.stack
    if isinstance(xs[0], dict):
        return {k: join([x[k] for x in xs]) for k in xs[0]}, join(ys)
    return join(xs), join(ys)


@_builtin("npz", files=True)
def _npz(spec: Spec, path: tuple, source: dict) -> tuple:
    file = find_file(spec, path + ("npz",), source["npz"])
    try:
        arrays = np.load(file, allow_pickle=False)
    except Exception as error:
        raise spec.error(path + ("npz",), f"cannot read {file} as a NumPy .npz file: {error}") from None
    if not isinstance(arrays, np.lib.npyio.NpzFile):
        raise spec.error(path + ("npz",), f"{file} is a single NumPy array (.npy), not an .npz archive of named arrays: "
                         "save the inputs and labels together with np.savez(path, x=inputs, y=labels).")
    keys = list(arrays.keys())
    x_key, y_key = source.get("x", "x"), source.get("y", "y")
    wanted = [(key, ("x", name)) for name, key in x_key.items()] if isinstance(x_key, dict) else [(x_key, ("x",))]
    for key, where in wanted + [(y_key, ("y",))]:
        if key not in keys:
            raise spec.error(path + where, f"{file} holds no array {key!r}; it holds {', '.join(keys)}.", closest(key, keys))
    from zoo.builders.spec.errors import SpecError

    try:
        y = np.asarray(arrays[y_key])
        y, names = (y.astype("float32"), None) if y.dtype.kind == "f" else _labels(y, f"{file}[{y_key!r}]")
        if isinstance(x_key, dict):  # named inputs: {input: key}
            x = {name: _numeric(arrays[key], f"{file}[{key!r}]") for name, key in x_key.items()}
        else:
            x = _numeric(arrays[x_key], f"{file}[{x_key!r}]")
    except SpecError as error:
        raise spec.error(path + ("npz",), str(error)) from None
    for name, array in (x.items() if isinstance(x, dict) else [(x_key, x)]):
        key = x_key[name] if isinstance(x_key, dict) else x_key
        if array.ndim == 0 or len(array) != len(y):
            raise spec.error(path, f"{file}: {key} has {len(array) if array.ndim else 0} rows but {y_key} has {len(y)}.")
    return x, y, names, None


@_builtin("mnist1d")
def _mnist1d(spec: Spec, path: tuple, source: dict) -> tuple:
    from mnist1d.data import get_dataset_args, make_dataset

    arguments = get_dataset_args(as_dict=True)
    options = source.get("mnist1d") or {}
    unknown = [k for k in options if k not in arguments or k == "url"]
    if unknown:
        raise spec.error(path + ("mnist1d", unknown[0]), f"mnist1d takes no argument {unknown[0]!r}.", closest(unknown[0], arguments))
    arguments.update(options)

    class _Args(dict):
        __getattr__ = dict.__getitem__

    made = make_dataset(_Args(arguments))  # generated locally: never its download
    return (
        np.asarray(made["x"], "float32")[..., None],
        np.asarray(made["y"], "int32"),
        None,
        (np.asarray(made["x_test"], "float32")[..., None], np.asarray(made["y_test"], "int32")),
    )


def find_file(spec: Spec, path: tuple, name: str, what: str = "data file") -> Path:
    file = Path(name)
    if not file.is_absolute() and spec.source not in ("<string>", "<dict>") and not file.exists():
        beside = Path(spec.source).parent / file
        if beside.exists():
            file = beside
    if not file.exists():
        raise spec.error(path, f"{what} not found: {name} (looked in {Path.cwd()} and beside the spec).")
    return file


def anchored(spec: Spec) -> Spec:
    """The spec with each file it names (csv/parquet/npz sources and splits, transfer.from) as an absolute
    path, so the copy a run or a search writes (spec.yaml, best.yaml) finds them from any folder; a file
    that is not found is left for the plan to report."""
    import copy

    tree = copy.deepcopy(spec.tree)
    changed = False
    data = tree.get("data") if isinstance(tree.get("data"), dict) else {}
    for name in ("source", "validation", "test"):
        source = data.get(name)
        if not isinstance(source, dict):
            continue
        for kind in (k for k, v in SOURCES.items() if v.files):
            if isinstance(source.get(kind), str):
                try:
                    source[kind] = str(find_file(spec, ("data", name, kind), source[kind]).resolve())
                    changed = True
                except Exception:  # a SpecError the plan raises with its context
                    pass
    transfer = tree.get("transfer")
    if isinstance(transfer, dict) and isinstance(transfer.get("from"), str):
        try:
            transfer["from"] = str(find_file(spec, ("transfer", "from"), transfer["from"], "model").resolve())
            changed = True
        except Exception:
            pass
    return spec.replace(tree) if changed else spec




def _arrays(spec: Spec, path: tuple, source: Any, given: GivenData | None = None) -> tuple:
    """(x, y, class_names, given_test) from an in-memory source, or from data given in Python (`source` is then
    the split's name in `given`), with the checks every source gets."""
    if given is not None:
        entry = given.splits[source]
        where = "the " + ("data" if source == "source" else f"{source}_data") + " given in Python"
        if isinstance(entry, tuple):
            x, y, names, given_test = (*entry, None)
        else:
            x, y, names = _frame_arrays(spec, path, {"label": given.label}, entry, "DataFrame", where)
            given_test = None
        source = {}
    else:
        x, y, names, given_test = _source_kind(spec, path, source).read(spec, path, source)
    allow_nan = bool((spec.tree.get("data") or {}).get("allow_nan"))
    columns = _feature_columns(source)
    x, y, names = _checked_rows(spec, path, x, y, names, allow_nan, columns)
    if given_test is not None:
        given_test = _checked_rows(spec, path, *given_test, None, allow_nan, columns)[:2]
    return x, y, names, given_test


def _feature_columns(source: dict) -> Any:
    """The feature column names of a table source, as far as the source names them (for error messages)."""
    features = source.get("features")
    return features if isinstance(features, (list, dict)) else None


def _checked_rows(spec: Spec, path: tuple, x: Any, y: np.ndarray, names: list | None, allow_nan: bool,
                  columns: Any = None) -> tuple:
    """What every source's rows must be: finite features (unless data.allow_nan), labels read as `class_labels`
    reads them. Errors name the column (or feature index) and the first row."""
    from zoo.builders.spec.errors import SpecError

    if not allow_nan:
        for name, array in (x.items() if isinstance(x, dict) else [(None, x)]):
            found = nonfinite_at(array, columns.get(name) if isinstance(columns, dict) else columns)
            if found:
                raise spec.error(path, f"the features{f' of input {name!r}' if name else ''} hold {found}; fill or "
                                 "drop those rows, or set data.allow_nan: true for a model that handles them.")
    try:
        y, relabelled = class_labels(y, "the labels", whole_floats=False)
    except SpecError as error:
        raise spec.error(path, str(error)) from None
    if relabelled is not None:
        if names is not None:  # names given for sparse ids: keep the names of the ids present
            relabelled = [names[int(v)] if 0 <= int(v) < len(names) else str(v) for v in relabelled]
        names = relabelled
    return x, y, names


def nonfinite_at(array: np.ndarray, columns: list | None = None) -> str | None:
    """'NaN in column 'age' (row 3 is the first)' for the first non-finite value of `array`, or None."""
    values = np.asarray(array)
    if values.dtype.kind != "f" or np.isfinite(values).all():
        return None
    flat = values.reshape(len(values), -1)
    row, column = (int(i) for i in np.argwhere(~np.isfinite(flat))[0])
    value = flat[row, column]
    what = "NaN" if np.isnan(value) else "infinity"
    where = (f"column {columns[column]!r}" if columns is not None and column < len(columns) and values.ndim == 2
             else f"feature {column}" if flat.shape[1] > 1 else "the feature")
    return f"{what} in {where} (row {row} is the first)"


def class_labels(y: Any, where: str, whole_floats: bool = True) -> tuple[np.ndarray, list | None]:
    """Labels as training reads them, whatever the source: returns (labels, class names or None).

    - floats with fractions: regression targets (NaN and infinity refused);
    - whole numbers 0..K-1 (K small enough to be classes): classes as they are;
    - negative or sparse whole numbers (-1/1, ids in the millions): classes named by their values,
      numbered in sorted order, so no class count comes from the largest id;
    - a column vector (n, 1) of classes: one label a row; one-hot rows (n, K) of 0 and 1: their classes;
      other whole-number rows (multi-hot) are refused: they are neither classes nor a regression.

    `whole_floats=False` keeps float labels as regression targets even when they are whole numbers (a source
    that chose the dtype itself, such as an npz file or scikit-learn's diabetes).

    Raises:
        SpecError: what the labels hold that training cannot read, named after `where`.
    """
    from zoo.builders.spec.errors import SpecError

    y = np.asarray(y)
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        row = int(np.argwhere(~np.isfinite(y.reshape(len(y), -1)))[0][0])
        raise SpecError(f"{where} hold NaN or infinity (row {row} is the first); drop those rows first.")
    if y.dtype.kind not in "biuf" or y.ndim == 0 or len(y) == 0:
        return y, None
    whole = y.dtype.kind in "biu" or whole_floats and bool(np.all(np.mod(y, 1) == 0))
    if not whole:
        return y.astype("float32"), None
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    elif y.ndim == 2 and y.shape[1] > 1:
        binary = np.isin(y, (0, 1)).all()
        if binary and (y.sum(axis=1) == 1).all():
            return np.argmax(y, axis=1).astype("int32"), None
        if binary:
            raise SpecError(f"{where} are rows of 0 and 1 that are not one-hot (several 1s in a row: multi-label "
                            "targets); keras-zoo trains one class a row, or a regression on float targets.")
        return y.astype("float32"), None  # several whole-number targets a row: a multi-output regression
    elif y.ndim > 2:
        return y.astype("float32"), None
    values = np.unique(y)
    if values[0] >= 0 and values[-1] < max(1024, 4 * len(values)):
        return y.astype("int32"), None
    codes = np.searchsorted(values, y)
    return codes.astype("int32"), [str(int(v)) for v in values]


# -- splits and pipelines ---------------------------------------------------------------


def _keep_classes(spec: Spec, x: np.ndarray, y: np.ndarray, classes: list) -> tuple[np.ndarray, np.ndarray]:
    """The rows whose label is in `classes`, relabelled by position in it (classes [5, 7] -> labels 0, 1)."""
    present = set(np.unique(y).tolist())
    missing = [c for c in classes if c not in present]
    if missing:
        raise spec.error(("data", "classes"), f"no rows have the label(s) {missing}; the labels are {sorted(present)}.")
    keep = np.isin(y, classes)
    relabel = {c: i for i, c in enumerate(classes)}
    return take_rows(x, keep), np.array([relabel[v] for v in y[keep].tolist()], dtype=y.dtype)


def normalize_settings(value: Any) -> dict | None:
    """`data.normalize` as {method, epsilon, components}: true is per channel (the last axis), a name is
    that method, a mapping gives the epsilon and components of whitening; None when off."""
    if value is None or value is False:
        return None
    if value is True:
        return {"method": "channel", "epsilon": 1e-5, "components": None}
    if isinstance(value, str):
        return {"method": value, "epsilon": 1e-5, "components": None}
    return {"method": value["method"], "epsilon": value.get("epsilon", 1e-5), "components": value.get("components")}


def whitens(settings: dict | None) -> bool:
    """Whether `data.normalize` asks for `zoo.layers.Whitening` (center, pca, zca) rather than Keras's Normalization."""
    from zoo.layers import WHITENING_METHODS

    return bool(settings) and settings["method"] in WHITENING_METHODS


def _checked_normalize(spec: Spec, section: dict) -> dict | None:
    settings = normalize_settings(section.get("normalize"))
    if settings and settings["components"] is not None and settings["method"] != "pca":
        raise spec.error(("data", "normalize", "components"), f"components applies to method pca, not {settings['method']}.")
    return settings


def input_statistics(array: np.ndarray, settings: dict) -> tuple[np.ndarray, np.ndarray]:
    """What the input's normalization layer needs, from the training rows: (mean, variance) per channel, per
    feature (each value of a row) or global; or (mean, whitening matrix) for center, pca and zca."""
    from zoo.layers import whitening_statistics

    method = settings["method"]
    if whitens(settings):
        features = int(np.prod(array.shape[1:]))
        if settings["components"] is not None and settings["components"] > features:
            raise ValueError(f"components: {settings['components']} of {features} features.")
        return whitening_statistics(array, method, settings["epsilon"], settings["components"])
    if method == "feature":
        return array.mean(axis=0), array.var(axis=0)
    if method == "global":
        return np.asarray(array.mean()), np.asarray(array.var())
    features = array.reshape(-1, array.shape[-1]) if array.ndim > 1 else array[:, None]
    return features.mean(axis=0), features.var(axis=0)


def _scale_targets(spec: Spec, info: DataInfo, y: np.ndarray) -> None:
    """`data.scale_targets`: the training targets' mean and standard deviation, for a regression."""
    if info.task != "regression":
        raise spec.error(("data", "scale_targets"), f"scale_targets applies to regression targets; these are {info.task} labels.")
    values = np.asarray(y, "float64").reshape(len(y), -1)
    std = values.std(axis=0)
    if np.any(std <= 1e-12 * np.maximum(1.0, np.abs(values.mean(axis=0)))):
        raise spec.error(("data", "scale_targets"), "a target is constant over the training rows: nothing to scale.")
    info.target_mean, info.target_std = values.mean(axis=0).tolist(), std.tolist()


def _split(x, y, fraction: float, rng: np.random.Generator):
    order = rng.permutation(count_rows(x))
    held = int(round(count_rows(x) * fraction))
    return (take_rows(x, order[held:]), y[order[held:]]), (take_rows(x, order[:held]), y[order[:held]])


@contextlib.contextmanager
def global_random_state_kept() -> Iterator[None]:
    """Python's and NumPy's global random state as they were on entry, whatever the block does to them.

    Some data libraries reseed the global generators (mnist1d's `make_dataset` calls its own
    `set_seed(42)`); the run seeded them just before, and Keras's initializers draw their seeds
    from them, so without this every spec with such a source built the same initial weights
    whatever its `seed`. A source's own randomness is its own (`mnist1d: {seed: ...}`); the
    run's seed governs the splits, the weights, dropout and the shuffles."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def _noisy_labels(spec: Spec, y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """`y` with round(fraction * rows) labels, chosen at random, replaced by a class drawn uniformly (symmetric
    label noise: a drawn class may be the true one)."""
    task, classes = infer_task(y)
    if task == "regression":
        raise spec.error(("data", "label_noise"), "label_noise draws wrong classes: it needs integer class labels, "
                         f"and these labels are {'floats' if y.dtype.kind == 'f' else f'of shape {y.shape[1:]}'}.")
    noisy = np.array(y, copy=True)
    chosen = rng.choice(len(noisy), int(round(fraction * len(noisy))), replace=False)
    noisy[chosen] = rng.integers(0, classes, len(chosen)).astype(noisy.dtype)
    return noisy


def load_data(spec: Spec, batch_size: int | None = None, given: GivenData | None = None) -> Data:
    """Read the `data` section into pipelines and a `DataInfo`, the rows from its source or from `given`
    (data given in Python, which replaces the source and, where given, the validation and test splits).
    Errors are SpecErrors.

    Loading never changes the global random state (`global_random_state_kept`)."""
    with global_random_state_kept():
        return _load_data(spec, batch_size, given)


def _load_data(spec: Spec, batch_size: int | None, given: GivenData | None = None) -> Data:
    spec = spec.resolved()
    section = spec.section("data")
    if not section and given is None:
        raise spec.error(("data",), "this command needs a `data` section (e.g. data: {source: {sklearn: digits}}).")
    section = section or {}
    path = ("data", "source")
    if given is not None:
        return _from_arrays(spec, section, _arrays(spec, path, "source", given), "data given in Python", given)
    if "source" not in section:
        raise spec.error(("data",), "the data section names no source: give one (source: {sklearn: digits}), or give "
                         "the data in Python (zoo.train(spec, data=(x, y)); a run trained that way resumes with "
                         "zoo.resume(run_dir, data=...)).")
    source = section["source"]
    kind = _source_kind(spec, path, source)
    if kind.read is None:  # streamed from its own files (TFDS)
        if section.get("classes") is not None:
            raise spec.error(("data", "classes"), "data.classes filters in-memory sources; for TFDS, choose the classes when preparing the dataset.")
        if section.get("limit") is not None:
            raise spec.error(("data", "limit"), "data.limit cuts in-memory sources; for TFDS, slice the split instead "
                             "(split: 'train[:1000]').")
        if section.get("label_noise"):
            raise spec.error(("data", "label_noise"), "data.label_noise changes in-memory labels; a TFDS source is "
                             "streamed from its files.")
        return _load_tfds(spec, section, batch_size)
    return _from_arrays(spec, section, _arrays(spec, path, source), f"a {kind.name} source", None, batch_size)


def _from_arrays(spec: Spec, section: dict, read: tuple, what: str, given: GivenData | None,
                 batch_size: int | None = None) -> Data:
    """Splits, preparation and pipelines of rows held in memory (a source's or data given in Python)."""
    path = ("data", "source")
    x, y, class_names, given_test = read
    classes = section.get("classes")
    if classes is not None:
        x, y = _keep_classes(spec, x, y, classes)
        given_test = _keep_classes(spec, *given_test, classes) if given_test is not None else None
        class_names = [class_names[c] for c in classes] if class_names is not None else None
    if count_rows(x) == 0:
        raise spec.error(path, "the data source holds no rows.")
    split_seed = section.get("split_seed")
    rng = np.random.default_rng(split_seed if split_seed is not None else spec.seed if spec.seed is not None else 0)
    splits: dict[str, tuple] = {}
    train = (x, y)
    if given_test is not None:
        splits["test"] = given_test
    for name in ("test", "validation"):
        explicit = section.get(name)
        if given is not None and name in given.splits:
            ex, ey, _, _ = _arrays(spec, ("data", name), name, given)
            if classes is not None:
                ex, ey = _keep_classes(spec, ex, ey, classes)
            splits[name] = (ex, ey)
        elif explicit is not None:
            if isinstance(explicit, str):
                raise spec.error(("data", name), f"a split name such as {explicit!r} needs a TFDS source; for {what} give a source mapping or use {name}_split.")
            ex, ey, _, _ = _arrays(spec, ("data", name), explicit)
            if classes is not None:
                ex, ey = _keep_classes(spec, ex, ey, classes)
            splits[name] = (ex, ey)
        elif section.get(f"{name}_split"):
            train, splits[name] = _split(*train, section[f"{name}_split"], rng)
            if count_rows(splits[name][0]) == 0:
                raise spec.error(("data", f"{name}_split"), f"{name}_split={section[f'{name}_split']} of {count_rows(train[0])} rows leaves no {name} rows.")
        if count_rows(train[0]) == 0:
            raise spec.error(("data", f"{name}_split"), f"the split leaves no training rows out of {count_rows(x)}.")
    if section.get("limit"):
        train = (take_rows(train[0], slice(0, section["limit"])), train[1][: section["limit"]])
    if section.get("label_noise"):
        train = (train[0], _noisy_labels(spec, train[1], section["label_noise"], rng))
    splits["train"] = train
    for name, (sx, sy) in splits.items():
        if row_shape(sx) != row_shape(x):
            raise spec.error(("data", name), f"the {name} rows have shape {row_shape(sx)}, the training rows {row_shape(x)}.")
    task, num_classes = infer_task(train[1])
    if task != "regression" and len(np.unique(train[1])) < 2:
        raise spec.error(path, f"every training row has the same label ({_one_label(train[1], class_names)}): a classifier "
                         "has nothing to learn; check the label column (or data.classes, data.limit).")
    info = DataInfo(
        input_shape=row_shape(x),
        task=task,
        num_classes=num_classes,
        output_dim=int(np.prod(train[1].shape[1:])) if task == "regression" else 1,
        sizes={name: count_rows(split[0]) for name, split in splits.items()},
        class_names=class_names,
    )
    settings = _checked_normalize(spec, section)
    if settings:  # statistics of the training rows only (after data.rescale, as the model applies it); per named input
        rescale = section.get("rescale") or 1.0
        try:
            if isinstance(train[0], dict):
                found = {name: input_statistics(np.asarray(array, "float64") * rescale, settings) for name, array in train[0].items()}
                first, second = {n: a for n, (a, _) in found.items()}, {n: b for n, (_, b) in found.items()}
            else:
                first, second = input_statistics(np.asarray(train[0], "float64") * rescale, settings)
        except ValueError as error:
            raise spec.error(("data", "normalize"), str(error)) from None
        if whitens(settings):
            info.whitening = (first, second) if not isinstance(first, dict) else {n: (first[n], second[n]) for n in first}
        else:
            info.mean, info.variance = first, second
    if section.get("scale_targets"):
        _scale_targets(spec, info, train[1])
    size = batch_size or section["batch_size"]
    growing = grows_batches(spec)
    pipelines = {name: _pipeline_from_arrays(split, size, name == "train", section, spec.seed, growing)
                 for name, split in splits.items()}
    return Data(info, pipelines["train"], pipelines.get("validation"), pipelines.get("test"), arrays=splits)


def _one_label(y: np.ndarray, names: list | None) -> str:
    value = int(np.asarray(y).reshape(-1)[0]) if len(y) else None
    return repr(names[value]) if names is not None and value is not None and value < len(names) else repr(value)


def grows_batches(spec: Spec) -> bool:
    """Whether train.callbacks holds a BatchSizeSchedule (which needs its training batches rebuilt at each size)."""
    names = [entry if isinstance(entry, str) else next(iter(entry), "") for entry in (spec.tree.get("train") or {}).get("callbacks") or []
             if isinstance(entry, (str, dict))]
    return any(str(name).split(">")[-1] == "BatchSizeSchedule" for name in names)


def _pipeline_from_arrays(split: tuple, batch_size: int, training: bool, section: dict, seed: int | None,
                          growing: bool = False):
    """tf.data on the TensorFlow backend, an `ArrayBatches` on the others or under a BatchSizeSchedule (see the module)."""
    import keras

    if keras.backend.backend() != "tensorflow" or growing:
        return ArrayBatches(split[0], split[1], batch_size, shuffle=training and bool(section["shuffle"]), seed=seed)
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(split)
    return _finish(dataset, count_rows(split[0]), batch_size, training, section, seed)


def _finish(dataset, size: int | None, batch_size: int, training: bool, section: dict, seed: int | None):
    import tensorflow as tf

    if section["cache"]:
        dataset = dataset.cache()
    shuffle = section["shuffle"]
    if training and shuffle:
        buffer = shuffle if not isinstance(shuffle, bool) else (size or 10_000)
        dataset = dataset.shuffle(min(buffer, 100_000), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _load_tfds(spec: Spec, section: dict, batch_size: int | None) -> Data:
    tf = _tensorflow(spec, ("data", "source", "tfds"), "a TFDS source")
    import tensorflow_datasets as tfds

    import zoo.builders.data.tfds_digits  # noqa: F401 - registers the bundled `zoo_digits` builder

    source = section["source"]
    name = source["tfds"]
    split = source.get("split", "train")
    data_dir = source.get("data_dir")
    path = ("data", "source")
    if section.get("validation_split") or section.get("test_split"):
        raise spec.error(("data", "validation_split"), "for a TFDS source, slice splits instead, e.g. source: {tfds: mnist, split: 'train[:90%]'} and validation: 'train[90%:]'.")
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as error:  # tfds raises DatasetNotFoundError and friends
        known = [n for n in tfds.list_builders() if not n.startswith("_")]
        raise spec.error(path + ("tfds",), f"TFDS has no dataset {name!r} ({type(error).__name__}).", closest(name, known)) from None
    supervised = builder.info.supervised_keys
    input_key, label_key = source.get("input_key"), source.get("label_key")
    if not (input_key and label_key) and not supervised:
        raise spec.error(path, f"TFDS dataset {name!r} has no supervised keys; name them with input_key and label_key.")
    input_key = input_key or supervised[0]
    label_key = label_key or supervised[1]
    try:
        builder.download_and_prepare()
    except Exception as error:
        raise spec.error(path + ("tfds",), f"cannot prepare TFDS dataset {name!r}: {error}") from None
    splits = {"train": split}
    for other in ("validation", "test"):
        if isinstance(section.get(other), str):
            splits[other] = section[other]
        elif section.get(other) is not None:
            raise spec.error(("data", other), f"with a TFDS source, {other} is a split name such as 'test' or 'train[90%:]'.")
    datasets = {}
    for key, split_name in splits.items():
        try:
            ds = builder.as_dataset(split=split_name, shuffle_files=False)
        except Exception as error:
            where = path + ("split",) if key == "train" else ("data", key)
            raise spec.error(where, f"cannot read split {split_name!r} of {name}: {error}") from None
        datasets[key] = ds.map(lambda ex: (ex[input_key], ex[label_key]), num_parallel_calls=tf.data.AUTOTUNE)
    features = builder.info.features
    label_feature = features[label_key]
    x_shape = tuple(features[input_key].shape)
    num_classes = getattr(label_feature, "num_classes", None)
    task = "regression" if num_classes is None else ("binary" if num_classes == 2 else "multiclass")
    sizes = {}
    for key, split_name in splits.items():
        sizes[key] = int(builder.info.splits[split_name].num_examples)
        if sizes[key] == 0:
            where = path + ("split",) if key == "train" else ("data", key)
            raise spec.error(where, f"split {split_name!r} of {name} holds no examples.")
    info = DataInfo(input_shape=x_shape, task=task, num_classes=num_classes, sizes=sizes,
                    class_names=getattr(label_feature, "names", None))
    settings = _checked_normalize(spec, section)
    if settings:  # streamed over the training split, after data.rescale as the model applies it
        rescale = float(section.get("rescale") or 1.0)
        features = datasets["train"].map(lambda x, y: tf.cast(x, "float32") * rescale)
        if settings["method"] == "channel":
            info.mean, info.variance = _feature_statistics(features)
        elif whitens(settings):
            from zoo.layers import whitening_statistics

            info.whitening = whitening_statistics(features.batch(1024).as_numpy_iterator(), settings["method"],
                                                  settings["epsilon"], settings["components"])
        else:
            info.mean, info.variance = _streamed_moments(features.batch(1024).as_numpy_iterator(), settings["method"])
    if section.get("scale_targets"):
        raise spec.error(("data", "scale_targets"), "scale_targets needs an in-memory source (sklearn, csv, parquet, npz, mnist1d).")
    size = batch_size or section["batch_size"]
    pipelines = {k: _finish(ds, sizes[k], size, k == "train", section, spec.seed) for k, ds in datasets.items()}
    return Data(info, pipelines["train"], pipelines.get("validation"), pipelines.get("test"))


def _tensorflow(spec: Spec, path: tuple, feature: str):
    """TensorFlow, or a SpecError at `path` saying which feature needs it."""
    try:
        import tensorflow as tf
    except ImportError:
        raise spec.error(path, f"{feature} needs TensorFlow, which is not installed here (pip install tensorflow); "
                         "in-memory sources (sklearn, csv, parquet, npz, mnist1d) need none.") from None
    return tf


def _streamed_moments(batches, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance per value of a row ("feature") or over everything ("global"), in float64."""
    count, total, squares = 0, 0.0, 0.0
    for batch in batches:
        values = np.asarray(batch, "float64")
        if method == "global":
            values = values.reshape(-1)
        count += len(values)
        total = total + values.sum(axis=0)
        squares = squares + np.square(values).sum(axis=0)
    mean = total / count
    return np.asarray(mean), np.asarray(np.maximum(squares / count - np.square(mean), 0.0))


def _feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance over all axes but the last, streamed (the training split only)."""
    import keras

    layer = keras.layers.Normalization(axis=-1)
    layer.adapt(features.batch(1024))
    return np.asarray(layer.mean).reshape(-1), np.asarray(layer.variance).reshape(-1)
