"""RBM, DenseTied and Highway against NumPy; the RBM learns binarized digits; ties survive a safe reload."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.callbacks.helpers import digits
from tests.zoo.helpers import run_layer_test
from zoo.layers import RBM, DenseTied, Highway

RNG = np.random.default_rng(0)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _softplus(z):
    return np.logaddexp(0.0, z)


def _rbm(visible: str, width: int = 5, units: int = 3) -> RBM:
    rbm = RBM(units, visible=visible, seed=0)
    rbm.build((None, width))
    for variable in rbm.weights:  # biases away from zero, so every term of the reference counts
        variable.assign(RNG.normal(scale=0.5, size=variable.shape).astype("float32"))
    return rbm


def _params(rbm: RBM):
    return np.asarray(rbm.kernel.numpy(), "float64"), np.asarray(rbm.visible_bias.numpy(), "float64"), np.asarray(rbm.hidden_bias.numpy(), "float64")


def _gradients(rbm: RBM, v0, vk) -> dict[str, np.ndarray]:
    """The backend's gradients of the CD loss with respect to the RBM's weights, by name."""
    variables = rbm.trainable_variables
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = rbm.contrastive_divergence_loss(v0, vk)
        grads = tape.gradient(loss, variables)
    else:
        import jax

        def loss(values):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return rbm.contrastive_divergence_loss(v0, vk)

        grads = jax.grad(loss)([v.value for v in variables])
    return {v.path.rsplit("/", 1)[-1]: np.asarray(g, "float64") for v, g in zip(variables, grads)}


@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
def test_rbm_free_energy_and_cd_gradients_match_numpy(visible):
    rbm = _rbm(visible)
    W, b, c = _params(rbm)
    v0 = RNG.uniform(size=(7, 5)) if visible == "bernoulli" else RNG.normal(size=(7, 5))
    vk = (RNG.uniform(size=(7, 5)) > 0.5).astype("float64") if visible == "bernoulli" else RNG.normal(size=(7, 5))
    hidden = _softplus(v0 @ W + c).sum(axis=1)
    expected = -(v0 @ b) - hidden if visible == "bernoulli" else 0.5 * ((v0 - b) ** 2).sum(axis=1) - hidden
    np.testing.assert_allclose(np.asarray(rbm.free_energy(v0.astype("float32"))), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(rbm.hidden_probabilities(v0.astype("float32"))), _sigmoid(v0 @ W + c), rtol=1e-5, atol=1e-6)

    # CD: the gradient of mean F(v0) - mean F(vk) is minus (data statistics - model statistics)
    p0, pk = _sigmoid(v0 @ W + c), _sigmoid(vk @ W + c)
    n = len(v0)
    grads = _gradients(rbm, v0.astype("float32"), vk.astype("float32"))
    np.testing.assert_allclose(grads["kernel"], -(v0.T @ p0 - vk.T @ pk) / n, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grads["visible_bias"], -(v0.mean(0) - vk.mean(0)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grads["hidden_bias"], -(p0.mean(0) - pk.mean(0)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("persistent", [False, True], ids=["cd1", "pcd"])
def test_an_rbm_on_binarized_digits_lowers_its_reconstruction_error(persistent, tmp_path):
    x = (digits()[0] > 0.5).astype("float32")
    keras.utils.set_random_seed(0)
    rbm = RBM(64, k=1, persistent=persistent, chains=32, seed=0)
    model = keras.Sequential([keras.Input((64,)), rbm])
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.5))  # the loss is the RBM's own
    before = float(rbm.reconstruction_error(x))
    chain = np.array(rbm.chain.numpy()) if persistent else None
    model.fit(x, epochs=3, batch_size=32, verbose=0)
    after = float(rbm.reconstruction_error(x))
    assert after < 0.6 * before, (before, after)
    if persistent:  # the fantasy particles moved, and are binary samples now
        moved = np.asarray(rbm.chain.numpy())
        assert not np.array_equal(moved, chain) and set(np.unique(moved)) <= {0.0, 1.0}
    # called, it is the encoder: p(h | v), the same after a safe reload
    model.save(tmp_path / "rbm.keras")
    reloaded = keras.saving.load_model(tmp_path / "rbm.keras", safe_mode=True)
    assert reloaded.layers[-1].get_config() == rbm.get_config()
    np.testing.assert_allclose(reloaded.predict(x[:16], verbose=0), model.predict(x[:16], verbose=0), atol=1e-6)


def test_rbm_arguments_are_checked():
    with pytest.raises(ValueError, match="argument `visible` got 'binary'"):
        RBM(4, visible="binary")
    with pytest.raises(ValueError, match="argument `k` got 0"):
        RBM(4, k=0)
    with pytest.raises(ValueError, match=r"takes rows \(batch, features\)"):
        RBM(4)(keras.Input((3, 3)))


def test_dense_tied_shares_one_kernel_through_training_and_a_safe_reload(tmp_path):
    x = digits()[0][:128]
    encoder = keras.layers.Dense(8, activation="sigmoid", name="encoder")
    inputs = keras.Input((64,))
    decoder = DenseTied(encoder, activation="sigmoid", name="decoder")
    model = keras.Model(inputs, decoder(encoder(inputs)))
    assert [w.path for w in model.weights] == ["encoder/kernel", "encoder/bias", "decoder/bias"]
    W = encoder.kernel.numpy()
    hidden = _sigmoid(x @ W + encoder.bias.numpy())
    np.testing.assert_allclose(model.predict(x, verbose=0), _sigmoid(hidden @ W.T + decoder.bias.numpy()), rtol=1e-5, atol=1e-6)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, x, epochs=1, batch_size=32, verbose=0)

    model.save(tmp_path / "tied.keras")
    reloaded = keras.saving.load_model(tmp_path / "tied.keras", safe_mode=True)
    assert reloaded.get_layer("decoder").tied_to is reloaded.get_layer("encoder")
    assert len(reloaded.weights) == 3
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    # training the reloaded model moves the one kernel that both directions use
    reloaded.compile(optimizer=keras.optimizers.SGD(1.0), loss="binary_crossentropy")
    reloaded.fit(x, x, epochs=1, batch_size=32, verbose=0)
    W2, encoder2 = reloaded.get_layer("encoder").kernel.numpy(), reloaded.get_layer("encoder")
    assert not np.allclose(W2, W)
    hidden = _sigmoid(x @ W2 + encoder2.bias.numpy())
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), _sigmoid(hidden @ W2.T + reloaded.get_layer("decoder").bias.numpy()),
                               rtol=1e-5, atol=1e-6)


def test_dense_tied_refuses_a_width_that_does_not_fit():
    encoder = keras.layers.Dense(8)
    inputs = keras.Input((64,))
    encoder(inputs)
    with pytest.raises(ValueError, match="inputs of width 5, but the tied layer"):
        DenseTied(encoder)(keras.Input((5,)))
    with pytest.raises(ValueError, match="argument `tied_to` got 'dense'"):
        DenseTied("dense")


def test_highway_matches_numpy_and_starts_mostly_carrying(tmp_path):
    run_layer_test(lambda: Highway(activation="tanh", transform_bias=-2.0), (6,), tmp_path, expected_output_shape=(6,))
    layer = Highway(activation="relu", transform_bias=-3.0)
    x = RNG.normal(size=(4, 6)).astype("float32")
    y = np.asarray(layer(x))
    np.testing.assert_array_equal(layer.gate_bias.numpy(), np.full(6, -3.0, "float32"))
    H = np.maximum(x @ layer.kernel.numpy() + layer.bias.numpy(), 0)
    T = _sigmoid(x @ layer.gate_kernel.numpy() + layer.gate_bias.numpy())
    np.testing.assert_allclose(y, T * H + (1 - T) * x, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="argument `transform_bias` got nan"):
        Highway(transform_bias=float("nan"))
