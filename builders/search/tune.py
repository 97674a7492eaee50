"""`zoo tune SPEC`: the spec's inline markers become a KerasTuner search.

The hypermodel (builders/search/hypermodel.py) builds each trial through the run plan;
the search is validated (every marker at its default and extremes) before its
directory is claimed. The tuners are KerasTuner's own, by name, with their own
arguments:

    tune:
      tuner: {Hyperband: {max_epochs: 30, factor: 3}}   # RandomSearch, GridSearch, BayesianOptimization
      objective: val_accuracy                          # or {name: val_loss, direction: min}
      max_trials: 20
      max_time: 600                                    # seconds; no trial starts after it

The search directory (`tune.directory`/`tune.project_name`, default
tuning/<name>) holds KerasTuner's own state, so `zoo tune --resume` continues
with every finished trial kept, and ours: results.csv / results.json,
best.yaml (the best trial as a plain spec `zoo train` runs), search.png and
TensorBoard hparams logs under tensorboard/. The directory is ours only when
its manifest says so: `--overwrite` never empties a folder we did not make.
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Any, Sequence

import keras
import keras_tuner
import numpy as np

from zoo.builders.data.load import anchored, given_data, spec_for_given
from zoo.builders.run.files import write_json, write_text
from zoo.builders.run.history import tensorboard
from zoo.builders.run.plan import build_plan, callback_files_dir, distribution_strategy, logged_names, validate
from zoo.builders.run.plots import plot_search
from zoo.builders.run.rundir import MANIFEST, OwnedDirectory, check_name
from zoo.builders.run.train import loaded_spec
from zoo.builders.search import _keras_tuner
from zoo.builders.search.distributed import WorkerLeases, distributed, is_chief
from zoo.builders.search.hypermodel import SpecHyperModel, build_hypermodel
from zoo.builders.spec.document import Spec, load_spec
from zoo.builders.spec.errors import RunError, SpecError
from zoo.builders.spec.tuners import tuner_settings

__all__ = ["make_tuner", "tune", "budget", "space_table", "search_directory"]

def search_directory(spec: Spec) -> Path:
    section = spec.resolved().tree["tune"] if "tune" in spec.tree else {"directory": "tuning"}
    return Path(section.get("directory", "tuning")) / check_name(section.get("project_name", spec.name), "the search's name")


def make_tuner(spec: Spec, hypermodel: SpecHyperModel, logged: set[str] | None = None,
               has_validation: bool = True, report=None) -> keras_tuner.Tuner:
    """The tuner `tune.tuner` names, with its own arguments and the `tune` section's settings, over the
    spec's search directory (which the caller owns: KerasTuner never overwrites it); with `report`, one
    line per finished trial goes to it (`TrialLines`)."""
    if logged is None:  # what training logs, for the objective: the plan at the defaults says
        plan = build_plan(spec, data_cache=hypermodel.data_cache, given=hypermodel.given)
        logged, has_validation = logged_names(plan.model, plan.data), plan.data.validation is not None
        keras.backend.clear_session()
    cls, settings = tuner_settings(spec, logged, has_validation)
    directory = search_directory(spec)
    strategy = distribution_strategy(spec.resolved())
    if strategy is not None:
        settings["distribution_strategy"] = strategy  # KerasTuner builds each trial's model in its scope
    limit = spec.resolved().tree.get("tune", {}).get("max_time")
    cls = _keras_tuner.with_time_budget(cls, limit)
    if report is not None:
        cls = _keras_tuner.with_trial_lines(cls, TrialLines(report))
    try:
        tuner = cls(
            hypermodel=hypermodel, directory=str(directory.parent), project_name=directory.name, overwrite=False,
            **settings)
    except (ValueError, TypeError) as error:
        raise spec.error(("tune", "tuner"), f"{cls.__name__}: {error}") from None
    return tuner


class TrialLines:
    """One line per finished trial, as `zoo tune` prints them: its KerasTuner id, score, epochs, wall time
    and the hyperparameters that differ from the best trial before it (all of them for the first)."""

    def __init__(self, report) -> None:
        self.report = report
        self.best: tuple[float, dict] | None = None

    def __call__(self, trial, seconds: float, objective, epochs: int | None) -> None:
        name, maximize = objective.name, objective.direction == "max"
        values = {k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")}
        if trial.status != "COMPLETED" or trial.score is None:
            reason = ((getattr(trial, "message", None) or "").strip().splitlines() or [trial.status.lower()])[-1]
            self.report(f"trial {trial.trial_id}  {trial.status.lower()} after {seconds:.1f}s: {reason}")
            return
        if self.best is None:
            shown = ", ".join(f"{k}={_short(v)}" for k, v in values.items())
        else:
            differ = ", ".join(f"{k}={_short(v)}" for k, v in values.items() if self.best[2].get(k) != v)
            shown = f"vs trial {self.best[1]}: {differ or 'the same values'}"
        ran = "" if epochs is None else f"{epochs} epoch{'s' * (epochs != 1)}  "
        self.report(f"trial {trial.trial_id}  {name} {trial.score:.4f}  {ran}{seconds:.1f}s  {shown}".rstrip())
        better = self.best is None or (trial.score > self.best[0] if maximize else trial.score < self.best[0])
        if better and math.isfinite(trial.score):
            self.best = (trial.score, trial.trial_id, values)


def budget(spec: Spec, tuner: keras_tuner.Tuner) -> str:
    """What the search will cost, in trials and epochs, printed before it starts."""
    oracle = tuner.oracle
    executions = tuner.executions_per_trial
    if isinstance(oracle, keras_tuner.oracles.HyperbandOracle):
        models, epochs = 0, 0
        rounds = _keras_tuner.hyperband_rounds(oracle)
        brackets = len(rounds)
        for bracket in rounds:
            previous = 0
            for round_number, (size, round_epochs) in enumerate(bracket):
                models += size if round_number == 0 else 0
                epochs += size * (round_epochs - previous)  # later rounds continue from the checkpoint
                previous = round_epochs
        text = (f"Hyperband, max_epochs={oracle.max_epochs}, factor={oracle.factor}: {brackets} brackets; one iteration "
                f"trains {models} models for {epochs * executions} epochs in all; x {oracle.hyperband_iterations} "
                f"iteration(s) = {epochs * executions * oracle.hyperband_iterations} epochs")
    else:
        epochs = spec.resolved().tree["train"]["epochs"]
        trials = oracle.max_trials
        grid = _grid_size(full_space(spec)) if isinstance(oracle, keras_tuner.oracles.GridSearchOracle) else None
        if grid is not None:
            trials = min(trials, grid) if trials else grid
        shown = "unbounded" if not trials else str(trials)
        total = f"{trials * epochs * executions} epochs at most" if trials else "no epoch bound"
        text = (f"{type(tuner).__name__}: {shown} trials x {epochs} epochs x {executions} execution(s) = {total}"
                + (f" (the grid has {grid} points)" if grid is not None else "")
                + (" -- train.epochs is a hyperparameter: its default is shown" if _is_tuned(spec, ("train", "epochs")) else ""))
    limit = spec.resolved().tree.get("tune", {}).get("max_time")
    return text + (f"; no trial starts after {limit:g} s" if limit else "")


def _is_tuned(spec: Spec, path: tuple) -> bool:
    return any(p == path for p, _ in spec.markers)


def _grid_size(space: keras_tuner.HyperParameters) -> int | None:
    """How many points a grid search over `space` visits; None when a Float has no step."""
    size = 1
    for parameter in space.space:
        config, kind = parameter.get_config(), type(parameter).__name__
        if "values" in config:
            count = len(config["values"])
        elif kind == "Boolean":
            count = 2
        elif kind == "Fixed":
            count = 1
        elif kind == "Int":
            count = len(range(config["min_value"], config["max_value"] + 1, config.get("step") or 1))
        else:
            return None
        size *= count
    return size


def full_space(spec: Spec) -> keras_tuner.HyperParameters:
    """Every hyperparameter the spec can use: each searched repeat count at its largest value,
    so the per-repetition hyperparameters it conditions all appear."""
    from zoo.builders.spec.markers import candidate_values, marker_name

    hp = keras_tuner.HyperParameters()
    for path, marker in spec.markers:
        if path and path[-1] == "repeat":
            hp.values[marker_name(path, marker)] = max(candidate_values(marker))
    spec.with_hyperparameters(hp)
    return hp


def space_table(space: keras_tuner.HyperParameters) -> str:
    """The search space: one row per hyperparameter, with its range or values and its condition."""
    rows = [("name", "type", "values", "default", "active when")]
    for parameter in space.space:
        config = parameter.get_config()
        if "values" in config:
            values = ", ".join(map(str, config["values"]))
        elif "min_value" in config:
            values = f"{config['min_value']} .. {config['max_value']}"
            if config.get("step"):
                values += f" step {config['step']}"
            if config.get("sampling") not in (None, "linear"):
                values += f" ({config['sampling']})"
        elif "value" in config:
            values = str(config["value"])
        else:
            values = "True, False"
        conditions = "; ".join(f"{c.name} in {list(c.values)}" for c in parameter.conditions
                               if hasattr(c, "name")) or "always"
        rows.append((parameter.name, type(parameter).__name__, values, str(parameter.default), conditions))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


# -- results ------------------------------------------------------------------------------------


def trial_records(tuner: keras_tuner.Tuner) -> list[dict[str, Any]]:
    """Every trial: id, status, score, best step, hyperparameters, and its failure message."""
    records = []
    for trial_id, trial in sorted(tuner.oracle.trials.items()):
        values = {k: v for k, v in trial.hyperparameters.values.items()}
        records.append({"trial": trial_id, "status": trial.status, "score": trial.score, "best_step": trial.best_step,
                        "hyperparameters": values, "message": getattr(trial, "message", None)})
    return records


def best_spec(spec: Spec, tuner: keras_tuner.Tuner) -> tuple[Spec, dict]:
    """The best trial written back as a plain spec: markers replaced, no `tune` section."""
    # KerasTuner pads the list with unfinished trials when too few completed.
    best = [t for t in tuner.oracle.get_best_trials(1) if t.status == keras_tuner.engine.trial.TrialStatus.COMPLETED]
    if not best:
        raise SpecError("no trial finished, so there is no best configuration; see results.csv for the failures.")
    trial = best[0]
    tree = spec.with_hyperparameters(trial.hyperparameters.copy()).tree
    tree = {key: value for key, value in tree.items() if key != "tune"}
    epochs = trial.hyperparameters.values.get("tuner/epochs")
    if epochs:  # Hyperband trained the best model for this many epochs in all
        tree.setdefault("train", {})["epochs"] = int(epochs)
    return load_spec(tree), {"trial": trial.trial_id, "score": trial.score, "objective": tuner.oracle.objective.name}


IMPORTANCE_MIN_TRIALS = 10  # below this a rank correlation is noise, so none is reported


def _importance(records: list[dict], names: list[str]) -> dict[str, float]:
    """How strongly each hyperparameter goes with the score: |Spearman rho| for numbers, the spread of
    per-value mean scores (relative to the score spread) for categories; empty with fewer than
    `IMPORTANCE_MIN_TRIALS` finished trials."""
    done = [r for r in records if r["score"] is not None and math.isfinite(r["score"])]
    scores = np.array([r["score"] for r in done], dtype="float64")
    importance = {}
    if len(done) < IMPORTANCE_MIN_TRIALS or scores.std() == 0:
        return importance
    for name in names:
        values = [r["hyperparameters"].get(name) for r in done]
        if any(v is None for v in values) or len(set(map(str, values))) < 2:
            continue
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            ranks = np.argsort(np.argsort(values)).astype("float64")
            score_ranks = np.argsort(np.argsort(scores)).astype("float64")
            rho = np.corrcoef(ranks, score_ranks)[0, 1]
            importance[name] = float(abs(rho)) if math.isfinite(rho) else 0.0
        else:
            means = [scores[[str(v) == str(u) for v in values]].mean() for u in set(map(str, values))]
            importance[name] = float((max(means) - min(means)) / (scores.max() - scores.min()))
    return importance


def write_results(spec: Spec, tuner: keras_tuner.Tuner, directory: Path) -> dict[str, Any]:
    """results.csv / results.json, best.yaml and search.png; returns the summary."""
    import csv
    import io

    records = trial_records(tuner)
    names = sorted({k for r in records for k in r["hyperparameters"] if not k.startswith("tuner/")})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["trial", "status", "score", "best_step", *names, "message"])
    for r in records:
        writer.writerow([r["trial"], r["status"], r["score"], r["best_step"], *[r["hyperparameters"].get(n) for n in names], r["message"] or ""])
    write_text(directory / "results.csv", buffer.getvalue())
    importance = _importance(records, names)
    summary: dict[str, Any] = {"objective": tuner.oracle.objective.name, "direction": tuner.oracle.objective.direction,
                               "trials": records, "importance": importance,
                               "counts": {s: sum(r["status"] == s for r in records) for s in sorted({r["status"] for r in records})}}
    try:
        best, about = best_spec(spec, tuner)
    except SpecError:
        best, about = None, None
    if best is not None:
        header = (f"# The best trial ({about['trial']}) of `zoo tune {spec.source}`: {about['objective']} = {about['score']}.\n"
                  f"# Train it with: zoo train {directory / 'best.yaml'}\n")
        write_text(directory / "best.yaml", header + best.to_yaml())
        summary["best"] = about
    write_json(directory / "results.json", summary)
    log_scaled = tuple(hp.name for hp in full_space(spec).space if getattr(hp, "sampling", None) == "log")
    plot_search(records, importance, summary["objective"], directory / "search.png", log_scaled)
    return summary


def results_table(summary: dict[str, Any], top: int = 5) -> str:
    """The best trials, their hyperparameters and scores, as `zoo tune` prints them."""
    done = [r for r in summary["trials"] if r["score"] is not None and math.isfinite(r["score"])]
    done.sort(key=lambda r: r["score"], reverse=summary["direction"] == "max")
    lines = [f"best {min(top, len(done))} of {len(summary['trials'])} trials by {summary['objective']} "
             f"({', '.join(f'{n} {s.lower()}' for s, n in summary['counts'].items())}):"]
    for r in done[:top]:
        shown = ", ".join(f"{k}={_short(v)}" for k, v in r["hyperparameters"].items() if not k.startswith("tuner/"))
        lines.append(f"  trial {r['trial']}  {summary['objective']} {r['score']:.4f}  {shown}")
    return "\n".join(lines)


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def tune(
    spec: Spec | str | Path,
    overrides: Sequence[str] = (),
    resume: bool = False,
    overwrite: bool = False,
    verbose: int | str = 0,
    report=print,
    *,
    data: Any = None,
    validation_data: Any = None,
    test_data: Any = None,
    label: str | None = None,
) -> dict[str, Any]:
    """Run the search a spec's `tune` section describes; write the results beside KerasTuner's state.

    The spec is validated (the run plan at every marker's default and extremes) before the
    search directory is touched.

    Args:
        resume: continue the search in the spec's search directory (finished trials are kept).
        overwrite: start again, deleting an earlier search of ours there (never a folder we did not make).
        report: where the budget, the space and the results table are printed.
        data, validation_data, test_data, label: data given in Python, as `zoo.train` takes it.

    Raises:
        SpecError: a problem in the spec. RunError: the directory is not ours or in use, or no trial finished.
    """
    given = given_data(data, validation_data, test_data, label)
    spec = anchored(spec_for_given(loaded_spec(spec, overrides), given))  # best.yaml finds the files
    if not spec.markers:
        raise spec.error(("tune",), "the spec has no {hp: ...} markers, so there is nothing to search.")
    if given is not None and distributed():
        raise RunError("data given in Python exists only in this process; a distributed search's workers need a data "
                       "source in the spec (a file they can read).")
    hypermodel = build_hypermodel(spec, verbose=verbose)
    hypermodel.given = given
    if is_chief():
        validate(spec, data_cache=hypermodel.data_cache, given=given)
    else:  # the chief validates the whole space; a worker checks that it can build the plan here (its data, its files)
        build_plan(spec, data_cache=hypermodel.data_cache)
        keras.backend.clear_session()
    if distributed():
        _keras_tuner.quiet_conditions()
    directory = search_directory(spec)
    owned = _claim_search(directory, spec, resume, overwrite) if is_chief() else None
    hypermodel.files_dir = callback_files_dir(directory)  # the trials' callbacks write inside the search
    policy = keras.mixed_precision.dtype_policy()
    try:
        tuner = make_tuner(spec, hypermodel, report=report)
        report(f"search: {budget(spec, tuner)}")
        report(space_table(full_space(spec)))
        timeout = spec.resolved().tree["tune"].get("worker_timeout")
        leases = WorkerLeases(tuner.oracle, timeout, report) if timeout and is_chief() and distributed() else None
        started = time.perf_counter()
        try:
            tuner.search(callbacks=_search_callbacks(directory), verbose=verbose)
        except RuntimeError as error:
            if "consecutive failures" not in str(error):
                raise
            failed = [r for r in trial_records(tuner) if r["status"] == "FAILED"]
            last = (failed[-1]["message"] or "").strip().splitlines()
            reason = str(error).strip().splitlines()[0]
            write_results(spec, tuner, directory)
            raise RunError(f"the search stopped: {reason} (tune.max_consecutive_failed_trials). "
                           f"The last failure: {last[-1] if last else 'unknown'} Every trial is in {directory}/results.csv.") from None
        finally:
            if leases is not None:
                leases.stop()
        if not is_chief():
            report(f"worker {tuner.tuner_id}: no more trials ({time.perf_counter() - started:.1f}s)")
            return {"worker": tuner.tuner_id}
        summary = write_results(spec, tuner, directory)
    finally:
        keras.mixed_precision.set_dtype_policy(policy)
        if owned is not None:
            owned.release()
    summary["wall_time_s"] = round(time.perf_counter() - started, 3)
    summary["directory"] = str(directory)
    if "best" not in summary:
        failures = [r for r in summary["trials"] if r["status"] == "FAILED"]
        last = ((failures[-1]["message"] or "").strip().splitlines() or ["unknown"])[-1] if failures else "no trial ran"
        raise RunError(f"no trial finished ({len(failures)} failed); the last failure: {last}. "
                       f"Every trial is in {directory}/results.csv.")
    report(results_table(summary, spec.resolved().tree["tune"]["top"]))
    report(f"written: {directory}/results.csv, results.json, best.yaml, search.png"
           + (", tensorboard/" if (directory / "tensorboard").is_dir() else ""))
    return summary


def _search_callbacks(directory: Path) -> list:
    return tensorboard(directory / "tensorboard")


def _claim_search(directory: Path, spec: Spec, resume: bool, overwrite: bool) -> OwnedDirectory:
    """The search directory, claimed and locked; an earlier search of ours is kept (--resume) or
    emptied (--overwrite); anything not ours is refused."""
    if resume and not (directory / "oracle.json").exists():
        raise RunError(f"{directory} holds no search to resume.")  # refused before anything is written
    owned = OwnedDirectory.claim(directory, "search", spec.to_yaml())
    try:
        started = (directory / "oracle.json").exists()
        if started and not (resume or overwrite):
            raise RunError(f"{directory} already holds a search: continue it with --resume, or start again with --overwrite.")
        if resume and not started:
            raise RunError(f"{directory} holds no search to resume.")
        if started and overwrite:
            for path in directory.iterdir():
                if path.name in (MANIFEST, ".zoo.lock"):
                    continue
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    except BaseException:
        owned.release()
        raise
    return owned


