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
(`zoo>Name`) are imported as soon as Keras is, now if it already is, or right
after Keras's own import otherwise (so `import zoo` alone still imports no Keras).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from typing import Any

_MODULES = ("activations", "architectures", "layers", "losses", "optimizers", "schedules", "callbacks", "builders")

# name -> the module that defines it
_API = {
    "Spec": "zoo.builders.spec",
    "SpecError": "zoo.builders.errors",
    "load_spec": "zoo.builders.spec",
    "RunPlan": "zoo.builders.plan",
    "build_plan": "zoo.builders.plan",
    "validate": "zoo.builders.plan",
    "build_model": "zoo.builders.model",
    "RunResult": "zoo.builders.train",
    "train": "zoo.builders.train",
    "resume": "zoo.builders.train",
    "evaluate": "zoo.builders.inference",
    "predict": "zoo.builders.inference",
    "load_model": "zoo.builders.inference",
    "tune": "zoo.builders.tune",
    "SpecHyperModel": "zoo.builders.hypermodel",
    "build_hypermodel": "zoo.builders.hypermodel",
}

__all__ = sorted([*_MODULES, *_API, "register_all"])

# The modules whose classes are registered with Keras as `zoo>Name`.
_REGISTERING = ("activations", "architectures", "callbacks", "layers", "losses", "optimizers", "schedules")


def register_all() -> None:
    """Import every module that registers zoo classes with Keras, so saved models that use them load."""
    for name in _REGISTERING:
        importlib.import_module(f"zoo.{name}")


class _RegisterAfterKeras(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds `keras` with the finders after it, lets Keras's own loader run, then calls `register_all`.

    The hook takes itself off `sys.meta_path` at its first use and puts Keras's loader back on the
    module, so nothing of it remains after Keras is imported."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "keras":
            return None
        sys.meta_path[:] = [finder for finder in sys.meta_path if finder is not self]
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None:
            for finder in sys.meta_path:
                spec = finder.find_spec(fullname, path, target) if hasattr(finder, "find_spec") else None
                if spec is not None:
                    break
        if spec is None or spec.loader is None:
            return spec
        self._loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__spec__.loader = module.__loader__ = self._loader
        self._loader.exec_module(module)
        try:
            register_all()
        except Exception as error:  # never break `import keras` for a user: the load that needs a class says so
            warnings.warn(f"keras-zoo could not register its classes with Keras ({type(error).__name__}: {error}); "
                          "saved models that use them will not load.", stacklevel=2)


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


if "keras" in sys.modules:
    register_all()
elif not any(isinstance(finder, _RegisterAfterKeras) for finder in sys.meta_path):
    sys.meta_path.insert(0, _RegisterAfterKeras())
