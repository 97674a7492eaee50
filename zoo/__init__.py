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
costs no more than importing Keras. A saved model that uses zoo classes loads
with `zoo.load_model(path)` (which registers them all first) or, in your own
code, after importing the zoo modules whose classes it uses.
"""

from __future__ import annotations

import importlib
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

__all__ = sorted([*_MODULES, *_API])


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
