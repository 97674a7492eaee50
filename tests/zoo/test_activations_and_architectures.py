"""Activations against NumPy, every architecture family trained and reloaded, and import hygiene."""

from __future__ import annotations

import subprocess
import sys

import keras
import numpy as np
import pytest

from tests.conftest import ROOT
from tests.zoo.helpers import gradients
from zoo import architectures
from zoo.activations import lecun_tanh, noisy_relu, tanh_linear

X = np.linspace(-4, 4, 41, dtype="float32")


def test_activations_match_their_formulas_and_load_by_name(tmp_path):
    np.testing.assert_allclose(np.asarray(lecun_tanh(X)), 1.7159 * np.tanh(2 * X / 3), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(lecun_tanh(np.float32(1.0))), 1.0, atol=1e-3)  # f(1) = 1
    np.testing.assert_allclose(np.asarray(tanh_linear(X)), np.tanh(X) + 0.1 * X, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(noisy_relu(X)), np.maximum(X, 0))
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation=lecun_tanh), keras.layers.Dense(2, activation=tanh_linear)])
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert reloaded.layers[0].activation is lecun_tanh and reloaded.layers[1].activation is tanh_linear
    data = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(reloaded.predict(data, verbose=0), model.predict(data, verbose=0))


FAMILIES = [
    ("mlp", {"depth": 2, "units": 16, "batch_norm": True, "dropout": 0.1}, (40, 1)),
    ("cnn", {"filters": [8, 16], "dense_units": 16}, (40, 1)),
    ("cnn", {"filters": [4], "dense_units": 8, "batch_norm": True}, (8, 8, 1)),
    ("resnet", {"filters": [8, 16], "blocks_per_stage": 1, "drop_path": 0.1}, (40, 1)),
    ("resnet", {"filters": [4], "blocks_per_stage": 1}, (8, 8, 1)),
    ("rnn", {"cell": "gru", "units": 8, "layers": 2, "dropout": 0.1, "recurrent_dropout": 0.1}, (40, 1)),
    ("rnn", {"cell": "lstm", "units": 8, "bidirectional": True}, (20,)),
    ("gmlp", {"width": 16, "ffn_units": 32, "depth": 2, "patch_size": 4}, (40, 1)),
    ("gmlp", {"width": 8, "ffn_units": 16, "depth": 1, "patch_size": 2}, (8, 8, 1)),
    ("autoencoder", {"latent_dim": 4, "hidden": [16]}, (40, 1)),
    ("autoencoder", {"kind": "conv", "hidden": [8, 8], "latent_dim": 4, "noise": 0.1}, (40, 1)),
    ("autoencoder", {"kind": "conv", "hidden": [4], "latent_dim": 2}, (8, 8, 1)),
    ("vae", {"latent_dim": 2, "hidden": [16], "beta": 0.5}, (40, 1)),
    ("vae", {"kind": "conv", "latent_dim": 2, "hidden": [4, 4]}, (8, 8, 1)),
    ("autoencoder", {"latent_dim": 4, "hidden": [16], "tied": True}, (40,)),
    ("densenet", {"blocks": [2, 2], "growth_rate": 4}, (40, 1)),
    ("densenet", {"blocks": [2], "growth_rate": 4, "bottleneck": False}, (8, 8, 1)),
    ("highway", {"units": 16, "depth": 3, "dropout": 0.1}, (40,)),
    ("unet", {"filters": [4, 8]}, (40, 1)),
    ("unet", {"filters": [4]}, (8, 8, 1)),
    ("dbn", {"units": [16, 8]}, (40,)),
]


@pytest.mark.parametrize("name, params, shape", FAMILIES, ids=[f"{n}-{len(s)}d-{i}" for i, (n, _, s) in enumerate(FAMILIES)])
def test_architecture_trains_saves_and_reloads(name, params, shape, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(64,) + shape).astype("float32")
    keras.utils.set_random_seed(0)
    if architectures.reconstructs(name):
        model = architectures.get(name, input_shape=shape, **params)
        model.compile(optimizer="adam", loss="mse")
        y = x
    else:
        model = architectures.get(name, input_shape=shape, outputs=3, **params)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        y = rng.integers(0, 3, size=64)
    assert model.output_shape[1:] == (shape if architectures.reconstructs(name) else (3,))
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0).history["loss"]
    assert np.all(np.isfinite(history))
    grads = gradients(model, x[:4])
    assert all(g is not None and np.all(np.isfinite(g)) for g in grads)
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)


def _digit_images(rows: int = 512):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (x[:rows] / 16.0).astype("float32").reshape(-1, 8, 8, 1), y[:rows].astype("int32")


@pytest.mark.parametrize("name, params", [
    ("densenet", {"blocks": [2, 2], "growth_rate": 8}),
    ("highway", {"units": 32, "depth": 4}),
    ("unet", {"filters": [8, 16]}),
    ("vae", {"kind": "conv", "hidden": [8, 16], "latent_dim": 4}),
    ("autoencoder", {"hidden": [32], "latent_dim": 8, "tied": True, "output_activation": "sigmoid"}),
], ids=["densenet", "highway", "unet-denoise", "conv-vae", "tied-autoencoder"])
def test_new_families_learn_digit_images(name, params):
    """On scikit-learn's 8x8 digits: the classifiers reach three times chance (0.1) after 5 short epochs (BatchNorm's
    moving statistics are still settling), the reconstructing ones cut their loss."""
    x, y = _digit_images()
    keras.utils.set_random_seed(0)
    shape = (64,) if name in ("highway", "autoencoder") else (8, 8, 1)
    x = x.reshape((-1,) + shape)
    if architectures.reconstructs(name, **params):
        model = architectures.get(name, input_shape=shape, **params)
        model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy")
        history = model.fit(x, x, epochs=4, batch_size=32, verbose=0).history["loss"]
        assert history[-1] < 0.85 * history[0], history
    else:
        model = architectures.get(name, input_shape=shape, outputs=10, **params)
        model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x[:384], y[:384], epochs=5, batch_size=32, validation_data=(x[384:], y[384:]), verbose=0).history
        assert history["val_accuracy"][-1] > 0.3, history["val_accuracy"]


def test_unet_segments_digit_strokes():
    """classes: 2 gives a softmax per pixel; the masks are the digits' own strokes (pixel > 0.5)."""
    x, _ = _digit_images()
    masks = (x[..., 0] > 0.5).astype("int32")
    keras.utils.set_random_seed(0)
    model = architectures.get("unet", input_shape=(8, 8, 1), filters=[8, 16], classes=2)
    assert not architectures.reconstructs("unet", classes=2) and architectures.reconstructs("unet")
    assert model.output_shape == (None, 8, 8, 2)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:384], masks[:384], epochs=4, batch_size=32, verbose=0)
    accuracy = model.evaluate(x[384:], masks[384:], verbose=0, return_dict=True)["accuracy"]
    majority = max(masks[384:].mean(), 1 - masks[384:].mean())
    assert accuracy > majority + 0.1, (accuracy, majority)


def test_vae_adds_its_kl_term():
    model = architectures.get("vae", input_shape=(6,), latent_dim=2, hidden=[8], beta=2.0)
    x = np.random.default_rng(0).uniform(size=(16, 6)).astype("float32")
    model(x)
    (kl,) = model.losses
    assert float(kl) > 0
    zero_beta = architectures.get("vae", input_shape=(6,), latent_dim=2, hidden=[8], beta=0.0)
    zero_beta(x)
    assert float(zero_beta.losses[0]) == 0.0


def test_registry_errors_and_descriptions():
    assert set(architectures.names()) >= {"mlp", "cnn", "resnet", "autoencoder", "vae", "rnn", "gmlp", "densenet",
                                          "highway", "unet", "dbn"}
    with pytest.raises(ValueError, match="Did you mean 'resnet'"):
        architectures.get("resnt", input_shape=(4,))
    with pytest.raises(ValueError, match="takes no parameter 'dept'.*Did you mean 'depth'"):
        architectures.get("mlp", input_shape=(4,), dept=3)
    with pytest.raises(ValueError, match="argument `dropout` got 1.5"):
        architectures.get("mlp", input_shape=(4,), dropout=1.5)
    for name in architectures.names():
        text = architectures.describe(name)
        assert "input_shape (required)" in text and len(text.splitlines()) > 4


@pytest.mark.parametrize("modules", ["zoo.layers, zoo.optimizers, zoo.schedules, zoo.activations, zoo.architectures", "callbacks"])
def test_importing_the_zoo_or_the_callbacks_pulls_in_no_builder_yaml_tuner_or_tfds(modules):
    code = (
        f"import sys, {modules}\n"
        "banned = ('builders', 'yaml', 'keras_tuner', 'tensorflow_datasets')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in banned))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
