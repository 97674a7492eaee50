"""The report's criteria for the four redesigned reproductions, on made-up outcomes: one where the claim holds and
one where it does not, so a row's "held" means what its claim says."""

from __future__ import annotations

import math

import pytest

from tests.scripts.test_reproduce import _reproduce

reproduce = _reproduce()
Outcome = reproduce.Outcome


def _tested(accuracies: list[float], **fields) -> "reproduce.Outcome":
    return Outcome([{"loss": [1.0]} for _ in accuracies], metrics=[{"test_accuracy": a} for a in accuracies], **fields)


def _deep(ratio_per_layer: float, seeds: int = 3) -> list[list[float]]:
    """Gradient norms of 10 hidden layers and an output layer, falling by `ratio_per_layer` towards the input."""
    return [[ratio_per_layer ** (9 - i) for i in range(10)] + [1.0] for _ in range(seeds)]


def _changes(first: float, last: float, seeds: int = 3) -> list[list[float]]:
    return [[first] + [0.01] * 8 + [last, 0.05] for _ in range(seeds)]


def test_vanishing_gradients_holds_when_the_lower_layers_barely_move():
    outcomes = {"sigmoid + Glorot": _tested([0.1] * 3, gradient_norms=_deep(0.25), weight_changes=_changes(1e-8, 5e-3)),
                "ReLU + He": _tested([0.5] * 3, gradient_norms=_deep(0.9), weight_changes=_changes(3e-3, 8e-3))}
    text, held = reproduce._vanishing_sgd(outcomes)
    assert held, text
    assert "x4.0 a layer" in text and "3.8e-06" in text  # 0.25 ** 9: about 4x a layer, to about 1e-6


def test_vanishing_gradients_does_not_hold_when_the_first_layer_moves():
    outcomes = {"sigmoid + Glorot": _tested([0.1] * 3, gradient_norms=_deep(0.25), weight_changes=_changes(1e-3, 5e-3)),
                "ReLU + He": _tested([0.5] * 3, gradient_norms=_deep(0.9), weight_changes=_changes(3e-3, 8e-3))}
    assert not reproduce._vanishing_sgd(outcomes)[1]
    outcomes["sigmoid + Glorot"].gradient_norms = _deep(0.8)  # and the gradients no longer vanish
    outcomes["sigmoid + Glorot"].weight_changes = _changes(1e-8, 5e-3)
    assert not reproduce._vanishing_sgd(outcomes)[1]


def _saturation_outcomes(saturated_accuracy: list[float]) -> dict:
    return {"tanh + Glorot": _tested([0.60, 0.62, 0.61], saturation=[0.01, 0.02, 0.01]),
            "tanh + N(0,1)": _tested(saturated_accuracy, saturation=[0.8, 0.8, 0.8]),
            "ReLU + He": _tested([0.52, 0.55, 0.50])}


def test_saturation_holds_when_saturated_nets_train_worse():
    text, held = reproduce._saturation(_saturation_outcomes([0.20, 0.25, 0.22]))
    assert held and "80% of units saturated" in text and "does not saturate" in text


def test_saturation_does_not_hold_when_saturated_nets_train_as_well():
    assert not reproduce._saturation(_saturation_outcomes([0.48, 0.60, 0.52]))[1]


def _losses(epochs_to_one: list[float]) -> list[dict]:
    """Training losses that first reach 1.0 at the given epochs (inf: never, in 30 epochs)."""
    return [{"loss": [2.0 if i + 1 < e else 0.9 for i in range(30)]} for e in epochs_to_one]


@pytest.mark.parametrize("with_bn, without, held", [
    ([9, 10, 9, 10, 9], [20, 23, 21, 22, 20], True),
    ([9, 10, 9, 10, 25], [20, 23, 21, 22, 20], False),  # one seed slower with BN
    ([9, 10, 9, 10, math.inf], [20, 23, 21, 22, math.inf], False),  # a BN seed never got there
    ([20, 23, 21, 22, 20], [20, 23, 21, 22, 20], False),  # level, not ahead
])
def test_batch_norm_speed_counts_epochs_to_a_training_loss(with_bn, without, held):
    outcomes = {"no BN": Outcome(_losses(without)), "BN": Outcome(_losses(with_bn))}
    text, result = reproduce._batch_norm_speed(outcomes)
    assert result == held, text


def _curve(peak_epoch: int, peak: float, final: float, epochs: int) -> list[float]:
    return [peak - 0.01 * abs(peak_epoch - i) if i <= peak_epoch else peak - (peak - final) * (i - peak_epoch) / (epochs - peak_epoch)
            for i in range(1, epochs + 1)]


def _early_stopping_outcomes(final: float, stopped_test: list[float]) -> dict:
    full = Outcome([{"loss": [1.0] * 40, "val_accuracy": _curve(5, 0.72, final, 40)} for _ in range(3)],
                   metrics=[{"test_accuracy": a} for a in (0.62, 0.60, 0.63)])
    stopped = Outcome([{"loss": [1.0] * 10, "val_accuracy": _curve(5, 0.72, 0.70, 10)} for _ in range(3)],
                      metrics=[{"test_accuracy": a} for a in stopped_test])
    return {"full length": full, "early stopping": stopped}


def test_early_stopping_holds_where_longer_training_degrades():
    text, held = reproduce._early_stopping(_early_stopping_outcomes(0.60, [0.70, 0.69, 0.71]))
    assert held and "after 10 epochs" in text and "after 40 epochs" in text and "peak at epoch 5, 5, 5" in text


def test_one_noisy_last_epoch_does_not_hide_a_degrading_curve():
    outcomes = _early_stopping_outcomes(0.60, [0.70, 0.69, 0.71])
    outcomes["full length"].histories[1]["val_accuracy"][-1] = 0.75  # one seed's last epoch above its peak
    assert reproduce._early_stopping(outcomes)[1]


def test_early_stopping_is_no_test_where_longer_training_does_not_degrade():
    text, held = reproduce._early_stopping(_early_stopping_outcomes(0.715, [0.70, 0.69, 0.71]))
    assert not held and "did not degrade" in text


def test_early_stopping_does_not_hold_when_it_keeps_no_better_test_accuracy():
    assert not reproduce._early_stopping(_early_stopping_outcomes(0.60, [0.62, 0.61, 0.64]))[1]
