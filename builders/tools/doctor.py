"""`zoo doctor SPEC` and `zoo lr-find SPEC`: look at a spec's model before spending hours on it.

The doctor runs the classic checks in order and writes `doctor.txt` (the
report it prints), `doctor.json` and plots into a run directory:

1. initial loss against ln(number of classes);
2. overfitting one small batch with regularization off, then on;
3. per-layer gradient norms, activation statistics (dead ReLUs, saturated
   sigmoids) and weight statistics at initialization;
4. the same after `--epochs` epochs of ordinary training;
5. the train / validation errors then, against `--baseline-error`: a
   bias / variance verdict with its remedies.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import keras

from zoo._keras import learning_rate_object
from zoo.batches import num_batches
from zoo.builders.run.files import write_json, write_text
from zoo.builders.run.model import reconstructs
from zoo.builders.run.plan import RunPlan, build_plan
from zoo.builders.run.plots import plot_doctor
from zoo.builders.run.rundir import OwnedDirectory
from zoo.builders.spec.document import Spec, load_spec
from zoo.callbacks import (
    LearningRateFinder,
    activation_statistics,
    bias_variance_verdict,
    gradient_check,
    has_regularization,
    initial_loss,
    layer_gradient_norms,
    overfit_small_batch,
    probe_batch,
    weight_statistics,
)

__all__ = ["doctor", "lr_find", "format_report"]


def _prepare(spec: Spec | str | Path, overrides: Sequence[str]) -> RunPlan:
    if not isinstance(spec, Spec):
        spec = load_spec(spec, overrides)
    return build_plan(spec)


def tool_dir(spec: Spec, kind: str, run_dir: str | Path | None) -> OwnedDirectory:
    """The doctor's or finder's own directory: new, or empty, or one of the same kind of ours; locked."""
    if run_dir is not None:
        path = Path(run_dir)
    else:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        path = Path(spec.resolved().tree["output"]["directory"]) / spec.name / f"{kind}-{stamp}"
    return OwnedDirectory.claim(path, kind, spec.to_yaml())


def model_error(model: keras.Model, dataset) -> tuple[float, str]:
    """1 - accuracy when the model reports accuracy, else the loss; measured in inference mode."""
    results = model.evaluate(dataset, verbose=0, return_dict=True)
    for key in ("accuracy", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy"):
        if key in results:
            return 1.0 - float(results[key]), "1 - accuracy"
    return float(results["loss"]), "loss"


def _state(model: keras.Model, x, y) -> dict[str, Any]:
    return {"gradient_norms": layer_gradient_norms(model, x, y), "activations": activation_statistics(model, x),
            "weights": weight_statistics(model)}


def _check(name: str, ok: bool | None, detail: str) -> dict[str, Any]:
    return {"check": name, "status": "n/a" if ok is None else "ok" if ok else "warn", "detail": detail}


def doctor(
    spec: Spec | str | Path,
    overrides: Sequence[str] = (),
    run_dir: str | Path | None = None,
    epochs: int = 3,
    baseline_error: float = 0.0,
    tolerance: float = 0.02,
    overfit_rows: int = 32,
    overfit_steps: int = 150,
    vanishing_ratio: float = 1e-3,
    gradcheck: int | None = None,
) -> dict[str, Any]:
    """Run the checks on a spec's model; return the report and write it to the run directory.

    Args:
        epochs: epochs of ordinary training before the "after" statistics and the verdict.
        baseline_error: the error a good model could reach (human-level, or a published
            figure), in the units of the error used (1 - accuracy, or the loss).
        tolerance: how far above the baseline (bias) or above the training error
            (variance) counts as high.
        overfit_rows, overfit_steps: the small batch and how long to fit it.
        vanishing_ratio: warn when the first layer's gradient norm is below this
            fraction of the last layer's.
        gradcheck: check this many weights' gradients against finite differences (float64, inference
            mode, on 16 rows, at initialization); None skips it.
    """
    plan = _prepare(spec, overrides)
    with tool_dir(plan.spec, "doctor", run_dir) as owned:
        return _doctor(plan, owned.path, epochs, baseline_error, tolerance, overfit_rows, overfit_steps, vanishing_ratio,
                       gradcheck)


GRADCHECK_TOLERANCE = 1e-4  # float64: below about 1e-6 the gradients agree; up to here a kink (ReLU at 0, max) can explain it


def _doctor(plan: RunPlan, directory: Path, epochs: int, baseline_error: float, tolerance: float, overfit_rows: int,
            overfit_steps: int, vanishing_ratio: float, gradcheck: int | None = None) -> dict[str, Any]:
    spec, data, model = plan.spec, plan.data, plan.model
    model.steps_per_execution = 1  # the checks count single steps
    x, y = probe_batch(data.train, 256)
    info = data.info
    classes = None if reconstructs(spec) or info.task == "regression" else (2 if info.task == "binary" else info.num_classes)
    checks = []

    start = initial_loss(model, x, y, classes)
    if start["expected"] is not None:
        ok = 0.75 <= start["ratio"] <= 1.25
        checks.append(_check("initial loss", ok, f"{start['loss']:.3f} against ln({classes}) = {start['expected']:.3f} "
                             f"(ratio {start['ratio']:.2f}; expected 0.75 to 1.25)"))
    else:
        checks.append(_check("initial loss", None, f"{start['loss']:.4g} (no expected value for a {info.task or 'reconstruction'} task)"))

    numerical = None
    if gradcheck:
        numerical = gradient_check(model, x[:16] if not isinstance(x, dict) else {k: v[:16] for k, v in x.items()},
                                   y[:16], parameters=gradcheck, seed=spec.seed or 0)
        worst = max(numerical["checks"], key=lambda c: c["relative_error"])
        checks.append(_check("gradient check", numerical["max_relative_error"] < GRADCHECK_TOLERANCE,
                             f"{len(numerical['checks'])} weights, central differences in {numerical['dtype']} (h "
                             f"{numerical['epsilon']:g}): relative error median {numerical['median_relative_error']:.2g}, "
                             f"max {numerical['max_relative_error']:.2g} ({worst['weight']}[{worst['index']}]); "
                             f"expected under {GRADCHECK_TOLERANCE:g}"))

    small_x, small_y = x[:overfit_rows], y[:overfit_rows]
    plain = overfit_small_batch(model, small_x, small_y, overfit_steps, regularization=False)
    ratio = plain["final_loss"] / plain["start_loss"] if plain["start_loss"] > 0 else math.nan
    checks.append(_check("overfit a small batch", ratio < 0.05, f"{len(small_x)} rows, regularization off: loss "
                         f"{plain['start_loss']:.3f} -> {plain['final_loss']:.4f} in {overfit_steps} steps "
                         f"({ratio:.1%} of the start; expected under 5%)"))
    regularized = None
    if has_regularization(model):
        regularized = overfit_small_batch(model, small_x, small_y, overfit_steps, regularization=True)
        checks.append(_check("regularization raises the loss", regularized["final_loss"] > plain["final_loss"],
                             f"final loss with regularization {regularized['final_loss']:.4f} vs without {plain['final_loss']:.4f}"))
    else:
        checks.append(_check("regularization raises the loss", None, "the model has no regularizers, dropout or noise"))

    before = _state(model, x, y)
    history = plan.fit(epochs=epochs, verbose=0)
    after = _state(model, x, y)
    checks.extend(_gradient_checks(before, after, vanishing_ratio))
    checks.extend(_activation_checks(before, after))

    verdict = None
    if data.validation is not None:
        train_error, unit = model_error(model, data.train)
        validation_error, _ = model_error(model, data.validation)
        verdict = {**bias_variance_verdict(train_error, validation_error, baseline_error, tolerance), "error": unit,
                   "epochs": epochs}
        checks.append(_check("bias / variance", verdict["verdict"] == "neither",
                             f"after {epochs} epochs: {verdict['verdict']} ({unit}: train {train_error:.4f}, validation "
                             f"{validation_error:.4f}, baseline {baseline_error:.4f}); remedies: {verdict['remedies']}"))
    else:
        checks.append(_check("bias / variance", None, "no validation data: add data.validation_split"))

    report = {"spec": spec.name, "run_dir": str(directory), "checks": checks, "initial_loss": start,
              "gradient_check": numerical,
              "overfit": {"without_regularization": plain, "with_regularization": regularized},
              "at_initialization": before, f"after_{epochs}_epochs": after, "history": history.history, "verdict": verdict}
    text = format_report(report)
    write_text(directory / "doctor.txt", text + "\n")
    write_json(directory / "doctor.json", report)
    plot_doctor(report, before, after, epochs, directory)
    return report


def _gradient_checks(before: dict, after: dict, vanishing_ratio: float) -> list[dict]:
    checks = []
    for label, state in (("at initialization", before), ("after training", after)):
        norms = list(state["gradient_norms"].items())
        if len(norms) < 2:
            continue
        (first, low), (last, high) = norms[0], norms[-1]
        finite = all(math.isfinite(v) for _, v in norms)
        ratio = low / high if high > 0 else math.inf
        detail = (f"{label}: first layer {first} {low:.3g}, last layer {last} {high:.3g} (ratio {ratio:.2g}); "
                  + ", ".join(f"{name} {value:.2g}" for name, value in norms))
        checks.append(_check(f"gradient norms {label}", finite and ratio >= vanishing_ratio,
                             detail + ("" if ratio >= vanishing_ratio else " -- vanishing towards the input")))
    return checks


def _activation_checks(before: dict, after: dict) -> list[dict]:
    checks = []
    for label, state in (("at initialization", before), ("after training", after)):
        dead = {name: entry["dead_fraction"] for name, entry in state["activations"].items() if "dead_fraction" in entry}
        saturated = {name: entry["saturated_fraction"] for name, entry in state["activations"].items() if "saturated_fraction" in entry}
        if dead:
            worst = max(dead, key=dead.get)
            checks.append(_check(f"dead ReLUs {label}", dead[worst] <= 0.5,
                                 ", ".join(f"{name} {value:.0%}" for name, value in dead.items())))
        if saturated:
            worst = max(saturated, key=saturated.get)
            checks.append(_check(f"saturated units {label}", saturated[worst] <= 0.5,
                                 ", ".join(f"{name} {value:.0%}" for name, value in saturated.items())))
    return checks


def format_report(report: dict[str, Any]) -> str:
    """The report as the lines `zoo doctor` prints."""
    lines = [f"zoo doctor: {report['spec']}"]
    for check in report["checks"]:
        lines.append(f"  [{check['status']:>4}] {check['check']}: {check['detail']}")
    verdict = report.get("verdict")
    if verdict:
        lines.append(f"verdict: {verdict['verdict']}. {verdict['remedies']}.")
    lines.append(f"written: {report['run_dir']}/doctor.txt, doctor.json, gradient_norms.png, activations.png, overfit.png")
    return "\n".join(lines)


def lr_find(
    spec: Spec | str | Path,
    overrides: Sequence[str] = (),
    run_dir: str | Path | None = None,
    min_lr: float = 1e-6,
    max_lr: float = 1.0,
    steps: int = 100,
) -> dict[str, Any]:
    """The learning-rate range test on a spec's model and data: `lr_find.png`, `lr_find.json`, the suggestion."""
    plan = _prepare(spec, overrides)
    # Everything that can refuse is checked before the directory exists: a refusal writes nothing.
    finder = LearningRateFinder(min_lr=min_lr, max_lr=max_lr, steps=steps, verbose=0)
    if isinstance(learning_rate_object(plan.model.optimizer), keras.optimizers.schedules.LearningRateSchedule):
        raise plan.spec.error(("train", "optimizer"), "the learning rate is a schedule, and the range test sets the rate "
                              "itself: give the optimizer a plain learning_rate for the test.")
    batches = num_batches(plan.data.train)
    if not batches:
        raise plan.spec.error(("data",), "the learning-rate range test needs a training set of known size.")
    with tool_dir(plan.spec, "lr-find", run_dir) as owned:
        return _lr_find(plan, finder, batches, owned.path, min_lr, max_lr, steps)


def _lr_find(plan: RunPlan, finder: LearningRateFinder, batches: int, directory: Path, min_lr: float, max_lr: float,
             steps: int) -> dict[str, Any]:
    plan.model.steps_per_execution = 1  # the finder sets the rate before every batch
    plan.fit([finder], verbose=0, spec_callbacks=False, epochs=math.ceil(steps / batches))
    finder.plot(directory / "lr_find.png")
    result = {"suggestion": finder.suggestion, "rates": finder.rates, "losses": finder.losses, "smoothed": finder.smoothed,
              "min_lr": min_lr, "max_lr": max_lr, "steps_run": len(finder.rates), "run_dir": str(directory)}
    write_json(directory / "lr_find.json", result)
    return result
