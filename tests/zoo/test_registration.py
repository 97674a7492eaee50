"""`import zoo` is enough for `keras.saving.load_model` of a model with zoo classes, before or after Keras is
imported, and `import zoo` alone still imports no Keras (so `zoo --help` stays quick)."""

from __future__ import annotations

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from tests.conftest import ROOT
from zoo.activations import lecun_tanh
from zoo.layers import Maxout
from zoo.optimizers import Yogi
from zoo.schedules import OneCycle


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A trained model with a zoo layer, activation, optimizer and schedule, and its predictions."""
    path = tmp_path_factory.mktemp("registration") / "model.keras"
    inputs = keras.Input((6,))
    hidden = Maxout(8, pieces=3)(inputs)
    hidden = keras.layers.Dense(8, activation=lecun_tanh)(hidden)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))
    model.compile(Yogi(learning_rate=OneCycle(max_learning_rate=0.01, total_steps=10)), "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(32, 6)).astype("float32")
    model.fit(x, np.arange(32) % 3, epochs=1, verbose=0)
    model.save(path)
    np.save(path.with_suffix(".npy"), model.predict(x, verbose=0))
    np.save(path.with_name("x.npy"), x)
    return path


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=180,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


LOAD = """
import numpy as np
from zoo._keras import learning_rate_object
model = keras.saving.load_model({path!r}, safe_mode=True)
assert np.allclose(model.predict(np.load({x!r}), verbose=0), np.load({expected!r}), atol=1e-6)
assert type(model.optimizer).__name__ == "Yogi" and type(learning_rate_object(model.optimizer)).__name__ == "OneCycle"
print("loaded")
"""


@pytest.mark.parametrize("imports", [
    "import zoo\nimport keras",
    "import keras\nimport zoo",
    "import zoo.batches\nimport keras",  # a zoo module whose own `import keras` comes first
    "from zoo.builders.data.load import load_data\nimport keras",
])
def test_import_zoo_is_enough_to_load_a_saved_model(saved, imports):
    code = "import warnings\nwarnings.simplefilter('error')\n" + imports + LOAD.format(path=str(saved), x=str(saved.with_name("x.npy")), expected=str(saved.with_suffix(".npy")))
    done = _python(code)
    assert done.stdout.strip().endswith("loaded"), done.stderr[-2000:]


def test_without_zoo_keras_cannot_load_it(saved):
    """The control: the classes come from `import zoo`, not from something else in the environment."""
    done = _python(f"import keras\nkeras.saving.load_model({str(saved)!r}, safe_mode=True)")
    assert done.returncode != 0 and "Maxout" in done.stderr


def test_import_zoo_alone_imports_no_keras_and_leaves_no_hook_after_keras():
    done = _python("import sys, zoo\nprint('keras' in sys.modules)\nimport keras\n"
                   "print(any(type(f).__module__ == 'zoo' for f in sys.meta_path), type(keras.__loader__).__name__)")
    assert done.stdout.split()[-3:] == ["False", "False", "SourceFileLoader"], done.stderr[-2000:]
