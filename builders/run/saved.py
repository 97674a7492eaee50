"""A finished run read back: its model (safe mode, zoo classes registered), its concrete spec and data facts."""

from __future__ import annotations

import json
from pathlib import Path

import keras

from zoo.builders.spec.document import Spec, load_spec
from zoo.builders.spec.errors import RunError

__all__ = ["COMPLETE_MARKER", "load_model", "load_model_file", "load_run", "check_rows"]

COMPLETE_MARKER = "metrics.json"


def load_model(path: str | Path) -> keras.Model:
    """A saved model (`model.keras`, or a run directory holding one), zoo classes registered, in safe mode."""
    path = Path(path)
    return load_model_file(path / "model.keras" if path.is_dir() else path)


def load_model_file(path: Path) -> keras.Model:
    from zoo.builders.spec.resolve import load_project_classes

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
