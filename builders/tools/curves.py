"""`zoo learning-curve SPEC --sizes ...`: training and validation error against the training set's size.

Each size trains the spec afresh (same seed, same validation rows, the spec's epochs and callbacks) on the
first N training rows (`data.limit`), then measures the error on those rows and on the validation rows in
inference mode. The reading at the largest size is `bias_variance_verdict`'s; the trend says whether more
data of this kind is still buying validation error (Ng's learning-curve diagnosis).

    zoo learning-curve specs/digits_mlp.yaml --sizes 100 300 600 1000
    zoo learning-curve specs/digits_mlp.yaml --sizes 0.1 0.3 1.0 train.epochs=10
"""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import Any, Sequence

import keras

from zoo.builders.run.files import write_json, write_text
from zoo.builders.run.plan import build_plan
from zoo.builders.spec.document import Spec, load_spec
from zoo.builders.spec.errors import RunError
from zoo.callbacks import bias_variance_verdict

__all__ = ["learning_curve", "format_curve", "DEFAULT_FRACTIONS"]

DEFAULT_FRACTIONS = (0.1, 0.2, 0.4, 0.7, 1.0)


def _sizes(sizes: Sequence[float] | None, rows: int) -> list[int]:
    """Row counts from the given sizes: integers are rows, numbers in (0, 1] are fractions of the training rows."""
    given = list(sizes) if sizes else list(DEFAULT_FRACTIONS)
    counts = []
    for size in given:
        if isinstance(size, bool) or not isinstance(size, (int, float)) or not math.isfinite(size) or size <= 0:
            raise RunError(f"--sizes takes row counts or fractions in (0, 1]; got {size!r}.")
        if isinstance(size, float) and size <= 1.0:
            count = max(1, int(round(size * rows)))
        elif float(size) != int(size):
            raise RunError(f"--sizes: {size!r} is neither a whole number of rows nor a fraction in (0, 1].")
        else:
            count = int(size)
        if count > rows:
            raise RunError(f"--sizes: {count} rows asked for, but the spec's training split holds {rows}.")
        counts.append(count)
    if len(set(counts)) != len(counts):
        raise RunError(f"--sizes gives the same row count twice: {counts}.")
    if len(counts) < 2:
        raise RunError("a learning curve needs at least two sizes.")
    return sorted(counts)


def learning_curve(spec: Spec | str | Path, overrides: Sequence[str] = (), sizes: Sequence[float] | None = None,
                   directory: str | Path | None = None, baseline_error: float = 0.0, tolerance: float = 0.02) -> dict[str, Any]:
    """Train the spec on growing subsets of its training rows; the errors, the reading and a PNG in `directory`.

    Returns:
        {"sizes", "train_error", "validation_error", "error", "verdict" (at the largest size), "trend", "directory"}
    """
    from zoo.builders.tools.doctor import tool_dir

    if not isinstance(spec, Spec):
        spec = load_spec(spec, overrides)
    if "tfds" in (spec.get("data", "source") or {}):
        raise spec.error(("data", "source"), "a learning curve subsets in-memory sources (data.limit); for TFDS, "
                         "prepare the subsets as splits (train[:N]) and train each.")
    if spec.get("data", "limit"):
        raise spec.error(("data", "limit"), "the learning curve sets data.limit itself; remove it from the spec.")
    full = build_plan(spec)
    if full.data.validation is None:
        raise spec.error(("data",), "a learning curve needs validation rows: add data.validation_split or data.validation.")
    counts = _sizes(sizes, int(full.data.info.sizes["train"]))
    del full
    with tool_dir(spec, "learning-curve", directory) as owned:
        return _curve(spec, counts, owned.path, baseline_error, tolerance)


def _curve(spec: Spec, counts: list[int], path: Path, baseline_error: float, tolerance: float) -> dict[str, Any]:
    from zoo.builders.run.plots import plot_learning_curve
    from zoo.builders.tools.doctor import model_error  # 1 - accuracy where there is one, else the loss; inference mode

    train_errors, validation_errors, times, unit = [], [], [], "loss"
    for count in counts:
        started = time.perf_counter()
        keras.backend.clear_session()
        tree = copy.deepcopy(spec.tree)
        tree["data"]["limit"] = count
        plan = build_plan(spec.replace(tree))
        plan.fit(verbose=0)
        train_error, unit = model_error(plan.model, plan.data.train)
        validation_error, _ = model_error(plan.model, plan.data.validation)
        train_errors.append(train_error)
        validation_errors.append(validation_error)
        times.append(round(time.perf_counter() - started, 2))
    verdict = bias_variance_verdict(train_errors[-1], validation_errors[-1], baseline_error, tolerance)
    gain = validation_errors[-2] - validation_errors[-1]  # "falling": by a tenth of itself, or by half the tolerance
    trend = (f"validation error still falling ({validation_errors[-2]:.4f} at {counts[-2]} rows, {validation_errors[-1]:.4f} "
             f"at {counts[-1]}): more data of this kind should help" if gain > min(tolerance / 2, 0.1 * validation_errors[-2]) else
             f"validation error flat over the last sizes ({validation_errors[-2]:.4f}, {validation_errors[-1]:.4f}): more "
             "data of this kind will help little; change the model or the features")
    result = {"spec": spec.name, "sizes": counts, "train_error": train_errors, "validation_error": validation_errors,
              "error": unit, "wall_time_s": times, "verdict": verdict, "trend": trend, "directory": str(path)}
    write_json(path / "learning_curve.json", result)
    plot_learning_curve(result, path / "learning_curve.png")
    write_text(path / "learning_curve.txt", format_curve(result) + "\n")
    return result


def format_curve(result: dict[str, Any]) -> str:
    lines = [f"learning curve: {result['spec']} ({result['error']}, inference mode)", "",
             f"{'rows':>8}  {'train':>8}  {'validation':>10}  {'time':>7}"]
    for count, train, validation, seconds in zip(result["sizes"], result["train_error"], result["validation_error"],
                                                 result["wall_time_s"]):
        lines.append(f"{count:>8}  {train:>8.4f}  {validation:>10.4f}  {seconds:>6.1f}s")
    verdict = result["verdict"]
    lines += ["", f"at {result['sizes'][-1]} rows: {verdict['verdict']} (avoidable bias {verdict['avoidable_bias']:.4f}, "
                  f"variance {verdict['variance']:.4f}); remedies: {verdict['remedies']}", result["trend"]]
    return "\n".join(lines)
