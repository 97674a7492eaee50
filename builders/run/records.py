"""What a run records about itself besides its results: where and how it ran (run.json), its spec and
final metrics as TensorBoard hparams, its per-class report and confusion matrices, and MODEL_CARD.md.

    run.json                  the command line, the start time, versions (Python, Keras, the backend,
                              TensorFlow/JAX, KerasTuner, keras-zoo), the devices, the git revision of the
                              spec's folder; each resume adds the command and time it continued with
    logs/ (hparams)           the flattened spec and the final metrics, for TensorBoard's HParams tab
    classes_<split>.csv       per-class precision, recall, F1 and support (classification runs)
    confusion_<split>.png     the confusion matrix of the validation and test splits (classification runs)
    MODEL_CARD.md             the spec, the data and its splits, metrics, versions, and the intended-use
                              fields left for the model's owner
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from zoo.builders.run.files import write_json, write_text

__all__ = ["environment", "git_revision", "write_run_record", "flat_spec", "write_hparams", "classification_report",
           "write_model_card"]

PACKAGES = ("keras", "tensorflow", "jax", "torch", "keras-tuner", "keras-zoo", "numpy")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def environment() -> dict[str, Any]:
    """Versions of Python and of the packages a run depends on (read from their metadata: nothing is
    imported for it), Keras's backend and the devices it sees."""
    import keras

    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return {"versions": versions, "backend": keras.backend.backend(), "devices": _devices(),
            "platform": platform.platform(), "cpu_count": os.cpu_count()}


def _devices() -> list[str]:
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            return [f"{d.platform}:{d.id} {getattr(d, 'device_kind', '')}".strip() for d in jax.devices()]
        if backend == "tensorflow":
            import tensorflow as tf

            return [d.name.replace("/physical_device:", "") for d in tf.config.list_physical_devices()]
        if backend == "torch":
            import torch

            return [f"cuda:{i} {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())] or ["cpu"]
    except Exception as error:  # a device query is a record, never a reason for the run to fail
        return [f"unknown ({type(error).__name__})"]
    return ["cpu"]


def git_revision(folder: Path) -> dict[str, Any] | None:
    """The git commit of the repository holding `folder` and whether its tracked files have changes;
    None outside a repository or without git."""
    def git(*arguments: str) -> str:
        return subprocess.run(["git", "-C", str(folder), *arguments], capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty, "folder": str(folder.resolve())}


def _command() -> str:
    argv = list(sys.argv)
    if argv and Path(argv[0]).name in ("zoo", "cli.py", "__main__.py"):
        return " ".join(["zoo", *argv[1:]])
    return " ".join(argv) or "python"


def write_run_record(run_dir: Path, spec_source: str, resumed: bool = False) -> None:
    """run.json: written when a run starts; a resume adds its command and time to `resumed`."""
    import json

    path = run_dir / "run.json"
    record: dict[str, Any] = {}
    if path.exists():
        with contextlib.suppress(OSError, ValueError):
            loaded = json.loads(path.read_text())
            record = loaded if isinstance(loaded, dict) else {}
    if record and resumed:
        record.setdefault("resumed", []).append({"at": _now(), "command": _command(), "environment": environment()})
    elif not record:
        folder = Path(spec_source).parent if spec_source not in ("<string>", "<dict>") else Path.cwd()
        record = {"command": _command(), "started": _now(), "spec_source": spec_source, **environment(),
                  "git": git_revision(folder if folder.is_dir() else Path.cwd())}
    else:
        return
    write_json(path, record)


def flat_spec(tree: Any, prefix: str = "") -> dict[str, Any]:
    """The spec as dotted paths to scalars (`train.optimizer.Adam.learning_rate: 0.001`); lists by index."""
    flat: dict[str, Any] = {}
    if isinstance(tree, dict):
        for key, value in tree.items():
            flat.update(flat_spec(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(tree, (list, tuple)):
        for index, value in enumerate(tree):
            flat.update(flat_spec(value, f"{prefix}[{index}]"))
    else:
        flat[prefix] = tree
    return flat


def write_hparams(log_dir: Path, tree: dict, metrics: dict, run_name: str) -> bool:
    """The flattened spec as TensorBoard hparams and the final metrics as scalars in the same run, so
    TensorBoard's HParams tab compares `zoo train` runs as it does tuning trials. False without TensorFlow."""
    try:
        import tensorflow as tf
        from tensorboard.plugins.hparams import api as hparams_api
    except ImportError:
        return False
    values = {}
    for key, value in flat_spec(tree).items():
        if isinstance(value, bool) or isinstance(value, (int, float)) and math.isfinite(value):
            values[key] = value
        elif value is not None:
            values[key] = str(value)
    scalars = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
               and k.startswith(("final_", "best_", "test_")) and math.isfinite(v)}
    with tf.device("/cpu:0"):
        writer = tf.summary.create_file_writer(str(log_dir))
        with writer.as_default():
            hparams_api.hparams(values, trial_id=run_name)
            for key, value in scalars.items():
                tf.summary.scalar(key, value, step=0)
        writer.close()
    return True


# -- classification ----------------------------------------------------------------------------


def _labels_and_predictions(model, batches, arrays: tuple | None) -> tuple[np.ndarray, np.ndarray] | None:
    """(true labels, predicted classes) of a split; None when the model's output is not one array."""
    if arrays is not None:
        x, y = arrays
        outputs = model.predict(x, verbose=0, batch_size=256)
        truth = np.asarray(y)
    else:
        truths, predictions = [], []
        iterator = batches.as_numpy_iterator() if hasattr(batches, "as_numpy_iterator") else (batches[i] for i in range(len(batches)))
        for x, y in iterator:
            predictions.append(np.asarray(model.predict_on_batch(x)))
            truths.append(np.asarray(y))
        if not predictions:
            return None
        outputs, truth = np.concatenate(predictions), np.concatenate(truths)
    if not isinstance(outputs, np.ndarray):
        return None
    outputs = outputs.reshape(len(outputs), -1)
    predicted = (outputs[:, 0] > 0.5).astype("int64") if outputs.shape[1] == 1 else outputs.argmax(axis=1)
    truth = truth.reshape(len(truth), -1)
    truth = truth.argmax(axis=1) if truth.shape[1] > 1 else truth[:, 0]
    return truth.astype("int64"), predicted


def _spans_processes() -> bool:
    """A distribution over several processes: each holds only its share of a prediction, which cannot be
    gathered here, so the per-class report is left out (metrics.json has the evaluated metrics)."""
    import keras

    if keras.backend.backend() != "jax" or keras.distribution.distribution() is None:
        return False
    import jax

    return jax.process_count() > 1


def classification_report(model, data, run_dir: Path, plots: bool) -> dict[str, Any]:
    """For a classification run, per split (validation, test): classes_<split>.csv (precision, recall,
    F1, support per class) and confusion_<split>.png; returns {split: {"matrix", "classes", "accuracy"}}."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    info = data.info
    if info.task not in ("binary", "multiclass") or _spans_processes():
        return {}
    count = info.num_classes or 2
    names = [str(n) for n in info.class_names] if info.class_names and len(info.class_names) == count else [str(i) for i in range(count)]
    report: dict[str, Any] = {}
    for split in ("validation", "test"):
        batches = getattr(data, split)
        if batches is None:
            continue
        import keras

        # Under a distribution each batch must split evenly over the devices: its batches are trimmed so.
        arrays = data.arrays.get(split) if keras.distribution.distribution() is None else None
        found = _labels_and_predictions(model, batches, arrays)
        if found is None:
            continue
        truth, predicted = found
        labels = list(range(count))
        matrix = confusion_matrix(truth, predicted, labels=labels)
        precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
        rows = ["class,name,precision,recall,f1,support"]
        classes = []
        for index in labels:
            classes.append({"class": index, "name": names[index], "precision": float(precision[index]),
                            "recall": float(recall[index]), "f1": float(f1[index]), "support": int(support[index])})
            rows.append(f"{index},{names[index]},{precision[index]:.4f},{recall[index]:.4f},{f1[index]:.4f},{support[index]}")
        write_text(run_dir / f"classes_{split}.csv", "\n".join(rows) + "\n")
        report[split] = {"matrix": matrix.tolist(), "classes": classes, "accuracy": float(np.trace(matrix) / max(matrix.sum(), 1))}
        if plots:
            from zoo.builders.run.plots import plot_confusion

            plot_confusion(matrix, names, f"{split} ({matrix.sum()} rows, accuracy {report[split]['accuracy']:.3f})",
                           run_dir / f"confusion_{split}.png")
    return report


# -- the model card ----------------------------------------------------------------------------


def write_model_card(run_dir: Path, spec, model, data, metrics: dict, classes: dict) -> None:
    """MODEL_CARD.md: what the run was and measured, and the fields only its owner can fill in."""
    import json

    info = data.info
    record = {}
    with contextlib.suppress(OSError, ValueError):
        record = json.loads((run_dir / "run.json").read_text())
    versions = record.get("versions", {})
    source = spec.tree.get("data", {}).get("source")
    lines = [f"# Model card: {spec.name}", ""]
    if spec.tree.get("description"):
        lines += [str(spec.tree["description"]), ""]
    lines += [
        f"Trained by `{record.get('command', 'keras-zoo')}` on {record.get('started', _now())} "
        f"(keras-zoo {versions.get('keras-zoo', '?')}, Keras {versions.get('keras', '?')} on {record.get('backend', '?')}, "
        f"Python {versions.get('python', '?')}; devices: {', '.join(record.get('devices', [])) or '?'}).",
        "",
        "## Intended use",
        "",
        "- Primary intended uses: _to be filled in by the model's owner_",
        "- Primary intended users: _to be filled in by the model's owner_",
        "- Out-of-scope uses: _to be filled in by the model's owner_",
        "",
        "## Data",
        "",
        f"- Source: `{json.dumps(source, default=str)}`" if source else "- Source: data given in Python (`given_data.json` "
        "holds each split's fingerprint)",
        f"- Task: {info.task}" + (f", {info.num_classes} classes" if info.num_classes else ""),
        f"- Input shape: {list(info.input_shape) if not isinstance(info.input_shape, dict) else info.input_shape}",
        "- Rows per split: " + ", ".join(f"{k} {v}" for k, v in info.sizes.items()),
    ]
    if info.class_names:
        lines.append(f"- Classes: {', '.join(map(str, info.class_names))}")
    lines += ["", "## Model", "", f"- {len(model.layers)} layers, {model.count_params():,} parameters",
              f"- Trained for {metrics.get('epochs_run')} epochs in {metrics.get('wall_time_s')} s; best epoch "
              f"{metrics.get('best_epoch')} by {metrics.get('monitor')}", "", "## Metrics", "",
              "| metric | final | best |", "| --- | --- | --- |"]
    for key in sorted(k for k in metrics if k.startswith("final_")):
        name = key[len("final_"):]
        best = metrics.get(f"best_{name}")
        lines.append(f"| {name} | {metrics[key]:.4f} | {'' if best is None else f'{best:.4f}'} |")
    tests = {k: v for k, v in metrics.items() if k.startswith("test_")}
    if tests:
        lines += ["", "On the test split:", "", "| metric | value |", "| --- | --- |"]
        lines += [f"| {k[len('test_'):]} | {v:.4f} |" for k, v in tests.items()]
    else:
        lines += ["", "There is no test split: the figures above are training and validation figures."]
    for split, found in classes.items():
        lines += ["", f"Per class, {split} split:", "", "| class | precision | recall | F1 | support |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| {c['name']} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |" for c in found["classes"]]
    lines += ["", "## Limitations and ethical considerations", "",
              "- Known limitations: _to be filled in by the model's owner_",
              "- Ethical considerations: _to be filled in by the model's owner_", "",
              "## Versions", "", *[f"- {k}: {v}" for k, v in versions.items()]]
    if record.get("git"):
        git = record["git"]
        lines.append(f"- spec's repository: {git['commit']}{' (with uncommitted changes)' if git.get('dirty') else ''}")
    lines += ["", "## Spec", "", "```yaml", spec.to_yaml().rstrip(), "```", ""]
    write_text(run_dir / "MODEL_CARD.md", "\n".join(lines))
