"""`zoo export RUN_DIR --format saved_model|tflite|onnx --output PATH`: a finished run's model for serving.

Each format is written by Keras's own `Model.export` (SavedModel, LiteRT/TFLite through TensorFlow's
converter, ONNX through tf2onnx on the TensorFlow backend: `pip install keras-zoo[onnx]`), into a
temporary path beside the output, then checked before it is moved into place: the artefact is loaded
with its own runtime (`tf.saved_model.load`, the TFLite interpreter, onnxruntime) and its predictions on
real rows of the run's data are compared with the Keras model's. MODEL_CARD.md goes beside the artefact.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from zoo.builders.spec.errors import RunError

__all__ = ["FORMATS", "export_run"]

FORMATS = {"saved_model": "tf_saved_model", "tflite": "litert", "onnx": "onnx"}
TOLERANCE = 1e-4  # largest absolute difference between the artefact's and Keras's predictions


def _sample_rows(run_dir: Path, count: int = 64) -> np.ndarray:
    """Real rows of the run's own data (its validation, test or training split, as it was fed)."""
    from zoo.batches import first_batch
    from zoo.builders.data.load import load_data
    from zoo.builders.spec.document import load_spec

    spec = load_spec(run_dir / "spec.yaml").resolved()
    data = load_data(spec, batch_size=count)
    for split in ("test", "validation", "train"):
        if split in data.arrays:
            return np.asarray(data.arrays[split][0][:count], dtype="float32")
    for split in (data.test, data.validation, data.train):
        if split is not None:  # a streamed (TFDS) source: its first batch
            return np.asarray(first_batch(split)[0], dtype="float32")
    raise RunError(f"{run_dir}: the run's data has no rows to check the export with.")


def _requires_tensorflow(form: str):
    try:
        import tensorflow as tf
    except ImportError:
        raise RunError(f"exporting to {form} needs TensorFlow (pip install tensorflow); this environment runs "
                       "Keras without it.") from None
    return tf


def _check_saved_model(path: Path, rows: np.ndarray) -> np.ndarray:
    tf = _requires_tensorflow("saved_model")
    loaded = tf.saved_model.load(str(path))
    return np.asarray(loaded.serve(tf.constant(rows)))


def _check_tflite(path: Path, rows: np.ndarray) -> np.ndarray:
    tf = _requires_tensorflow("tflite")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's notice that ai-edge-litert replaces it
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            Interpreter = tf.lite.Interpreter
        interpreter = Interpreter(model_path=str(path))
    entry = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(entry["index"], list(rows.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(entry["index"], rows.astype(entry["dtype"]))
    interpreter.invoke()
    return np.asarray(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))


def _check_onnx(path: Path, rows: np.ndarray) -> np.ndarray:
    try:
        import onnxruntime
    except ImportError:
        raise RunError("checking an ONNX export needs onnxruntime: pip install 'keras-zoo[onnx]'.") from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {session.get_inputs()[0].name: rows})[0])


CHECKS = {"saved_model": _check_saved_model, "tflite": _check_tflite, "onnx": _check_onnx}


def export_run(run_dir: str | Path, form: str, output: str | Path) -> dict[str, Any]:
    """Export a finished run's model; returns {"output", "format", "rows_checked", "max_abs_difference"}.

    Raises:
        RunError: an unknown format, an output that exists, a run that is not finished, a missing
            converter, or an artefact whose predictions differ from the model's.
    """
    from zoo.builders.run.saved import load_run

    import keras

    if form not in FORMATS:
        raise RunError(f"unknown format {form!r}; the formats are {', '.join(FORMATS)}.")
    run_dir, output = Path(run_dir), Path(output)
    suffix = {"tflite": ".tflite", "onnx": ".onnx"}.get(form)
    if suffix and output.suffix.lower() != suffix:
        raise RunError(f"--output {output}: a {form} file's name ends in {suffix}.")
    if output.exists() or output.is_symlink():
        raise RunError(f"{output} exists; choose a new path (an export never replaces a file or folder).")
    if not output.parent.is_dir():
        raise RunError(f"{output.parent} is not a folder; create it first.")
    _, model, _ = load_run(run_dir)
    if form == "onnx":
        missing = [m for m in ("tf2onnx", "onnx") if _missing(m)]
        if missing:
            raise RunError(f"ONNX export needs {' and '.join(missing)}: pip install 'keras-zoo[onnx]'.")
    if form in ("saved_model", "tflite") or keras.backend.backend() == "tensorflow":
        _requires_tensorflow(form)
    rows = _sample_rows(run_dir)
    expected = np.asarray(model.predict(rows, verbose=0))
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        artefact = staging / output.name
        with _quiet(), _normalization_as_variables(model, form):
            model.export(str(artefact), format=FORMATS[form], verbose=False)
        try:
            with _quiet():
                found = CHECKS[form](artefact, rows)
        except RunError:
            raise
        except Exception as error:  # the runtime's own words for an artefact it cannot run
            raise RunError(f"the {form} export cannot be run by its runtime ({type(error).__name__}: "
                           f"{str(error).strip().splitlines()[0] if str(error).strip() else ''}); nothing was written.") from None
        difference = float(np.max(np.abs(found.reshape(expected.shape) - expected))) if found.size == expected.size else float("inf")
        if not difference <= TOLERANCE:
            raise RunError(f"the {form} export's predictions differ from the Keras model's by {difference:.3g} "
                           f"(more than {TOLERANCE}); nothing was written.")
        os.replace(artefact, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    card = run_dir / "MODEL_CARD.md"
    if card.is_file():
        beside = (output if output.is_dir() else output.parent) / (
            "MODEL_CARD.md" if output.is_dir() else f"{output.stem}.MODEL_CARD.md")
        if not beside.exists():
            shutil.copyfile(card, beside)
    return {"output": str(output), "format": form, "rows_checked": int(len(rows)), "max_abs_difference": difference}


@contextlib.contextmanager
def _normalization_as_variables(model, form: str):
    """For ONNX on TensorFlow: a Normalization layer holds its mean and variance as constant tensors, which
    tf2onnx turns into extra graph inputs instead of weights; as variables for the export, they are frozen
    into the graph as constants. Put back afterwards."""
    import keras

    from zoo._keras import all_layers

    swapped = []
    if form == "onnx" and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        for layer in all_layers(model):
            if isinstance(layer, keras.layers.Normalization) and getattr(layer, "mean", None) is not None:
                swapped.append((layer, layer.mean, layer.variance))
                layer.mean = tf.Variable(layer.mean, trainable=False)
                layer.variance = tf.Variable(layer.variance, trainable=False)
    try:
        yield
    finally:
        for layer, mean, variance in swapped:
            layer.mean, layer.variance = mean, variance


def _missing(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is None


@contextlib.contextmanager
def _quiet():
    """The converters' warnings (tf2onnx's NumPy notices, TensorFlow's tracing notes) stay off the console."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
