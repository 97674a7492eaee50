"""keras-zoo: one import root for the building blocks, the procedures and the spec API.

Building blocks (Keras classes, registered as `zoo>Name`; they import Keras only):

    from zoo.layers import Maxout
    from zoo.optimizers import Yogi
    from zoo.schedules import OneCycle
    from zoo import architectures

Callbacks and training procedures, for anyone's `model.fit`:

    from zoo.callbacks import GradientMonitor, greedy_layerwise_pretrain

Specs (YAML -> Keras objects -> runs and searches):

    import zoo
    spec = zoo.load_spec("specs/digits_mlp.yaml", ["train.epochs=5"])
    result = zoo.train(spec)                  # RunResult: history, metrics, model, run_dir, paths
    result = zoo.train(spec, data=(x, y))     # arrays, a DataFrame (label=...) or a tf.data.Dataset
    summary = zoo.tune("specs/digits_tune.yaml")

Every name here is imported when first used (PEP 562), so `import zoo` costs
nothing and `zoo --help` answers at once; `from zoo.layers import Maxout`
costs no more than importing Keras. `import zoo` is enough for
`keras.saving.load_model` of a model with zoo layers, activations, losses,
optimizers, schedules or callbacks: the modules that register them with Keras
(`zoo>Name`) are imported as soon as Keras is: now if it already is, or else
once Keras's import and any zoo module's that asked for it are complete (so
`import zoo` alone still imports no Keras).
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import warnings
from typing import Any

_MODULES = ("activations", "architectures", "layers", "losses", "optimizers", "schedules", "callbacks", "builders")

# name -> the module that defines it
_API = {
    "Spec": "zoo.builders.spec.document",
    "SpecError": "zoo.builders.spec.errors",
    "load_spec": "zoo.builders.spec.document",
    "RunPlan": "zoo.builders.run.plan",
    "build_plan": "zoo.builders.run.plan",
    "validate": "zoo.builders.run.plan",
    "build_model": "zoo.builders.run.model",
    "RunResult": "zoo.builders.run.train",
    "train": "zoo.builders.run.train",
    "resume": "zoo.builders.run.train",
    "evaluate": "zoo.builders.tools.inference",
    "predict": "zoo.builders.tools.inference",
    "load_model": "zoo.builders.run.saved",
    "tune": "zoo.builders.search.tune",
    "SpecHyperModel": "zoo.builders.search.hypermodel",
    "build_hypermodel": "zoo.builders.search.hypermodel",
    "register_source": "zoo.builders.data.load",
    "register_tuner": "zoo.builders.spec.tuners",
}

__all__ = sorted([*_MODULES, *_API, "register_all"])

# The modules whose classes are registered with Keras as `zoo>Name`.
_REGISTERING = ("activations", "architectures", "callbacks", "layers", "losses", "optimizers", "schedules")


def register_all() -> None:
    """Import every module that registers zoo classes with Keras, so saved models that use them load."""
    for name in _REGISTERING:
        importlib.import_module(f"zoo.{name}")


def _initializing(module: Any) -> bool:
    return bool(getattr(getattr(module, "__spec__", None), "_initializing", False))


class _RegisterWithKeras(importlib.abc.MetaPathFinder):
    """Calls `register_all` once Keras is imported and no zoo module is halfway through its own import.

    It sees the imports of `keras` and of `zoo.*` modules only (found by the finders after it), and
    checks after each: so `import keras` in a user's code registers at once, and a zoo module whose
    own `import keras` is the first registers when it is complete (registering halfway through it
    would import modules that need it). It leaves `sys.meta_path` after registering."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "keras" and not fullname.startswith("zoo."):
            return None
        for finder in [f for f in sys.meta_path if f is not self]:
            found = finder.find_spec(fullname, path, target) if hasattr(finder, "find_spec") else None
            if found is not None:
                if found.loader is not None:
                    found.loader = _ThenRegister(found.loader, self)
                return found
        return None

    def after(self, done: Any) -> None:
        keras = sys.modules.get("keras")
        if self not in sys.meta_path or keras is None or (keras is not done and _initializing(keras)):
            return
        if any(_initializing(m) for n, m in list(sys.modules.items()) if n.startswith("zoo.") and m is not done):
            return
        sys.meta_path[:] = [finder for finder in sys.meta_path if finder is not self]
        try:
            register_all()
        except Exception as error:  # never break a user's import: the load that needs a class says so
            warnings.warn(f"keras-zoo could not register its classes with Keras ({type(error).__name__}: {error}); "
                          "saved models that use them will not load.", stacklevel=2)


class _ThenRegister(importlib.abc.Loader):
    """A module's own loader, then `_RegisterWithKeras.after`; the module keeps its own loader."""

    def __init__(self, loader: Any, hook: _RegisterWithKeras) -> None:
        self.loader, self.hook = loader, hook

    def __getattr__(self, name: str) -> Any:  # get_code, get_source, is_package...: runpy (`python -m`) asks for them
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__spec__.loader = module.__loader__ = self.loader
        self.loader.exec_module(module)
        self.hook.after(module)


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        value = importlib.import_module(f"zoo.{name}")
    elif name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
    else:
        raise AttributeError(f"module 'zoo' has no attribute {name!r}")
    globals()[name] = value  # imported once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if "keras" in sys.modules and not _initializing(sys.modules["keras"]):
    register_all()
elif not any(isinstance(finder, _RegisterWithKeras) for finder in sys.meta_path):
    sys.meta_path.insert(0, _RegisterWithKeras())
