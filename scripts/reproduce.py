"""Reproduce classic training claims from specs: paired runs that differ in one technique (`zoo reproduce`).

Each experiment trains the variants of one base spec in specs/experiments/ (the
variants are command-line overrides, listed below), with the same data split and
budget, for each seed; it plots the validation curves (mean over seeds) and writes
one row into reports/REPRODUCTIONS.md: the claim, what was measured, and whether
it held on this run.

Usage:
    python scripts/reproduce.py all                 # every experiment, 3 seeds
    python scripts/reproduce.py vanishing_gradients optimizers --seeds 1
    python scripts/reproduce.py all --tiny          # 1 seed, 1 epoch, 128 rows: the smoke test
    zoo reproduce inductive_bias --seeds 3          # the same, from the command line
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS_DIR = ROOT / "specs" / "experiments"


@dataclass
class Variant:
    label: str
    overrides: list[str]  # "{source}" stands for the run directory the experiment's setup trained
    spec: str | None = None  # another base spec than the experiment's


@dataclass
class Outcome:
    """One variant over its seeds."""

    histories: list[dict]
    gradient_norms: list[list[float]] = field(default_factory=list)  # per seed: each weighted layer's, at init
    weight_changes: list[list[float]] = field(default_factory=list)  # per seed: ||W_end - W_init|| / ||W_init|| a layer
    saturation: list[float] = field(default_factory=list)  # per seed: saturated fraction of tanh/sigmoid units at init
    wall_times: list[float] = field(default_factory=list)
    metrics: list[dict] = field(default_factory=list)  # each run's metrics.json (test_accuracy on a test split)
    train_accuracy: list[float] = field(default_factory=list)  # inference mode, on the training rows

    def final(self, key: str) -> list[float]:
        return [h[key][-1] if h.get(key) else math.nan for h in self.histories]

    def test(self, key: str = "accuracy") -> list[float]:
        return [m.get(f"test_{key}", math.nan) for m in self.metrics]

    def gradient_ratios(self) -> list[float]:
        """Per seed, the first weighted layer's gradient norm at initialization over the last's (the output layer)."""
        return [norms[0] / norms[-1] for norms in self.gradient_norms]

    def epochs_run(self) -> list[int]:
        return [len(h.get("loss") or []) for h in self.histories]


@dataclass
class Experiment:
    name: str
    claim: str
    spec: str
    variants: list[Variant]
    measure: Callable[[dict[str, Outcome]], tuple[str, bool]]
    curve: str = "val_accuracy"
    gradients: bool = False  # record every weighted layer's gradient norm at initialization
    weight_change: bool = False  # record each weighted layer's relative weight change over training
    saturation: bool = False  # record the fraction of saturated tanh/sigmoid units at initialization
    setup: tuple[str, list[str]] | None = None  # a spec trained once first (per seed), e.g. a transfer source
    note: str = ""  # what was tried, shown in the report when the claim does not hold
    inference_train: bool = False  # score the trained model on its training rows in inference mode
    testbed: str = "digits"
    seeds: int = 3  # when --seeds is not given
    history: str = ""  # what earlier designs of this experiment measured: always shown in its row


def _mean(values: list[float]) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "nan"
    spread = f" ± {statistics.stdev(finite):.3f}" if len(finite) > 1 else ""
    return f"{statistics.mean(finite):.3f}{spread}"


def _m(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.mean(finite) if finite else math.nan


# -- the experiments ---------------------------------------------------------------------------


def _vanishing(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
    rows = [f"{label}: val acc {_mean(o.final('val_accuracy'))}, first/last gradient norm at init "
            f"{statistics.mean(o.gradient_ratios()):.1e}" for label, o in outcomes.items()]
    sigmoid = [outcomes["sigmoid + Glorot"], outcomes["sigmoid + N(0,1)"]]
    modern = [outcomes["ReLU + He"], outcomes["ELU + He"]]
    held = (all(_m(o.final("val_accuracy")) < 0.3 for o in sigmoid)
            and all(statistics.mean(o.gradient_ratios()) < 1e-3 for o in sigmoid)
            and all(_m(o.final("val_accuracy")) > 0.8 for o in modern))
    return "; ".join(rows), held


def _activations(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
    rows = [f"{label} {_mean(o.final('val_accuracy'))}" for label, o in outcomes.items()]
    saturating = max(_upper(outcomes[k], "val_accuracy") for k in ("sigmoid", "tanh"))
    others = min(_m(outcomes[k].final("val_accuracy")) for k in ("ReLU", "leaky ReLU", "ELU", "SELU + LeCun"))
    return "final val accuracy: " + ", ".join(rows), others > saturating


def _batch_norm(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
    target = 0.9
    without, with_bn = _epochs_to(outcomes["no BN"], target), _epochs_to(outcomes["BN"], target)
    text = (f"epochs to {target:.0%} val accuracy: without BN {without}, with BN {with_bn} "
            f"(final {_mean(outcomes['no BN'].final('val_accuracy'))} vs {_mean(outcomes['BN'].final('val_accuracy'))})")
    return text, _m(with_bn) < _m(without)


def _exploding(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
    rows = []
    for label, o in outcomes.items():
        finals = o.final("loss")
        nan = sum(not math.isfinite(v) for v in finals)
        finite = [f"{v:.3g}" for v in finals if math.isfinite(v)]
        rows.append(f"{label}: NaN/inf in {nan} of {len(finals)} seeds" + (f", final loss {', '.join(finite)}" if finite else "")
                    + f", {statistics.mean(len(h['loss']) for h in o.histories):.0f} epochs run on average")
    diverged = all(not math.isfinite(v) for v in outcomes["no clipping"].final("loss"))
    trained = all(all(math.isfinite(v) for v in o.final("loss")) for k, o in outcomes.items() if k != "no clipping")
    return "; ".join(rows), diverged and trained


def _ranking(key: str, higher: bool = False) -> Callable[[dict[str, Outcome]], tuple[str, bool]]:
    def measure(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
        order = sorted(outcomes, key=lambda k: _m(outcomes[k].final(key)), reverse=higher)
        text = f"final {key}, best first: " + ", ".join(f"{k} {_mean(outcomes[k].final(key))}" for k in order)
        return text, True
    return measure


def _optimizers(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
    text, _ = _ranking("loss")(outcomes)
    adaptive = min(_m(outcomes[k].final("loss")) for k in ("Adam", "RMSprop", "Yogi", "AdaMod"))
    return text, adaptive < _m(outcomes["SGD"].final("loss"))


def _schedules(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
    text, _ = _ranking("val_accuracy", higher=True)(outcomes)
    best_scheduled = max(_m(o.final("val_accuracy")) for k, o in outcomes.items() if k != "constant")
    return text, best_scheduled >= _m(outcomes["constant"].final("val_accuracy"))


def _regularization(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
    rows, gaps = [], {}
    for label, o in outcomes.items():
        gap = [t - v for t, v in zip(o.final("accuracy"), o.final("val_accuracy"))]
        gaps[label] = _m(gap)
        rows.append(f"{label}: train-val gap {_mean(gap)}, val acc {_mean(o.final('val_accuracy'))}")
    smaller = sum(gaps[k] < gaps["none"] for k in gaps if k != "none")
    return "; ".join(rows) + f" ({smaller} of {len(gaps) - 1} shrink the mean gap)", smaller == len(gaps) - 1


def _pretraining(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
    scratch, pretrained = outcomes["from scratch"].final("val_accuracy"), outcomes["pretrained"].final("val_accuracy")
    return f"val accuracy: from scratch {_mean(scratch)}, greedy supervised pretraining {_mean(pretrained)}", _m(pretrained) > _m(scratch) + 0.1


def _upper_of(values: list[float]) -> float:
    """Mean plus one standard deviation over the seeds: "better" has to clear the other side's spread."""
    finite = [v for v in values if math.isfinite(v)]
    return statistics.mean(finite) + (statistics.stdev(finite) if len(finite) > 1 else 0.0) if finite else math.nan


def _upper(outcome: Outcome, key: str) -> float:
    return _upper_of(outcome.final(key))


def _transfer(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
    text, _ = _ranking("val_accuracy", higher=True)(outcomes)
    reused = max(_m(o.final("val_accuracy")) for k, o in outcomes.items() if k != "from scratch")
    return text, reused > _upper(outcomes["from scratch"], "val_accuracy")


def _batch_size(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
    rows = [f"batch {label}: val acc {_mean(o.final('val_accuracy'))}, {_m(o.wall_times):.1f} s" for label, o in outcomes.items()]
    times = [_m(o.wall_times) for o in outcomes.values()]
    return "; ".join(rows), times[0] > times[-1]  # per-example steps cost the most time at equal epochs


def _per_layer(values: list[list[float]]) -> list[float]:
    """The mean over seeds of each layer's value."""
    return [statistics.mean(layer) for layer in zip(*values)] if values else []


def _hidden_gradient_ratio(norms: list[float]) -> float:
    """First hidden layer's gradient norm over the last hidden layer's (the output layer left out)."""
    return norms[0] / norms[-2] if len(norms) > 2 and norms[-2] > 0 else math.nan


VANISHING_PHRASE = ("with Glorot's initialization, gradients fall about 4x per layer, to about 1e-6 at the first hidden "
                    "layer, and the lower layers barely move")


def _vanishing_sgd(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
    """The notes' deep-sigmoid case, measured as they state it: the gradient norm falls layer by layer from the last
    hidden layer to the first (ratio under 1e-3, a factor over 2 a layer), and over training the first hidden layer's
    weights move less than a tenth as much, relatively, as the last hidden layer's; ReLU with He, the contrast, keeps
    its ratio above 1e-2."""
    rows, held = [], True
    for label, o in outcomes.items():
        ratio = _m([_hidden_gradient_ratio(n) for n in o.gradient_norms])
        layers = len(o.gradient_norms[0]) - 1 if o.gradient_norms else 0
        factor = ratio ** (-1 / (layers - 1)) if layers > 1 and ratio > 0 else math.nan
        change = _per_layer(o.weight_changes)
        moved = change[0] / change[-2] if len(change) > 2 and change[-2] > 0 else math.nan
        rows.append(f"{label}: first/last hidden gradient norm at init {ratio:.1e} (x{factor:.1f} a layer over "
                    f"{layers} hidden layers), relative weight change first/last hidden layer "
                    f"{change[0] if change else math.nan:.2g} / {change[-2] if len(change) > 1 else math.nan:.2g} "
                    f"(ratio {moved:.2g}), test acc {_mean(o.test())}")
        if label.startswith("sigmoid"):
            held = held and ratio < 1e-3 and factor > 2 and moved < 0.1
        else:
            held = held and ratio > 1e-2
    return "; ".join(rows), held


SATURATION_PHRASE = "tanh and sigmoid are hard to train once saturated"


def _saturation(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
    """Saturation as the variable: each saturating-scale variant (most units saturated at initialization) ends
    below tanh at Glorot's scale (few saturated) and below ReLU with He by more than its own spread."""
    rows = []
    for label, o in outcomes.items():
        saturated = f"{_m(o.saturation):.0%} of units saturated at init" if o.saturation else "does not saturate"
        rows.append(f"{label}: {saturated}, test acc {_mean(o.test())}")
    unsaturated = [k for k, o in outcomes.items() if not o.saturation or _m(o.saturation) < 0.1]
    saturated = [k for k, o in outcomes.items() if o.saturation and _m(o.saturation) > 0.5]
    held = (bool(unsaturated) and bool(saturated) and len(unsaturated) + len(saturated) == len(outcomes)
            and all(_upper_of(outcomes[s].test()) < min(_m(outcomes[u].test()) for u in unsaturated) for s in saturated))
    return "; ".join(rows), held


def _epochs_to(outcome: Outcome, target: float, key: str = "val_accuracy", below: bool = False) -> list[float]:
    """Per seed, the first epoch whose `key` reaches `target` (at or under it with `below`); inf if none did."""
    reached = (lambda v: v <= target) if below else (lambda v: v >= target)
    return [next((i + 1 for i, v in enumerate(h.get(key) or []) if math.isfinite(v) and reached(v)), math.inf)
            for h in outcome.histories]


BATCH_NORM_LOSS = 1.0


def _batch_norm_speed(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
    """Fewer training epochs, as the notes say: epochs until the training loss first reaches BATCH_NORM_LOSS, BN
    ahead of (or level with) no BN for every seed, and ahead on the mean."""
    without = _epochs_to(outcomes["no BN"], BATCH_NORM_LOSS, "loss", below=True)
    with_bn = _epochs_to(outcomes["BN"], BATCH_NORM_LOSS, "loss", below=True)
    mean_without, mean_with = sum(without) / len(without), sum(with_bn) / len(with_bn)  # inf when a seed never got there
    text = (f"epochs to training loss {BATCH_NORM_LOSS}: without BN {[_int(v) for v in without]} (mean {mean_without:.1f}), "
            f"with BN {[_int(v) for v in with_bn]} (mean {mean_with:.1f}); test accuracy "
            f"{_mean(outcomes['no BN'].test())} vs {_mean(outcomes['BN'].test())}")
    paired = all(b <= w for b, w in zip(with_bn, without))
    return text, paired and math.isfinite(mean_with) and mean_with < mean_without


def _int(value: float) -> int | str:
    return int(value) if math.isfinite(value) else "inf"


def _moving_average(curve: list[float], width: int = 5) -> np.ndarray:
    return np.convolve(np.asarray(curve, "float64"), np.ones(width) / width, mode="valid")


def _early_stopping(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
    """In a setting where longer training degrades validation accuracy (on the curve averaged over the seeds, the
    last five epochs' mean is at least 0.03 below the best five-epoch moving average), early stopping on the
    validation error keeps a test accuracy above the full run's mean plus its spread, in fewer epochs."""
    full, stopped = outcomes["full length"], outcomes["early stopping"]
    curves = [h["val_accuracy"] for h in full.histories if h.get("val_accuracy")]
    length = min((len(c) for c in curves), default=0)
    mean_curve = np.mean([c[:length] for c in curves], axis=0) if length >= 5 else np.array([])
    smoothed = _moving_average(mean_curve) if len(mean_curve) else np.array([])
    drop = float(smoothed.max() - smoothed[-1]) if len(smoothed) else math.nan
    peaks = [int(np.argmax(c)) + 1 for c in curves]
    degrades = math.isfinite(drop) and drop >= 0.03
    text = (f"full length: val accuracy (mean over seeds, 5-epoch moving average) peaks at epoch "
            f"{int(np.argmax(smoothed)) + 3 if len(smoothed) else 0} and ends {drop:.3f} below it (each seed's peak at "
            f"epoch {', '.join(map(str, peaks))}); test acc {_mean(full.test())} after {_m(full.epochs_run()):.0f} "
            f"epochs; early stopping: test acc {_mean(stopped.test())} after {_m(stopped.epochs_run()):.0f} epochs on "
            "average (best weights kept)")
    kept = _m(stopped.test()) > _upper_of(full.test()) and _m(stopped.epochs_run()) < _m(full.epochs_run())
    return text + ("" if degrades else " (the setting did not degrade: not a test of the claim)"), degrades and kept


def _batch_norm_high_rate(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
    rows = []
    for label, o in outcomes.items():
        diverged = sum(not math.isfinite(v) for v in o.final("loss"))
        rows.append(f"{label}: NaN/inf in {diverged} of {len(o.histories)} seeds, test acc {_mean(o.test())}")
    plain, bn = outcomes["no BN"], outcomes["BN"]
    plain_failed = all(not math.isfinite(l) or a < 0.2 for l, a in zip(plain.final("loss"), plain.test()))
    return "; ".join(rows), plain_failed and all(a > 0.4 for a in bn.test())


def _regularization_gap(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
    rows, gaps = [], {}
    for label, o in outcomes.items():
        gap = [t - v for t, v in zip(o.train_accuracy, o.test())]
        gaps[label] = gap
        rows.append(f"{label}: train-test gap {_mean(gap)}, test acc {_mean(o.test())}")
    none = _m(gaps["none"])
    smaller = [k for k in gaps if k != "none" and _upper_of(gaps[k]) < none]
    return ("; ".join(rows) + f" (gap: inference-mode accuracy on the training rows minus test accuracy; "
            f"{len(smaller)} of {len(gaps) - 1} shrink it by more than their spread)"), len(smaller) == len(gaps) - 1


def _schedules_budget(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
    order = sorted(outcomes, key=lambda k: -_m(outcomes[k].test()))
    text = "test accuracy, best first: " + ", ".join(f"{k} {_mean(outcomes[k].test())}" for k in order)
    best = max(_m(o.test()) for k, o in outcomes.items() if k != "constant")
    return text, best > _upper_of(outcomes["constant"].test())


def _transfer_test(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
    order = sorted(outcomes, key=lambda k: -_m(outcomes[k].test()))
    text = "test accuracy on classes 5-9, best first: " + ", ".join(f"{k} {_mean(outcomes[k].test())}" for k in order)
    reused = max(_m(o.test()) for k, o in outcomes.items() if k != "from scratch")
    return text, reused > _upper_of(outcomes["from scratch"].test())


def _inductive_bias(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
    acc = {k: _m(o.test()) for k, o in outcomes.items()}
    text = "test accuracy: " + ", ".join(f"{k} {_mean(o.test())}" for k, o in outcomes.items())
    ordered = all(acc[k] > _upper_of(outcomes["MLP"].test()) + 0.1 for k in ("CNN", "GRU"))
    shuffled = all(acc[k] - acc[f"{k}, shuffled"] > 0.15 for k in ("CNN", "GRU"))
    mlp_same = abs(acc["MLP"] - acc["MLP, shuffled"]) < 0.05
    return text + " (paper: MLP 0.68 / 0.68, CNN 0.94 / 0.56, GRU 0.91 / 0.57 ordered / shuffled)", ordered and shuffled and mlp_same


_DEEP = "deep_mlp.yaml"
_MLP = "mlp.yaml"
_DEEP_1D = "mnist1d_deep.yaml"
_WIDE_1D = "mnist1d_wide.yaml"
_RELU_HE = ["model.defaults.activation=relu", "model.defaults.kernel_initializer=he_normal"]
_STEPS = 57  # batches per epoch of MNIST-1D's 3,600 training rows at 64
_TARGET = ["data.classes=[5, 6, 7, 8, 9]", "data.limit=250"]  # the transfer target: classes 5-9, 250 labelled rows
_HEAD = "model.layers=[Dense: {units: 5, activation: softmax}]"  # on top of the reused layers
# label noise makes longer training memorize wrong labels; no dropout and no callbacks of the spec's own
_NOISY_CNN = ["data.label_noise=0.4", "model.dropout=0.0", "train.epochs=40", "train.callbacks=[]"]

EXPERIMENTS = [
    Experiment("vanishing_gradients",
               "A 20-layer sigmoid MLP with Glorot or N(0,1) initialization does not learn (first-layer gradient norm "
               "orders of magnitude below the last) while ReLU/ELU with He initialization learns.",
               _DEEP, [
                   Variant("sigmoid + Glorot", []),
                   Variant("sigmoid + N(0,1)", ["model.defaults.kernel_initializer={RandomNormal: {stddev: 1.0}}"]),
                   Variant("ReLU + He", ["model.defaults.activation=relu", "model.defaults.kernel_initializer=he_normal"]),
                   Variant("ELU + He", ["model.defaults.activation=elu", "model.defaults.kernel_initializer=he_normal"]),
               ], _vanishing, gradients=True,
               note="With Adam at 1e-3 the N(0,1) sigmoid network does learn: its first/last gradient ratio at initialization is about 1e-2, not orders of magnitude; only Glorot + sigmoid (ratio about 1e-13) stays at chance."),
    Experiment("activations",
               "On the same deep network, non-saturating activations (ReLU, leaky ReLU, ELU, SELU with LeCun normal) "
               "train better than saturating ones (sigmoid, tanh).",
               _DEEP, [
                   Variant("sigmoid", []),
                   Variant("tanh", ["model.defaults.activation=tanh"]),
                   Variant("ReLU", ["model.defaults.activation=relu", "model.defaults.kernel_initializer=he_normal"]),
                   Variant("leaky ReLU", ["model.defaults.activation={LeakyReLU: {negative_slope: 0.2}}", "model.defaults.kernel_initializer=he_normal"]),
                   Variant("ELU", ["model.defaults.activation=elu", "model.defaults.kernel_initializer=he_normal"]),
                   Variant("SELU + LeCun", ["model.defaults.activation=selu", "model.defaults.kernel_initializer=lecun_normal"]),
               ], _activations,
               note="Held means every non-saturating mean is above each saturating mean plus its standard deviation. "
                    "Tried: Adam 1e-3, 20 epochs; sigmoid stays at chance, while tanh (Glorot) trains about as well as ReLU."),
    Experiment("batch_norm",
               "BatchNorm reaches a target validation accuracy in fewer epochs.",
               _DEEP, [
                   Variant("no BN", ["model.defaults.activation=relu", "model.defaults.kernel_initializer=he_normal",
                                     "model.layers[0].repeat=8", "train.optimizer={SGD: {learning_rate: 0.01}}"]),
                   Variant("BN", ["model.defaults.activation=relu", "model.defaults.kernel_initializer=he_normal",
                                  "model.layers[0].repeat=8", "train.optimizer={SGD: {learning_rate: 0.01}}",
                                  "model.defaults.batch_norm=before_activation"]),
               ], _batch_norm,
               note="Tried: 8 ReLU layers, He init, SGD 0.01, BN before the activation. BN did not reach 90% sooner at this rate; the batch_norm_sigmoid row tries the saturating case."),
    Experiment("batch_norm_sigmoid",
               "BatchNorm lets a deep saturating network train: the 20-layer sigmoid MLP that stays at chance learns "
               "with BN before each activation.",
               _DEEP, [
                   Variant("no BN", []),
                   Variant("BN", ["model.defaults.batch_norm=before_activation"]),
               ], lambda outcomes: (f"final val accuracy: without BN {_mean(outcomes['no BN'].final('val_accuracy'))}, "
                                    f"with BN {_mean(outcomes['BN'].final('val_accuracy'))}",
                                    _m(outcomes["BN"].final("val_accuracy")) > _m(outcomes["no BN"].final("val_accuracy")) + 0.3)),
    Experiment("exploding_gradients",
               "A large-scale regression at a high learning rate diverges to NaN without clipping and trains with "
               "clipnorm or clipvalue.",
               "exploding.yaml", [
                   Variant("no clipping", []),
                   Variant("clipnorm 1", ["train.optimizer={SGD: {learning_rate: 0.05, clipnorm: 1.0}}"]),
                   Variant("clipvalue 0.5", ["train.optimizer={SGD: {learning_rate: 0.05, clipvalue: 0.5}}"]),
               ], _exploding, curve="loss", testbed="diabetes",
               note="Without clipping the loss explodes for every seed, but reaches NaN only for some: others end finite near 1e11. With clipping every seed trains."),
    Experiment("optimizers",
               "Adaptive and momentum methods lower the training loss faster than plain SGD at equal epochs.",
               _MLP, [
                   Variant("SGD", []),
                   Variant("momentum", ["train.optimizer={SGD: {learning_rate: 0.01, momentum: 0.9}}"]),
                   Variant("Nesterov", ["train.optimizer={SGD: {learning_rate: 0.01, momentum: 0.9, nesterov: true}}"]),
                   Variant("AdaGrad", ["train.optimizer={Adagrad: {learning_rate: 0.05}}"]),
                   Variant("RMSprop", ["train.optimizer={RMSprop: {learning_rate: 1.0e-3}}"]),
                   Variant("Adam", ["train.optimizer={Adam: {learning_rate: 1.0e-3}}"]),
                   Variant("Yogi", ["train.optimizer={Yogi: {learning_rate: 1.0e-2}}"]),
                   Variant("AdaMod", ["train.optimizer={AdaMod: {learning_rate: 1.0e-3}}"]),
               ], _optimizers, curve="loss"),
    Experiment("schedules",
               "A decaying or cyclical learning rate does at least as well as a constant one for SGD.",
               _MLP, [
                   Variant("constant", ["train.optimizer={SGD: {learning_rate: 0.05, momentum: 0.9}}"]),
                   Variant("step", ["train.optimizer={SGD: {learning_rate: {StepDecay: {initial_learning_rate: 0.05, factor: 0.5, every: 5, steps_per_epoch: 43}}, momentum: 0.9}}"]),
                   Variant("exponential", ["train.optimizer={SGD: {learning_rate: {ExponentialDecay: {initial_learning_rate: 0.05, decay_steps: 200, decay_rate: 0.6}}, momentum: 0.9}}"]),
                   Variant("inverse time", ["train.optimizer={SGD: {learning_rate: {InverseTimeDecay: {initial_learning_rate: 0.05, decay_steps: 100, decay_rate: 1.0}}, momentum: 0.9}}"]),
                   Variant("cyclical", ["train.optimizer={SGD: {learning_rate: {TriangularCyclical: {base_learning_rate: 0.005, max_learning_rate: 0.05, step_size: 172}}, momentum: 0.9}}"]),
                   Variant("one-cycle", ["train.optimizer={SGD: {learning_rate: {OneCycle: {max_learning_rate: 0.05, total_steps: 860}}, momentum: 0.9}}"]),
               ], _schedules,
               note="Tried: SGD with momentum 0.9, peak rate 0.05, 20 epochs on digits; every schedule ends within about 1% of the constant rate, which is best here."),
    Experiment("regularization",
               "On a small training subset, each regularizer shrinks the train/validation gap.",
               "small_subset.yaml", [
                   Variant("none", []),
                   Variant("L2", ["model.defaults.kernel_regularizer={L2: {l2: 1.0e-3}}"]),
                   Variant("L1", ["model.defaults.kernel_regularizer={L1: {l1: 1.0e-4}}"]),
                   Variant("dropout", ["model.defaults.dropout=0.5"]),
                   Variant("input noise", ["model.layers=[GaussianNoise: {stddev: 0.3}, Dense: {units: 512}, Dense: {units: 512}, Dense: {units: 10, activation: softmax}]"]),
                   Variant("max-norm", ["model.defaults.kernel_constraint={MaxNorm: {max_value: 1.0}}"]),
                   Variant("early stopping", ["train.callbacks=[EarlyStopping: {monitor: val_loss, patience: 3, restore_best_weights: true}]"]),
               ], _regularization,
               note="Train accuracy is the one Keras logs during training (with dropout and noise active). L2 1e-3, L1 1e-4, max-norm 1 and early stopping barely move the gap on 150 rows; dropout and input noise shrink it."),
    Experiment("pretraining",
               "Greedy layer-wise pretraining trains a deep sigmoid network that does not train from scratch in the same epochs.",
               "../deep_sigmoid_pretrain.yaml", [
                   Variant("from scratch", ["pretrain=null", "train.epochs=55"]),
                   Variant("pretrained", []),
               ], _pretraining),
    Experiment("transfer",
               "A model trained on digits 0-4, reused for 5-9 from 100 labelled rows, beats the same network "
               "trained from scratch on those rows (feature extraction, fine-tuning, or both in turn).",
               "../transfer_digits_5to9.yaml", [
                   Variant("feature extraction", ["transfer.from={source}", "transfer.unfreeze=null"]),
                   Variant("fine-tuning", ["transfer.from={source}", "transfer.unfreeze=null", "transfer.mode=fine_tune"]),
                   Variant("extract, then unfreeze", ["transfer.from={source}"]),
                   Variant("from scratch", ["data.classes=[5, 6, 7, 8, 9]", "data.validation_split=0.5", "data.limit=100",
                                            "data.batch_size=16"], spec="../digits_0to4.yaml"),
               ], _transfer, setup=("../digits_0to4.yaml", []),
               note="Held means the best reuse beats from-scratch by more than from-scratch's spread over the seeds. "
                    "Digits 5-9 are easy from 100 labelled rows already; the frozen 0-4 features (Adam 1e-3, 20 epochs) "
                    "fall well short, and fine-tuning only matches from-scratch."),
    Experiment("batch_size",
               "At equal epochs, tiny batches cost the most wall time; full batch makes the fewest updates.",
               _MLP, [
                   Variant("1", ["data.batch_size=1", "train.epochs=5", "train.optimizer={Adam: {learning_rate: 1.0e-3}}"]),
                   Variant("32", ["data.batch_size=32", "train.epochs=5", "train.optimizer={Adam: {learning_rate: 1.0e-3}}"]),
                   Variant("256", ["data.batch_size=256", "train.epochs=5", "train.optimizer={Adam: {learning_rate: 1.0e-3}}"]),
                   Variant("full", ["data.batch_size=1348", "train.epochs=5", "train.optimizer={Adam: {learning_rate: 1.0e-3}}"]),
               ], _batch_size),
    # -- MNIST-1D (generated locally): the conditions the notes describe, where the effects can show ------------
    Experiment("vanishing_gradients_sgd",
               f"The notes' deep sigmoid case: \"{VANISHING_PHRASE}\" (with plain SGD, a 10-layer sigmoid MLP); ReLU "
               "with He initialization keeps its gradients.",
               _DEEP_1D, [
                   Variant("sigmoid + Glorot", []),
                   Variant("ReLU + He", _RELU_HE),
               ], _vanishing_sgd, gradients=True, weight_change=True, testbed="MNIST-1D",
               note="Held means sigmoid's first/last hidden gradient ratio at initialization is under 1e-3, falling by "
                    "more than 2x a layer, and its first hidden layer's relative weight change is under a tenth of the "
                    "last hidden layer's; ReLU + He keeps a ratio over 1e-2.",
               history="Earlier design (before 2026-12, every seed one initialization: mnist1d reset the global seed): "
                       "test accuracy under 0.2 required for sigmoid + Glorot and sigmoid + N(0,1), with a first/last "
                       "(output) gradient ratio under 1e-3: Glorot 0.096 at 4.6e-07, N(0,1) 0.201 at 0.36, ReLU/ELU + He "
                       "0.521 / 0.603; not held. N(0,1) is the notes' saturation case, now in activations_sgd."),
    Experiment("activations_sgd",
               f"The notes: \"{SATURATION_PHRASE}\". Saturation as the variable, with plain SGD on the 10-layer "
               "MLP: tanh at Glorot's scale (few units saturated) against tanh and sigmoid at a saturating scale "
               "(N(0,1) weights), and ReLU with He.",
               _DEEP_1D, [
                   Variant("tanh + Glorot", ["model.defaults.activation=tanh"]),
                   Variant("tanh + N(0,1)", ["model.defaults.activation=tanh",
                                             "model.defaults.kernel_initializer={RandomNormal: {stddev: 1.0}}"]),
                   Variant("sigmoid + N(0,1)", ["model.defaults.kernel_initializer={RandomNormal: {stddev: 1.0}}"]),
                   Variant("ReLU + He", _RELU_HE),
               ], _saturation, saturation=True, testbed="MNIST-1D",
               note="Held means each variant with over half its units saturated at initialization (|tanh| > 0.99, "
                    "sigmoid outside [0.01, 0.99], on 256 training rows) ends below every unsaturated variant's mean by "
                    "more than its own spread.",
               history="Earlier design (before 2026-12, one initialization for every seed): sigmoid and tanh at "
                       "Glorot's scale against ReLU, leaky ReLU, ELU and SELU: sigmoid 0.096, tanh 0.600 (as good as "
                       "ReLU 0.521, leaky ReLU 0.617, ELU 0.603; SELU + LeCun 0.685); not held: at Glorot's scale "
                       "almost no tanh unit saturates."),
    Experiment("batch_norm_speed",
               "The notes: BatchNorm needs \"fewer training epochs\". At the same rate (SGD 0.01), the 10-layer ReLU "
               f"MLP reaches a training loss of {BATCH_NORM_LOSS} in fewer epochs with BN before each activation.",
               _DEEP_1D, [
                   Variant("no BN", [*_RELU_HE, "train.optimizer={SGD: {learning_rate: 0.01}}"]),
                   Variant("BN", [*_RELU_HE, "train.optimizer={SGD: {learning_rate: 0.01}}",
                                  "model.defaults.batch_norm=before_activation"]),
               ], _batch_norm_speed, curve="loss", testbed="MNIST-1D", seeds=5,
               note="Held means BN is ahead of or level with no BN at every seed and ahead on the mean (inf: never "
                    "within 30 epochs).",
               history="Earlier design (before 2026-12, one initialization for every seed; 3 seeds): epochs to 40% "
                       "validation accuracy, every BN seed required before every plain seed: 9 / 15 / 17 with BN against "
                       "11 / 15 / 21 without; not held."),
    Experiment("batch_norm_high_rate",
               "BatchNorm trains at a learning rate where the plain network diverges: the 10-layer ReLU MLP at SGD 0.5.",
               _DEEP_1D, [
                   Variant("no BN", [*_RELU_HE, "train.optimizer={SGD: {learning_rate: 0.5}}"]),
                   Variant("BN", [*_RELU_HE, "train.optimizer={SGD: {learning_rate: 0.5}}",
                                  "model.defaults.batch_norm=before_activation"]),
               ], _batch_norm_high_rate, curve="loss", testbed="MNIST-1D",
               note="Held means every seed without BN ends in NaN or under 0.2 test accuracy, and every BN seed passes 0.4."),
    Experiment("regularization_overfit",
               "On an MLP that overfits (two layers of 512 on MNIST-1D's 3,600 training rows, 80 epochs of Adam), each "
               "regularizer shrinks the gap between training and test accuracy.",
               _WIDE_1D, [
                   Variant("none", []),
                   Variant("L2", ["model.defaults.kernel_regularizer={L2: {l2: 1.0e-3}}"]),
                   Variant("L1", ["model.defaults.kernel_regularizer={L1: {l1: 1.0e-4}}"]),
                   Variant("dropout", ["model.defaults.dropout=0.5"]),
                   Variant("input noise", ["model.layers=[Flatten: {}, GaussianNoise: {stddev: 0.3}, Dense: {units: 512}, "
                                           "Dense: {units: 512}, Dense: {units: 10, activation: softmax}]"]),
                   Variant("max-norm", ["model.defaults.kernel_constraint={MaxNorm: {max_value: 2.0}}"]),
               ], _regularization_gap, inference_train=True, testbed="MNIST-1D",
               history="Earlier design (before 2026-12, one initialization for every seed) also had early stopping "
                       "(patience 5 on val_loss): gap 0.370 against 0.351 without, so not held. Early stopping picks "
                       "an epoch for validation performance, not a smaller gap: it is judged in its own row, "
                       "early_stopping."),
    Experiment("early_stopping",
               "Early stopping, monitoring the validation error: where longer training degrades validation performance "
               "(40% of the training labels replaced at random; the 1-D CNN without dropout, 40 epochs), it keeps a "
               "better test accuracy in fewer epochs.",
               "../mnist1d_cnn.yaml", [
                   Variant("full length", _NOISY_CNN),
                   Variant("early stopping", [*_NOISY_CNN[:-1], "train.callbacks=[EarlyStopping: {monitor: val_accuracy, "
                                              "patience: 5, restore_best_weights: true}]"]),
               ], _early_stopping, testbed="MNIST-1D",
               note="Held means longer training degrades (the seeds' mean validation curve, as a 5-epoch moving "
                    "average, ends at least 0.03 below its best), and early stopping's mean test accuracy clears the "
                    "full run's mean plus its spread in fewer epochs. Tried: 40% label noise, the CNN without dropout, "
                    "40 epochs: the mean validation accuracy peaks near 0.69 at epochs 6-8, falls to about 0.55-0.64 "
                    "over epochs 11-35 and climbs back to 0.68 by epoch 40 (like the epoch-wise double descent "
                    "Nakkiran et al. report under label noise), so at 40 epochs the setting does not count as "
                    "degrading; a longer or noisier run is the next try.",
               history="First run, 2026-12-07, same seeds and runs, with a per-seed check of the setting (each seed's "
                       "last epoch at least 0.02 below its own peak): peaks at epochs 5, 39 and 6, so not held as a "
                       "setting, although early stopping kept test accuracy 0.700 ± 0.046 after 11 epochs against "
                       "0.650 ± 0.027 after 40. One epoch's value on 400 validation rows moves by about 0.03, so the "
                       "check now reads the mean curve's 5-epoch moving average (changed after seeing that run)."),
    Experiment("schedules_small_budget",
               "At a small fixed budget (10 epochs of SGD with momentum at a peak rate of 0.1), a decaying or one-cycle "
               "rate ends better than the constant rate.",
               _WIDE_1D, [
                   Variant("constant", ["train.epochs=10", "train.optimizer={SGD: {learning_rate: 0.1, momentum: 0.9}}"]),
                   Variant("step", ["train.epochs=10", "train.optimizer={SGD: {learning_rate: {StepDecay: {initial_learning_rate: "
                                    f"0.1, factor: 0.3, every: 3, steps_per_epoch: {_STEPS}}}}}, momentum: 0.9}}}}"]),
                   Variant("exponential", ["train.epochs=10", "train.optimizer={SGD: {learning_rate: {ExponentialDecay: "
                                           f"{{initial_learning_rate: 0.1, decay_steps: {10 * _STEPS}, decay_rate: 0.01}}}}, "
                                           "momentum: 0.9}}"]),
                   Variant("cosine", ["train.epochs=10", "train.optimizer={SGD: {learning_rate: {CosineDecay: "
                                      f"{{initial_learning_rate: 0.1, decay_steps: {10 * _STEPS}}}}}, momentum: 0.9}}}}"]),
                   Variant("one-cycle", ["train.epochs=10", "train.optimizer={SGD: {learning_rate: {OneCycle: "
                                         f"{{max_learning_rate: 0.1, total_steps: {10 * _STEPS}}}}}, momentum: 0.9}}}}"]),
               ], _schedules_budget, testbed="MNIST-1D",
               note="Held means the best schedule's mean is above the constant rate's mean plus its standard deviation."),
    Experiment("transfer_few_labels",
               "A 1-D CNN trained on MNIST-1D's classes 0-4, reused for classes 5-9 from 250 labelled rows (about 50 a "
               "class), beats the same network trained from scratch on those rows.",
               "mnist1d_0to4.yaml", [
                   Variant("feature extraction", [*_TARGET, _HEAD, "transfer={from: '{source}', until: features, "
                                                                   "mode: feature_extraction}"]),
                   Variant("fine-tuning", [*_TARGET, _HEAD, "transfer={from: '{source}', until: features, mode: fine_tune}"]),
                   Variant("extract, then unfreeze", [*_TARGET, _HEAD, "transfer={from: '{source}', until: features, mode: "
                                                      "feature_extraction, unfreeze: {after_epoch: 15, layers: all, "
                                                      "learning_rate: 1.0e-4}}"]),
                   Variant("from scratch", _TARGET),
               ], _transfer_test, setup=("mnist1d_0to4.yaml", []), testbed="MNIST-1D",
               note="Held means the best reuse beats from-scratch by more than from-scratch's spread over the seeds."),
    Experiment("inductive_bias",
               "Architecture priors: on MNIST-1D the CNN and the GRU beat the MLP; with the sequence shuffled (one fixed "
               "permutation for every example) they lose most of that edge, while the MLP, blind to order, is unchanged.",
               "../mnist1d_mlp.yaml", [
                   Variant("MLP", []),
                   Variant("CNN", [], spec="../mnist1d_cnn.yaml"),
                   Variant("GRU", [], spec="../mnist1d_gru.yaml"),
                   Variant("MLP, shuffled", ["data.source.mnist1d.shuffle_seq=true"]),
                   Variant("CNN, shuffled", ["data.source.mnist1d.shuffle_seq=true"], spec="../mnist1d_cnn.yaml"),
                   Variant("GRU, shuffled", ["data.source.mnist1d.shuffle_seq=true"], spec="../mnist1d_gru.yaml"),
               ], _inductive_bias, testbed="MNIST-1D",
               note="Held means CNN and GRU beat the MLP's mean plus spread by 0.1 on ordered data, each loses over 0.15 "
                    "when shuffled, and the MLP moves less than 0.05."),
]



# -- running --------------------------------------------------------------------------------------


def _weights(model) -> list[np.ndarray]:
    """Each weighted layer's trainable weights, flattened into one vector, in order."""
    from zoo.callbacks import weighted_layers

    return [np.concatenate([np.ravel(np.asarray(w)) for w in layer.trainable_weights]) for layer in weighted_layers(model)]


def _saturated_fraction(model, x) -> float | None:
    """The fraction of tanh / sigmoid hidden units (|tanh| > 0.99, sigmoid outside [0.01, 0.99]) on the rows `x`,
    over every hidden layer with one of those activations; None when there is none."""
    import keras

    from zoo.callbacks import weighted_layers

    hidden = [layer for layer in weighted_layers(model)[:-1]
              if getattr(getattr(layer, "activation", None), "__name__", "") in ("tanh", "sigmoid")]
    if not hidden:
        return None
    outputs = keras.Model(model.inputs, [layer.output for layer in hidden]).predict(x, verbose=0)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    saturated = total = 0
    for layer, values in zip(hidden, outputs):
        values = np.asarray(values)
        edge = np.abs(values) > 0.99 if layer.activation.__name__ == "tanh" else (values < 0.01) | (values > 0.99)
        saturated, total = saturated + int(edge.sum()), total + edge.size
    return saturated / total


def _at_initialization(spec, experiment: Experiment, outcome: Outcome) -> list[np.ndarray]:
    """The probes the experiment asks for, on the model `zoo train` builds from `spec` (the seed fixes its initial
    weights); returns those weights for the weight-change probe."""
    from zoo.builders.run.plan import build_plan
    from zoo.callbacks import layer_gradient_norms, probe_batch

    plan = build_plan(spec)
    x, y = probe_batch(plan.data.train, 256)
    if experiment.gradients:
        norms = list(layer_gradient_norms(plan.model, x, y).values())
        outcome.gradient_norms.append(norms)
    if experiment.saturation:
        fraction = _saturated_fraction(plan.model, x)
        if fraction is not None:
            outcome.saturation.append(fraction)
    return _weights(plan.model) if experiment.weight_change else []


def _inference_accuracy(spec, model) -> float:
    """Accuracy on the training rows with dropout and noise off: what Keras's training-mode log is not."""
    from zoo.builders.data.load import load_data

    x, y = load_data(spec).arrays["train"]
    return float(model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"])


TINY_EPOCHS, TINY_ROWS = 1, 128


def _tiny(spec) -> list[str]:
    """The overrides that bring a spec to smoke-test size: one epoch (two where a layer unfreezes after
    the first) on at most TINY_ROWS training rows, 5% held out for validation, MNIST-1D generated at
    512 examples (a test split of about 100), one epoch a layer of pretraining, no batch larger than
    the rows, and eager steps where there are too few to repay tracing a graph."""
    spec = spec.resolved()  # with the schema's defaults filled in
    unfreezes = spec.get("transfer", "unfreeze")
    overrides = [f"train.epochs={TINY_EPOCHS + 1 if unfreezes else TINY_EPOCHS}"]
    rows = min(spec.get("data", "limit") or TINY_ROWS, TINY_ROWS)
    if rows != spec.get("data", "limit"):
        overrides.append(f"data.limit={rows}")
    batch_size = spec.get("data", "batch_size")
    if batch_size > rows:
        overrides.append(f"data.batch_size={rows}")
    if math.ceil(rows / batch_size) <= 8:  # a few eager steps cost less than tracing the graph once
        overrides.append("runtime.run_eagerly=true")
    if spec.get("data", "source", "mnist1d") is not None:
        overrides.append(f"data.source.mnist1d.num_samples={TINY_ROWS * 4}")
    if (spec.get("data", "validation_split") or 0) > 0.05:
        overrides.append("data.validation_split=0.05")
    if spec.get("pretrain"):
        overrides.append("pretrain.epochs_per_layer=1")
    if unfreezes:
        overrides.append("transfer.unfreeze.after_epoch=1")
    return overrides


def _load(path: Path, overrides: list[str], tiny: bool):
    """The spec at `path` with `overrides`, and at smoke-test size with `tiny`."""
    from zoo.builders.spec.document import load_spec

    spec = load_spec(path, overrides)
    return load_spec(path, [*overrides, *_tiny(spec)]) if tiny else spec


def run_experiment(experiment: Experiment, seeds: int, tiny: bool, workdir: Path) -> dict[str, Outcome]:
    from zoo.builders.run.train import train

    outcomes = {}
    sources = {}
    if experiment.setup is not None:
        for seed in range(seeds):
            setup_spec, setup_overrides = experiment.setup
            sources[seed] = workdir / experiment.name / f"source-{seed}"
            train(_load(EXPERIMENTS_DIR / setup_spec, [*setup_overrides, f"seed={seed}", "output.tensorboard=false"], tiny),
                  run_dir=sources[seed], quiet=True)
    for variant in experiment.variants:
        outcome = Outcome([])
        for seed in range(seeds):
            overrides = [o.replace("{source}", str(sources.get(seed, ""))) for o in variant.overrides] + [f"seed={seed}"]
            spec = _load(EXPERIMENTS_DIR / (variant.spec or experiment.spec), overrides, tiny)
            initial = _at_initialization(spec, experiment, outcome) if experiment.gradients or experiment.saturation \
                or experiment.weight_change else []
            started = time.perf_counter()
            result = train(spec, run_dir=workdir / experiment.name / f"{variant.label}-{seed}".replace(" ", "_").replace("/", "_"), quiet=True)
            outcome.wall_times.append(time.perf_counter() - started)
            outcome.histories.append(result.history)
            outcome.metrics.append(result.metrics)
            if experiment.weight_change:
                outcome.weight_changes.append([float(np.linalg.norm(end - start) / max(np.linalg.norm(start), 1e-12))
                                               for start, end in zip(initial, _weights(result.model))])
            if experiment.inference_train:
                outcome.train_accuracy.append(_inference_accuracy(spec, result.model))
        outcomes[variant.label] = outcome
    return outcomes


def plot(experiment: Experiment, outcomes: dict[str, Outcome], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for label, outcome in outcomes.items():
        curves = [h.get(experiment.curve) or [] for h in outcome.histories]
        length = max(len(c) for c in curves)
        if length == 0:
            continue
        # Runs stopped early (TerminateOnNaN, EarlyStopping) count as long as they ran; non-finite values are gaps.
        values = np.full((len(curves), length), np.nan)
        for row, curve in enumerate(curves):
            values[row, : len(curve)] = [v if v is not None and math.isfinite(v) else np.nan for v in curve]
        epochs = np.arange(1, length + 1)
        seen = ~np.all(np.isnan(values), axis=0)
        if not seen.any():
            continue
        axis.plot(epochs[seen], np.nanmean(values[:, seen], axis=0), marker="o" if seen.sum() < 3 else None, label=label)
    axis.set_xlabel("epoch")
    axis.set_ylabel(experiment.curve + (" (mean over seeds)" if len(next(iter(outcomes.values())).histories) > 1 else ""))
    if experiment.curve == "loss":
        axis.set_yscale("log")
    axis.set_title(experiment.name.replace("_", " "))
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(target, dpi=100)
    plt.close(figure)


def write_report(rows: list[tuple[Experiment, str, bool, int]], directory: Path) -> Path:
    """REPRODUCTIONS.md with these rows; the rows of experiments not rerun now stay as they were."""
    target = directory / "REPRODUCTIONS.md"
    kept = {}
    if target.exists():
        for line in target.read_text().splitlines():
            if line.startswith("| [") and "](" in line:
                kept[line[3:line.index("]")]] = line
    for experiment, measured, held, seeds in rows:
        tried = f" {experiment.note}" if experiment.note and not held else ""
        tried += f" {experiment.history}" if experiment.history else ""
        kept[experiment.name] = (f"| [{experiment.name}]({experiment.name}.png) | {experiment.testbed} | {experiment.claim} | "
                                 f"{measured}{tried} | {seeds} | {'yes' if held else '**no**'} |")
    order = [e.name for e in EXPERIMENTS]
    lines = ["# Reproductions", "",
             "Generated by `zoo reproduce NAME|all` (`python scripts/reproduce.py`); each row is rewritten when its "
             "experiment runs again. Each experiment varies one technique in a spec of `specs/experiments/` (or "
             "`specs/`), with the same data, split, budget and seeds (0, 1, 2, ...) for every variant. MNIST-1D is "
             "mnist1d's `make_dataset` (generated locally; 3,600 training, 400 validation, 1,000 test rows), scored on "
             "its test split; digits and diabetes are scikit-learn's, scored on the validation split. Values are "
             "mean ± standard deviation over the seeds shown. A row that did not hold stays, with what was tried.", "",
             "| experiment | testbed | claim | measured | seeds | held |", "|---|---|---|---|---|---|"]
    lines += [kept[name] for name in order if name in kept]
    target.write_text("\n".join(lines) + "\n")
    return target


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", help="experiment names, or all: " + ", ".join(e.name for e in EXPERIMENTS))
    parser.add_argument("--seeds", type=int, help="seeds 0..N-1 for every chosen experiment (default: each "
                        "experiment's own, 3, or 5 for batch_norm_speed)")
    parser.add_argument("--tiny", action="store_true", help=f"1 seed, {TINY_EPOCHS} epochs on at most {TINY_ROWS} training "
                        "rows: checks in seconds that an experiment still runs")
    parser.add_argument("--reports", help="where REPRODUCTIONS.md and the plots go (default reports/; with --tiny, "
                        "runs/reproductions-tiny/, so a smoke test never writes over the committed results)")
    arguments = parser.parse_args(argv)
    known = {e.name: e for e in EXPERIMENTS}
    chosen = list(known.values()) if arguments.names == ["all"] else []
    for name in arguments.names if arguments.names != ["all"] else []:
        if name not in known:
            parser.error(f"unknown experiment {name!r}; the experiments are: {', '.join(known)}")
        chosen.append(known[name])
    if arguments.seeds is not None and arguments.seeds < 1:
        parser.error(f"--seeds must be at least 1; got {arguments.seeds}")
    default = ROOT / "runs" / "reproductions-tiny" if arguments.tiny else ROOT / "reports"
    reports = Path(arguments.reports) if arguments.reports else default
    reports.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for experiment in chosen:
            started = time.perf_counter()
            seeds = 1 if arguments.tiny else arguments.seeds or experiment.seeds
            outcomes = run_experiment(experiment, seeds, arguments.tiny, Path(workdir))
            measured, held = experiment.measure(outcomes)
            plot(experiment, outcomes, reports / f"{experiment.name}.png")
            rows.append((experiment, measured, held, seeds))
            print(f"{experiment.name}: {'held' if held else 'DID NOT HOLD'} ({time.perf_counter() - started:.0f} s)\n  {measured}", flush=True)
    print(f"written: {write_report(rows, reports)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
