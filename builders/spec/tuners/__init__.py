"""The tuners a spec's `tune.tuner` can name: a registry, as layers and data sources have one.

Each built-in tuner is one module of this package (`random_search.py`, `grid_search.py`, `hyperband.py`,
`bayesian_optimization.py`) that registers a `TunerKind`: the KerasTuner class and the rules of its own
that the `tune` section must follow. A user's own `keras_tuner.Tuner` subclass is registered from their
code with `zoo.register_tuner` and named in specs like the built-ins. `tuner_settings` checks a spec's
tuner, its arguments and the objective without constructing the tuner (a KerasTuner tuner creates its
directory when constructed), so `zoo validate` needs no search.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import keras_tuner

from zoo.builders.spec.document import Spec
from zoo.builders.spec.errors import closest
from zoo.builders.spec.resolve import check_arguments, split_component

__all__ = ["TunerKind", "TUNERS", "register_tuner", "SCHEMA_TUNE_KEYS", "SHARED_WITH_TUNER", "tuner_settings"]


@dataclass(frozen=True)
class TunerKind:
    """A tuner a spec can name.

    Attributes:
        name: the name in `tune.tuner`.
        tuner: the `keras_tuner.Tuner` subclass.
        check: its own rules, `check(spec, section, path)` with the tune section as the run reads it (the
            tuner's mapping merged in) and the path of `tune.tuner`; raises the spec's errors. None: no rules.
        user: registered by a user (`register_tuner`), not built in.
    """

    name: str
    tuner: type
    check: Callable[[Spec, dict, tuple], None] | None = None
    user: bool = False


TUNERS: dict[str, TunerKind] = {}


def register_tuner(name: str, tuner: type | None = None, *, check: Callable | None = None, replace: bool = False):
    """Register a `keras_tuner.Tuner` subclass as a tuner a spec names in `tune.tuner: {NAME: {arguments}}`.

    Its constructor arguments are checked against its signature, as every component's are; keras-zoo
    gives it the hypermodel, objective, directory, project name, seed and the tune section's settings.
    A registered tuner exists in the process that registered it: name it in searches you start from
    Python (`zoo.tune`) after the registration.

    Args:
        name: a Python identifier, not a built-in tuner's name.
        tuner: the class; omitted, `register_tuner(name)` is a class decorator.
        check: optional rules of its own, `check(spec, section, path)` (see `TunerKind`).
        replace: allow registering `name` again (a user's tuner only).

    Example:
        >>> @zoo.register_tuner("Patient")
        ... class Patient(keras_tuner.RandomSearch):
        ...     pass
        >>> zoo.tune("spec.yaml", ["tune.tuner={Patient: {max_trials: 4}}"])
    """
    import keyword

    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"register_tuner: a tuner name is a Python identifier; got {name!r}.")
    if name in TUNERS and not TUNERS[name].user:
        raise ValueError(f"register_tuner: {name!r} is a built-in tuner ({', '.join(k for k, v in TUNERS.items() if not v.user)}); "
                         "choose another name.")
    if name in TUNERS and not replace:
        raise ValueError(f"register_tuner: {name!r} is registered already; pass replace=True to register it again.")

    def add(cls: type) -> type:
        if not (isinstance(cls, type) and issubclass(cls, keras_tuner.Tuner)):
            raise ValueError(f"register_tuner: {name!r} needs a keras_tuner.Tuner subclass; got {cls!r}.")
        TUNERS[name] = TunerKind(name, cls, check, user=True)
        return cls

    return add(tuner) if tuner is not None else add


def builtin(kind: TunerKind) -> TunerKind:
    """Register a built-in tuner (its module calls this)."""
    TUNERS[kind.name] = kind
    return kind


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
        raise spec.error(path, f"unknown tuner {name!r}; the tuners are {', '.join(TUNERS)}.", closest(name, list(TUNERS)))
    kind = TUNERS[name]
    cls = kind.tuner
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
    if kind.check is not None:
        kind.check(spec, {**section, **arguments}, path + (name,))
    if "max_trials" in section:
        settings["max_trials"] = section["max_trials"]
    settings.update(arguments)
    return cls, settings


# The tune section's keys that are KerasTuner constructor arguments too: either place takes them.
SHARED_WITH_TUNER = ("objective", "max_trials", "executions_per_trial", "max_retries_per_trial",
                     "max_consecutive_failed_trials")

SCHEMA_TUNE_KEYS = ("objective", "executions_per_trial", "max_retries_per_trial", "max_consecutive_failed_trials",
                    "max_trials", "directory", "project_name")


# The built-in tuners, one module each; they register themselves (after the names above exist).
from zoo.builders.spec.tuners import random_search  # noqa: E402,F401 - in this order in messages
from zoo.builders.spec.tuners import grid_search  # noqa: E402,F401
from zoo.builders.spec.tuners import hyperband  # noqa: E402,F401
from zoo.builders.spec.tuners import bayesian_optimization  # noqa: E402,F401
