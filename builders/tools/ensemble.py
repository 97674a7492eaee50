"""`zoo ensemble MEMBER...`: the averaged predictions of finished runs (several seeds, say) or of snapshot
checkpoints, scored next to each member on the same held-out rows.

A member is a run directory (its `model.keras`) or a `.keras` file inside one (a checkpoint: its run's spec
says what the data is). Classifiers average their predicted probabilities, regressors their predictions.
Every member must be scored on the same rows: the runs' test split (else validation) must hold identical rows
(runs whose seeds split the data differently do not: vary `seed` with one `data.split_seed`), or `--data`
names other rows.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from zoo.builders.data.load import load_data
from zoo.builders.run.model import reconstructs
from zoo.builders.run.saved import COMPLETE_MARKER, check_rows, load_model_file
from zoo.builders.spec.document import load_spec
from zoo.builders.spec.errors import RunError

__all__ = ["ensemble", "format_ensemble"]


def _member(path: Path):
    """(label, spec, model) of a run directory or of a .keras file inside one."""
    run_dir, model_path = (path, path / "model.keras") if path.is_dir() else (path.parent, path)
    if path.suffix not in ("", ".keras") or not model_path.is_file():
        raise RunError(f"{path} is neither a finished run directory nor a .keras file.")
    if not (run_dir / "spec.yaml").is_file():
        raise RunError(f"{path}: {run_dir} holds no spec.yaml, so the data it was trained on is unknown.")
    if model_path.name == "model.keras" and not (run_dir / COMPLETE_MARKER).is_file():
        raise RunError(f"{run_dir} holds no finished run (no {COMPLETE_MARKER}).")
    return str(path), load_spec(run_dir / "spec.yaml").resolved(), load_model_file(model_path)


def _rows(spec, data_source: dict | None) -> tuple[str, np.ndarray, np.ndarray, str]:
    """The held-out rows (split name, x, y, task) a member is scored on."""
    if data_source is not None:
        tree = {key: value for key, value in spec.tree.items() if key not in ("data", "pretrain", "transfer", "tune")}
        tree["data"] = {"batch_size": spec.tree["data"]["batch_size"], "source": data_source}
        spec = load_spec(tree).resolved()
    if not spec.get("data", "source"):
        raise RunError("a run trained on data given in Python cannot reload its data; pass --data.")
    data = load_data(spec)
    split = "train" if data_source is not None else "test" if data.test is not None else "validation"
    if split not in data.arrays:
        raise RunError(f"the runs' spec has no {split} rows held in memory to score on; pass --data.")
    x, y = data.arrays[split]
    return ("data" if data_source is not None else split), x, y, data.info.task


def _fingerprint(x, y) -> str:
    digest = hashlib.sha256()
    for array in ([x[k] for k in sorted(x)] if isinstance(x, dict) else [x]) + [y]:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _scores(task: str, predictions: np.ndarray, y: np.ndarray) -> dict[str, float]:
    if task == "regression":
        error = predictions.reshape(len(y), -1) - np.asarray(y, "float64").reshape(len(y), -1)
        return {"mse": float(np.mean(error ** 2)), "mae": float(np.mean(np.abs(error)))}
    labels = np.asarray(y).reshape(-1).astype(int)
    if task == "binary":
        p = np.clip(predictions.reshape(-1), 1e-7, 1 - 1e-7)
        return {"accuracy": float(np.mean((p > 0.5) == labels)),
                "log_loss": float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))}
    p = np.clip(predictions, 1e-7, 1.0)
    return {"accuracy": float(np.mean(np.argmax(p, axis=1) == labels)),
            "log_loss": float(-np.mean(np.log(p[np.arange(len(labels)), labels])))}


def ensemble(members: Sequence[str | Path], data_source: dict | None = None) -> dict[str, Any]:
    """Score each member and their average on the same held-out rows.

    Returns:
        {"split", "rows", "task", "members": [{"member", scores...}], "ensemble": {scores...}}
    """
    paths = [Path(m) for m in members]
    if len(paths) < 2:
        raise RunError("an ensemble needs at least two members.")
    if len({p.resolve() for p in paths}) != len(paths):
        raise RunError("a member is named twice.")
    loaded = [_member(p) for p in paths]
    split, x, y, task = _rows(loaded[0][1], data_source)
    if reconstructs(loaded[0][1]):
        raise RunError("ensembles average classifiers and regressors; these runs reconstruct their inputs.")
    reference = _fingerprint(x, y)
    for label, spec, _ in loaded[1:]:
        _, other_x, other_y, _ = _rows(spec, data_source)
        if _fingerprint(other_x, other_y) != reference:
            raise RunError(f"{label} holds out other {split} rows than {loaded[0][0]} (a different seed splits the data "
                           "differently, so its rows may be another member's training rows): train the members with "
                           "one data.split_seed, or pass --data with rows no member trained on.")
    predictions, rows = [], []
    for label, _, model in loaded:
        check_rows(model, tuple(x.shape[1:]) if not isinstance(x, dict) else {k: v.shape[1:] for k, v in x.items()}, label)
        predicted = np.asarray(model.predict(x, verbose=0), "float64")
        if predictions and predicted.shape != predictions[0].shape:
            raise RunError(f"{label} predicts shape {predicted.shape[1:]}, {loaded[0][0]} {predictions[0].shape[1:]}.")
        predictions.append(predicted)
        rows.append({"member": label, **_scores(task, predicted, y)})
    return {"split": split, "rows": int(len(y)), "task": task, "members": rows,
            "ensemble": _scores(task, np.mean(predictions, axis=0), y)}


def format_ensemble(result: dict[str, Any]) -> str:
    names = [k for k in result["ensemble"]]
    width = max(len(r["member"]) for r in result["members"]) + 2
    lines = [f"ensemble of {len(result['members'])} on {result['rows']} {result['split']} rows ({result['task']})", "",
             f"{'member':<{width}}" + "".join(f"{n:>12}" for n in names)]
    for row in result["members"]:
        lines.append(f"{row['member']:<{width}}" + "".join(f"{row[n]:>12.4f}" for n in names))
    lines.append(f"{'ensemble':<{width}}" + "".join(f"{result['ensemble'][n]:>12.4f}" for n in names))
    return "\n".join(lines)
