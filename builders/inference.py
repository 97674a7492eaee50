"""Using a finished run: its model loaded, evaluated on data, and asked for predictions on new rows
read as training read its data."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np

from zoo.batches import map_batches
from zoo.builders.data import load_data, read_inputs, row_shape
from zoo.builders.errors import RunError, SpecError
from zoo.builders.model import reconstructs
from zoo.builders.spec import Spec, load_spec

__all__ = ["load_model", "evaluate", "predict", "class_names"]

COMPLETE_MARKER = "metrics.json"


def load_model(path: str | Path) -> keras.Model:
    """A saved model (`model.keras`, or a run directory holding one), zoo classes registered, in safe mode."""
    path = Path(path)
    return load_model_file(path / "model.keras" if path.is_dir() else path)


def load_model_file(path: Path) -> keras.Model:
    from zoo.builders.resolve import load_project_classes

    load_project_classes()  # registers the project's classes for loading
    if not path.is_file():
        raise RunError(f"{path} is missing: the run did not finish; resume it with zoo train --resume {path.parent}.")
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as error:  # zip, h5 and config errors all mean the same thing to a user
        raise RunError(f"{path} cannot be loaded ({type(error).__name__}): it is damaged or truncated; "
                       "train the run again in a new directory.") from None


def load_run(run_dir: str | Path) -> tuple[Spec, keras.Model, dict]:
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
    return spec, load_model_file(run_dir / "model.keras"), facts if isinstance(facts, dict) else {}


def check_rows(model: keras.Model, shape, where: str) -> None:
    """Rows of `shape` (a tuple, or {input name: tuple} for named inputs) fit the model's inputs."""
    if isinstance(shape, dict) or len(model.inputs) > 1:
        expected = {t.name: tuple(t.shape[1:]) for t in model.inputs}
        found = {k: tuple(v) for k, v in shape.items()} if isinstance(shape, dict) else shape
        if found != expected:
            raise RunError(f"{where}: rows have shape {found}, the model's named inputs expect {expected}.")
        return
    expected = tuple(model.input_shape[1:])
    if tuple(shape) != expected:
        raise RunError(f"{where}: rows have shape {tuple(shape)}, the model expects {expected}.")


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
