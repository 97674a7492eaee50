"""GradientMonitor and layer_gradient_norms on real training, in graph mode."""

from __future__ import annotations

import numpy as np
import pytest
import keras

from zoo.callbacks import GradientMonitor, layer_gradient_norms
from tests.callbacks.helpers import digits, mlp


def _numpy_norms(model, x, y):
    """A reference by finite differences would be slow; instead the same gradients through an eager tape."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, model(x, training=True)))
    layers = [layer for layer in model.layers if layer.trainable_weights]
    grads = tape.gradient(loss, [w for layer in layers for w in layer.trainable_weights])
    norms, index = {}, 0
    for layer in layers:
        count = len(layer.trainable_weights)
        norms[layer.name] = float(np.sqrt(sum(np.sum(np.square(g.numpy())) for g in grads[index:index + count])))
        index += count
    return norms


def test_layer_gradient_norms_match_an_eager_tape_and_show_vanishing_gradients():
    x, y, _, _ = digits()
    model = mlp([64] * 10, activation="sigmoid")
    norms = layer_gradient_norms(model, x[:256], y[:256])
    reference = _numpy_norms(model, x[:256], y[:256])
    assert list(norms) == list(reference)
    np.testing.assert_allclose(list(norms.values()), list(reference.values()), rtol=1e-4)
    values = list(norms.values())
    assert values[0] < 1e-4 * values[-1]  # the classic picture: sigmoid + Glorot, 10 layers deep


def test_monitor_records_inside_compiled_fit_warns_and_logs_to_history_and_tensorboard(tmp_path):
    x, y, xv, yv = digits()
    model = mlp([64] * 10, activation="sigmoid", jit_compile=False)
    monitor = GradientMonitor(every=10, vanishing=1e-5, exploding=1e3, probe=(x[:128], y[:128]), log_dir=str(tmp_path / "tb"), verbose=0)
    history = model.fit(x, y, batch_size=64, epochs=2, callbacks=[monitor], verbose=0)
    assert not model.run_eagerly
    steps_per_epoch = int(np.ceil(len(x) / 64))
    # every 10th of the 2 x 22 steps, plus the end of each epoch
    assert len(monitor.history) == len(range(0, 2 * steps_per_epoch, 10)) + 2
    assert all(set(record) >= {"step", "epoch", "probe_loss", "hidden_0", "out"} for record in monitor.history)
    # the norms follow training: the output layer's norm falls as the loss falls
    assert monitor.history[-1]["probe_loss"] < monitor.history[0]["probe_loss"]
    assert any("vanishing gradients in layer 'hidden_0'" in w for w in monitor.warnings_seen)
    assert not any("'out'" in w for w in monitor.warnings_seen)
    assert "grad_norm/hidden_0" in history.history and len(history.history["grad_norm/hidden_0"]) == 2
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_monitor_sees_exploding_gradients_and_clipping_keeps_them_bounded_in_training():
    """A large-scale regression at a high rate: the norms explode and the loss diverges;
    with clipnorm the optimizer's steps are bounded and training reaches a finite loss."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 8)).astype("float32")
    y = (x @ rng.normal(size=(8, 1)) * 1000).astype("float32")

    def fit(**clip):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(0.01, **clip), loss="mse")
        monitor = GradientMonitor(every=5, exploding=1e4, probe=(x, y), verbose=0)
        history = model.fit(x, y, batch_size=32, epochs=3, verbose=0, callbacks=[monitor, keras.callbacks.TerminateOnNaN()])
        return history.history["loss"], monitor

    loss, monitor = fit()
    assert not np.isfinite(loss[-1])
    assert any("exploding" in w for w in monitor.warnings_seen)
    for clip in ({"clipnorm": 1.0}, {"clipvalue": 0.5}, {"global_clipnorm": 1.0}):
        loss, _ = fit(**clip)
        assert np.isfinite(loss[-1]) and loss[-1] < loss[0], clip


def test_monitor_config_and_bad_arguments():
    monitor = GradientMonitor(every=5, vanishing=1e-6)
    assert GradientMonitor.from_config(monitor.get_config()).get_config() == monitor.get_config()
    with pytest.raises(ValueError, match="`every`"):
        GradientMonitor(every=0)
    with pytest.raises(ValueError, match="must be below"):
        GradientMonitor(vanishing=10, exploding=1)
    model = mlp([8])
    with pytest.raises(ValueError, match="no probe batch"):
        model.fit(*digits()[:2], epochs=1, verbose=0, callbacks=[GradientMonitor()])


JAX_SCRIPT = """
import numpy as np, keras
from zoo.callbacks import GradientMonitor
from tests.callbacks.helpers import digits, mlp
assert keras.backend.backend() == "jax"
x, y, _, _ = digits()
model = mlp([64] * 10, activation="sigmoid")
monitor = GradientMonitor(every=10, vanishing=1e-5, probe=(x[:128], y[:128]), verbose=0)
model.fit(x, y, batch_size=64, epochs=2, verbose=0, callbacks=[monitor])
steps = int(np.ceil(len(x) / 64))
assert len(monitor.history) == len(range(0, 2 * steps, 10)) + 2, len(monitor.history)
assert monitor.history[-1]["probe_loss"] < monitor.history[0]["probe_loss"]
assert any("'hidden_0'" in w for w in monitor.warnings_seen)
print("ok")
"""


def test_monitor_works_inside_a_jax_fit():
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    result = subprocess.run([sys.executable, "-c", JAX_SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=300,
                            env={**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "ok"


def test_gradient_check_agrees_with_numpy_and_catches_a_wrong_gradient():
    from zoo.callbacks import gradient_check

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 5)).astype("float32"), rng.integers(0, 3, size=16)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    report = gradient_check(model, x, y, parameters=10)
    assert report["dtype"] == "float64" and report["max_relative_error"] < 1e-7
    # softmax regression by hand: dL/dW = X^T (p - onehot(y)) / n
    w, b = (np.asarray(v, "float64") for v in model.get_weights())
    logits = x.astype("float64") @ w + b
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    expected = {"kernel": x.astype("float64").T @ (p - np.eye(3)[y]) / 16, "bias": (p - np.eye(3)[y]).mean(axis=0)}
    for check in report["checks"]:
        reference = expected[check["weight"].rsplit("/", 1)[-1]].reshape(-1)[check["index"]]
        assert check["analytic"] == pytest.approx(reference, rel=1e-6, abs=1e-12)
        assert check["numeric"] == pytest.approx(reference, rel=1e-6, abs=1e-9)
    np.testing.assert_array_equal(model.get_weights()[0], w.astype("float32"))  # the model itself is untouched

    @keras.saving.register_keras_serializable(package="tests")
    class HalfGradient(keras.layers.Layer):  # forward z, backward half of z's gradient
        def build(self, shape):
            self.w = self.add_weight(shape=(shape[-1], 3))

        def call(self, inputs):
            z = keras.ops.matmul(inputs, self.w)
            return keras.ops.softmax(0.5 * z + 0.5 * keras.ops.stop_gradient(z))

    wrong = keras.Sequential([keras.Input((5,)), HalfGradient()])
    wrong.compile("sgd", "sparse_categorical_crossentropy")
    assert gradient_check(wrong, x, y, parameters=5)["median_relative_error"] == pytest.approx(0.5, abs=1e-4)
