"""Using a finished run: its model loaded, evaluated on data, and asked for predictions on new rows
read as training read its data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo.batches import map_batches
from zoo.builders.data.load import load_data, read_inputs, row_shape
from zoo.builders.run.model import reconstructs
from zoo.builders.run.saved import check_rows, load_run
from zoo.builders.spec.document import load_spec
from zoo.builders.spec.errors import RunError, SpecError

__all__ = ["evaluate", "predict", "class_names"]


def evaluate(run_dir: str | Path, data_source: dict | None = None) -> dict:
    """Metrics of a finished run's model on its test split (else validation), or on `data_source`."""
    spec, model, _ = load_run(run_dir)
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
    check_rows(model, data.info.input_shape, "the data")
    if reconstructs(spec):
        dataset = map_batches(dataset, lambda x, y: (x, x))
    results = model.evaluate(dataset, verbose=0, return_dict=True)
    return {"split": split, **{k: float(v) for k, v in results.items()}}


def class_names(run_dir: str | Path) -> list | None:
    """The names of a finished run's classes, when its training data had them."""
    return load_run(run_dir)[2].get("class_names")


def predict(run_dir: str | Path, inputs: str | Path, allow_nan: bool = False) -> np.ndarray:
    """Predictions of a finished run's model for the rows of a .npy, .npz (key `x`), .csv or .parquet file,
    read as training read its data.

    Raises:
        RunError: unreadable or empty input, rows of the wrong shape, NaN or infinite values
            (unless `allow_nan`).
    """
    _, model, facts = load_run(run_dir)
    x = read_inputs(inputs, features=facts.get("features"), label=facts.get("label"), keys=facts.get("x"))
    check_rows(model, row_shape(x), str(inputs))
    for array in (x.values() if isinstance(x, dict) else [x]):
        if not allow_nan and not np.isfinite(array).all():
            bad = int(np.argwhere(~np.isfinite(array).reshape(len(array), -1).all(axis=1))[0][0])
            raise RunError(f"{inputs}: row {bad + 1} holds NaN or infinite values; fix the data, or pass --allow-nan "
                           "to predict anyway.")
    return model.predict(x, verbose=0)
