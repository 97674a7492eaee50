"""The `tune` section's tuner: which KerasTuner tuners a spec can name, and their arguments and objective
checked without constructing one (a KerasTuner tuner creates its directory when constructed)."""

from __future__ import annotations

from typing import Any

import keras_tuner

from zoo.builders.spec.document import Spec
from zoo.builders.spec.errors import closest
from zoo.builders.spec.resolve import check_arguments, split_component

__all__ = ["TUNERS", "SCHEMA_TUNE_KEYS", "SHARED_WITH_TUNER", "tuner_settings"]

TUNERS = ("RandomSearch", "GridSearch", "Hyperband", "BayesianOptimization")


def tuner_settings(spec: Spec, logged: set[str] | None, has_validation: bool) -> tuple[type, dict[str, Any]]:
    """The tuner class `tune.tuner` names and its constructor arguments, checked without constructing it
    (a KerasTuner tuner creates its directory when constructed).

    Args:
        logged: what training logs (loss, metrics, their val_ twins), to check the objective; None when unknown.
        has_validation: whether the data has a validation split (the default objective is val_loss then).
    """
    given = dict(spec.tree.get("tune") or {})  # as written, before defaults
    spec = spec.resolved()
    section = dict(spec.tree.get("tune") or {"tuner": "RandomSearch", "executions_per_trial": 1,
                                             "max_retries_per_trial": 0, "max_consecutive_failed_trials": 3})
    path = ("tune", "tuner")
    name, arguments = split_component(section["tuner"], spec, path, "a tuner")
    if name not in TUNERS:
        raise spec.error(path, f"unknown tuner {name!r}; the tuners are {', '.join(TUNERS)}.", closest(name, TUNERS))
    cls = getattr(keras_tuner, name)
    arguments = dict(arguments)
    for key in SHARED_WITH_TUNER:  # KerasTuner's constructor takes them; so does the tune section
        if key in arguments:
            value = arguments.pop(key)
            if key in given and given[key] != value:
                raise spec.error(path + (name, key), f"{key} is {value!r} here and {given[key]!r} in the tune section: "
                                 "give it once.")
            section[key] = value
    check_arguments(cls, arguments, spec, path, name)
    for taken in ("hypermodel", "directory", "project_name", "overwrite", "seed", "distribution_strategy"):
        if taken in arguments:
            raise spec.error(path + (name, taken), f"{taken} is not a tuner argument here: "
                             + ("set it in the tune section." if taken in SCHEMA_TUNE_KEYS else
                                "the spec's seed seeds the search." if taken == "seed" else "keras-zoo sets it."))
    objective = section.get("objective")
    if objective is not None and not (isinstance(objective, str) and objective or isinstance(objective, dict)
                                      and set(objective) == {"name", "direction"} and objective["direction"] in ("min", "max")):
        raise spec.error(path + (name, "objective"), f"an objective is a logged metric name or {{name, direction: min|max}}; "
                         f"got {objective!r}.")
    for key in ("max_trials", "executions_per_trial", "max_retries_per_trial", "max_consecutive_failed_trials"):
        value, low = section.get(key), 0 if key == "max_retries_per_trial" else 1
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
            raise spec.error(path + (name, key), f"{key} is an integer of at least {low}; got {value!r}.")
    objective = section.get("objective") or ("val_loss" if has_validation else "loss")
    objective_name = objective["name"] if isinstance(objective, dict) else objective
    if logged is not None and objective_name not in logged:
        raise spec.error(("tune", "objective"), f"the objective {objective_name!r} is never logged; training logs "
                         f"{', '.join(sorted(logged))}.", closest(objective_name, sorted(logged)))
    settings: dict[str, Any] = {
        "objective": keras_tuner.Objective(objective["name"], objective["direction"]) if isinstance(objective, dict) else objective,
        "seed": spec.seed,
        "executions_per_trial": section["executions_per_trial"],
        "max_retries_per_trial": section["max_retries_per_trial"],
        "max_consecutive_failed_trials": section["max_consecutive_failed_trials"],
    }
    if "max_trials" in section:
        if name == "Hyperband":
            raise spec.error(("tune", "max_trials"), "Hyperband sets its own number of trials from max_epochs, factor "
                             "and hyperband_iterations; use max_time to bound it.")
        settings["max_trials"] = section["max_trials"]
    settings.update(arguments)
    return cls, settings


# The tune section's keys that are KerasTuner constructor arguments too: either place takes them.
SHARED_WITH_TUNER = ("objective", "max_trials", "executions_per_trial", "max_retries_per_trial",
                     "max_consecutive_failed_trials")

SCHEMA_TUNE_KEYS = ("objective", "executions_per_trial", "max_retries_per_trial", "max_consecutive_failed_trials",
                    "max_trials", "directory", "project_name")
