"""The zoo's optimizers and schedules against hand-computed NumPy references, and on real fits."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from zoo._keras import learning_rate_object
from zoo.optimizers import AdaMod, Backstitch, LayerwiseAdam, LayerwiseSGD, Yogi, clip_by_layer
from zoo.schedules import OneCycle, StepDecay, TriangularCyclical, WarmUp

GRADS = [np.array([0.5, -1.0, 2.0], "float32"), np.array([-0.2, 0.3, 0.0], "float32"), np.array([1.5, 1.5, -0.5], "float32"),
         np.array([0.01, -3.0, 0.7], "float32")]
START = np.array([1.0, -2.0, 0.5], "float32")


def run(optimizer, grads=GRADS):
    variable = keras.Variable(START.copy())
    for g in grads:
        optimizer.apply([keras.ops.convert_to_tensor(g)], [variable])
    return np.asarray(variable.numpy() if hasattr(variable, "numpy") else variable.value)


def yogi_reference(lr=0.01, b1=0.9, b2=0.999, eps=1e-3, v0=1e-6):
    x, m, v = START.astype("float64"), np.zeros(3), np.full(3, v0)
    for t, g in enumerate(GRADS, start=1):
        m = b1 * m + (1 - b1) * g
        v = v - (1 - b2) * np.sign(v - g**2) * g**2
        x = x - lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
    return x


def adamod_reference(lr=0.01, b1=0.9, b2=0.999, b3=0.9, eps=1e-8):
    x, m, v, s = START.astype("float64"), np.zeros(3), np.zeros(3), np.zeros(3)
    for t, g in enumerate(GRADS, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        eta = lr * np.sqrt(1 - b2**t) / (1 - b1**t) / (np.sqrt(v) + eps)
        s = b3 * s + (1 - b3) * eta
        x = x - np.minimum(eta, s) * m
    return x


def test_yogi_matches_its_update_rule():
    np.testing.assert_allclose(run(Yogi(learning_rate=0.01)), yogi_reference(), rtol=1e-5, atol=1e-6)


def test_adamod_matches_its_update_rule_and_caps_early_steps():
    np.testing.assert_allclose(run(AdaMod(learning_rate=0.01, beta_3=0.9)), adamod_reference(), rtol=1e-5, atol=1e-6)
    # The cap: AdaMod's first step is (1 - beta_3) times Adam's.
    adam_step = START - run(keras.optimizers.Adam(0.01, epsilon=1e-8), GRADS[:1])
    adamod_step = START - run(AdaMod(0.01, beta_3=0.9), GRADS[:1])
    np.testing.assert_allclose(adamod_step, 0.1 * adam_step, rtol=1e-4)


def test_backstitch_steps_back_then_forward():
    alpha, lr = 0.3, 0.1
    x = START.astype("float64")
    for t, g in enumerate(GRADS):
        x = x + alpha * lr * g if t % 2 == 0 else x - (1 + alpha) * lr * g
    np.testing.assert_allclose(run(Backstitch(lr, alpha=alpha)), x, rtol=1e-6)


def test_layerwise_clipping_gives_each_layer_its_own_norm():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="hidden"), keras.layers.Dense(1, name="head")])
    grads = [np.full(v.shape, 3.0, "float32") for v in model.trainable_variables]
    clipped = [np.asarray(g) for g in clip_by_layer(grads, model.trainable_variables, {"head": 10.0, "*": 1.0})]
    # hidden: 8 values of 3 (norm 8.49) scaled to norm 1; head: 3 values of 3 (norm 5.2) under 10, kept.
    np.testing.assert_allclose(np.sqrt(sum((g**2).sum() for g in clipped[:2])), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.concatenate([g.ravel() for g in clipped[2:]]), 3.0)
    untouched = clip_by_layer(grads, model.trainable_variables, {"other*": 1.0})
    assert all(np.array_equal(np.asarray(a), b) for a, b in zip(untouched, grads))


def test_layerwise_sgd_applies_the_clipped_gradient():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="hidden"), keras.layers.Dense(1, name="head")])
    before = [np.asarray(v.numpy() if hasattr(v, "numpy") else v.value).copy() for v in model.trainable_variables]
    grads = [np.full(v.shape, 3.0, "float32") for v in model.trainable_variables]
    LayerwiseSGD(1.0, layer_clipnorm={"head": 10.0, "*": 1.0}).apply(grads, model.trainable_variables)
    steps = [b - np.asarray(v.numpy() if hasattr(v, "numpy") else v.value) for b, v in zip(before, model.trainable_variables)]
    hidden = np.concatenate([s.ravel() for s in steps[:2]])
    head = np.concatenate([s.ravel() for s in steps[2:]])
    np.testing.assert_allclose(np.linalg.norm(hidden), 1.0, rtol=1e-5)
    np.testing.assert_allclose(head, 3.0)  # 3 values of 3: norm 5.2, under the head's 10
    LayerwiseSGD(1.0, layer_clipnorm={"head": 2.0, "*": 1.0}).apply(grads, model.trainable_variables)
    after = [np.asarray(v.numpy() if hasattr(v, "numpy") else v.value) for v in model.trainable_variables]
    second = np.concatenate([(b - s - a).ravel() for b, s, a in zip(before[2:], steps[2:], after[2:])])
    np.testing.assert_allclose(np.linalg.norm(second), 2.0, rtol=1e-5)


@pytest.mark.parametrize("optimizer", [lambda: Yogi(0.05), lambda: AdaMod(0.05, beta_3=0.99)])
def test_yogi_and_adamod_converge_on_a_regression(optimizer):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 5)).astype("float32")
    y = x @ np.array([1.0, -2.0, 0.5, 3.0, 0.0], "float32")[:, None] + 0.5
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer(), loss="mse")
    history = model.fit(x, y, epochs=60, batch_size=32, verbose=0).history["loss"]
    assert history[0] > 1.0 and history[-1] < 0.01


def test_keras_machinery_keeps_working_around_the_zoo_optimizers(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 3, 64)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3, activation="softmax", name="head")])
    optimizer = Yogi(WarmUp(OneCycle(0.05, total_steps=20), warmup_steps=4), clipnorm=1.0, use_ema=True, weight_decay=1e-4,
                     layer_clipnorm={"head": 2.0})
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    losses = model.fit(x, y, batch_size=16, epochs=5, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert int(np.asarray(optimizer.iterations)) == 20
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert type(reloaded.optimizer) is Yogi and reloaded.optimizer.get_config() == optimizer.get_config()
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("cls", [Yogi, AdaMod, Backstitch, LayerwiseAdam])
def test_optimizer_config_round_trip(cls):
    optimizer = cls(learning_rate=0.02, layer_clipnorm={"head": 3.0})
    assert cls.from_config(optimizer.get_config()).get_config() == optimizer.get_config()


@pytest.mark.parametrize(
    "factory, argument",
    [
        (lambda: Yogi(beta_1=1.0), "beta_1"),
        (lambda: AdaMod(beta_3=-0.5), "beta_3"),
        (lambda: Backstitch(alpha=-1), "alpha"),
        (lambda: LayerwiseAdam(layer_clipnorm={"*": 0}), r"layer_clipnorm\['\*'\]"),
        (lambda: StepDecay(0.1, factor=2.0), "factor"),
        (lambda: TriangularCyclical(0.1, 0.01), "max_learning_rate"),
        (lambda: OneCycle(0.1, total_steps=100, pct_start=1.0), "pct_start"),
        (lambda: WarmUp(0.1, warmup_steps=0), "warmup_steps"),
    ],
)
def test_bad_arguments_name_the_argument(factory, argument):
    with pytest.raises(ValueError, match=rf"argument `{argument}` got"):
        factory()


def test_schedules_match_their_formulas():
    steps = np.arange(0, 400, 7)
    step = StepDecay(0.1, factor=0.5, every=3, steps_per_epoch=20)
    np.testing.assert_allclose([float(step(s)) for s in steps], 0.1 * 0.5 ** (steps // 60), rtol=1e-6)

    clr = TriangularCyclical(0.01, 0.1, step_size=50, mode="triangular2")
    cycle = np.floor(1 + steps / 100)
    x = np.abs(steps / 50 - 2 * cycle + 1)
    np.testing.assert_allclose([float(clr(s)) for s in steps], 0.01 + 0.09 * np.maximum(0, 1 - x) / 2 ** (cycle - 1), rtol=1e-5)

    one = OneCycle(0.1, total_steps=200, pct_start=0.25, div_factor=10, final_div_factor=100, anneal="linear")
    expected = np.where(steps < 50, 0.01 + (0.1 - 0.01) * steps / 50,
                        0.1 + (1e-4 - 0.1) * np.clip((steps - 50) / 150, 0, 1))
    np.testing.assert_allclose([float(one(s)) for s in steps], expected, rtol=1e-5, atol=1e-8)
    cosine = OneCycle(0.1, total_steps=200)
    assert float(cosine(60)) == pytest.approx(0.1, rel=1e-5) and float(cosine(0)) == pytest.approx(0.004, rel=1e-5)

    warm = WarmUp(StepDecay(0.1, factor=0.5, every=10), warmup_steps=5)
    np.testing.assert_allclose([float(warm(s)) for s in (0, 1, 5, 15, 25)], [0.0, 0.02, 0.1, 0.05, 0.025], rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize(
    "schedule",
    [StepDecay(0.1, every=2, steps_per_epoch=3), TriangularCyclical(1e-3, 1e-2, 10, mode="exp_range", gamma=0.99),
     OneCycle(0.1, 50), WarmUp(OneCycle(0.1, 50), 5), WarmUp(0.01, 5)],
)
def test_schedules_serialize_inside_an_optimizer(schedule):
    optimizer = keras.optimizers.SGD(schedule)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    for s in (0, 3, 17, 60):
        assert float(restored.learning_rate_schedule(s) if hasattr(restored, "learning_rate_schedule") else learning_rate_object(restored)(s)) == pytest.approx(float(schedule(s)))
