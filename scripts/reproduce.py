"""Reproduce classic training claims from specs: paired runs that differ in one technique.

Each experiment trains the variants of one base spec in specs/experiments/ (the
variants are command-line overrides, listed below), with the same data split and
budget, for each seed; it plots the validation curves (mean over seeds) and writes
one row into reports/REPRODUCTIONS.md: the claim, what was measured, and whether
it held on this run.

Usage:
    python scripts/reproduce.py all                 # every experiment, 3 seeds
    python scripts/reproduce.py vanishing_gradients optimizers --seeds 1
    python scripts/reproduce.py all --tiny          # 1 seed, 2 epochs: the smoke test
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
    gradient_ratios: list[float] = field(default_factory=list)
    wall_times: list[float] = field(default_factory=list)

    def final(self, key: str) -> list[float]:
        return [h[key][-1] if h.get(key) else math.nan for h in self.histories]


@dataclass
class Experiment:
    name: str
    claim: str
    spec: str
    variants: list[Variant]
    measure: Callable[[dict[str, Outcome]], tuple[str, bool]]
    curve: str = "val_accuracy"
    gradients: bool = False  # record first/last layer gradient norms at initialization
    setup: tuple[str, list[str]] | None = None  # a spec trained once first (per seed), e.g. a transfer source
    note: str = ""  # what was tried, shown in the report when the claim does not hold


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
            f"{statistics.mean(o.gradient_ratios):.1e}" for label, o in outcomes.items()]
    sigmoid = [outcomes["sigmoid + Glorot"], outcomes["sigmoid + N(0,1)"]]
    modern = [outcomes["ReLU + He"], outcomes["ELU + He"]]
    held = (all(_m(o.final("val_accuracy")) < 0.3 for o in sigmoid)
            and all(statistics.mean(o.gradient_ratios) < 1e-3 for o in sigmoid)
            and all(_m(o.final("val_accuracy")) > 0.8 for o in modern))
    return "; ".join(rows), held


def _activations(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
    rows = [f"{label} {_mean(o.final('val_accuracy'))}" for label, o in outcomes.items()]
    saturating = max(_upper(outcomes[k], "val_accuracy") for k in ("sigmoid", "tanh"))
    others = min(_m(outcomes[k].final("val_accuracy")) for k in ("ReLU", "leaky ReLU", "ELU", "SELU + LeCun"))
    return "final val accuracy: " + ", ".join(rows), others > saturating


def _epochs_to(outcome: Outcome, target: float) -> list[float]:
    return [next((i + 1 for i, v in enumerate(h["val_accuracy"]) if v >= target), math.inf) for h in outcome.histories]


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


def _upper(outcome: Outcome, key: str) -> float:
    """Mean plus one standard deviation over the seeds: "better" has to clear the other side's spread."""
    values = [v for v in outcome.final(key) if math.isfinite(v)]
    return statistics.mean(values) + (statistics.stdev(values) if len(values) > 1 else 0.0) if values else math.nan


def _transfer(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
    text, _ = _ranking("val_accuracy", higher=True)(outcomes)
    reused = max(_m(o.final("val_accuracy")) for k, o in outcomes.items() if k != "from scratch")
    return text, reused > _upper(outcomes["from scratch"], "val_accuracy")


def _batch_size(outcomes: dict[str, Outcome]) -> tuple[str, bool]:
    rows = [f"batch {label}: val acc {_mean(o.final('val_accuracy'))}, {_m(o.wall_times):.1f} s" for label, o in outcomes.items()]
    times = [_m(o.wall_times) for o in outcomes.values()]
    return "; ".join(rows), times[0] > times[-1]  # per-example steps cost the most time at equal epochs


_DEEP = "deep_mlp.yaml"
_MLP = "mlp.yaml"

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
               ], _exploding, curve="loss",
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
]


# -- running --------------------------------------------------------------------------------------


def _gradient_ratio(spec) -> float:
    from zoo.builders.plan import build_plan
    from zoo.callbacks import layer_gradient_norms, probe_batch

    plan = build_plan(spec)  # the model at initialization, as `zoo train` builds it
    norms = list(layer_gradient_norms(plan.model, *probe_batch(plan.data.train, 256)).values())
    return norms[0] / norms[-1]


def run_experiment(experiment: Experiment, seeds: int, tiny: bool, workdir: Path) -> dict[str, Outcome]:
    from zoo.builders.spec import load_spec
    from zoo.builders.train import train

    outcomes = {}
    sources = {}
    if experiment.setup is not None:
        for seed in range(seeds):
            setup_spec, setup_overrides = experiment.setup
            sources[seed] = workdir / experiment.name / f"source-{seed}"
            tiny_setup = ["train.epochs=2"] if tiny else []
            train(load_spec(EXPERIMENTS_DIR / setup_spec, [*setup_overrides, f"seed={seed}", "output.tensorboard=false", *tiny_setup]),
                  run_dir=sources[seed], quiet=True)
    for variant in experiment.variants:
        outcome = Outcome([])
        for seed in range(seeds):
            overrides = [o.replace("{source}", str(sources.get(seed, ""))) for o in variant.overrides] + [f"seed={seed}"]
            if tiny:
                overrides.append("train.epochs=2")
                if experiment.name == "pretraining" and variant.overrides == []:
                    overrides.append("pretrain.epochs_per_layer=1")
            spec = load_spec(EXPERIMENTS_DIR / (variant.spec or experiment.spec), overrides)
            if tiny and spec.get("transfer", "unfreeze"):  # within the two tiny epochs
                spec = load_spec(EXPERIMENTS_DIR / (variant.spec or experiment.spec), [*overrides, "transfer.unfreeze.after_epoch=1"])
            if experiment.gradients:
                outcome.gradient_ratios.append(_gradient_ratio(spec))
            started = time.perf_counter()
            result = train(spec, run_dir=workdir / experiment.name / f"{variant.label}-{seed}".replace(" ", "_").replace("/", "_"), quiet=True)
            outcome.wall_times.append(time.perf_counter() - started)
            outcome.histories.append(result.history)
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
    lines = ["# Reproductions", "",
             "Generated by `python scripts/reproduce.py` on scikit-learn's digits and diabetes sets; "
             "each experiment varies one technique in a spec of `specs/experiments/` (or `specs/`), "
             "with the same data split and epochs for every variant. Values are mean ± standard deviation over the seeds shown.", "",
             "| experiment | claim | measured | seeds | held |", "|---|---|---|---|---|"]
    for experiment, measured, held, seeds in rows:
        tried = f" {experiment.note}" if experiment.note and not held else ""
        lines.append(f"| [{experiment.name}]({experiment.name}.png) | {experiment.claim} | {measured}{tried} | {seeds} | "
                     f"{'yes' if held else '**no**'} |")
    target = directory / "REPRODUCTIONS.md"
    target.write_text("\n".join(lines) + "\n")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", help="experiment names, or all: " + ", ".join(e.name for e in EXPERIMENTS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="1 seed, 2 epochs: checks that every experiment still runs")
    parser.add_argument("--reports", help="where REPRODUCTIONS.md and the plots go (default reports/; with --tiny, "
                        "runs/reproductions-tiny/, so a smoke test never writes over the committed results)")
    arguments = parser.parse_args(argv)
    known = {e.name: e for e in EXPERIMENTS}
    chosen = list(known.values()) if arguments.names == ["all"] else []
    for name in arguments.names if arguments.names != ["all"] else []:
        if name not in known:
            parser.error(f"unknown experiment {name!r}; the experiments are: {', '.join(known)}")
        chosen.append(known[name])
    seeds = 1 if arguments.tiny else arguments.seeds
    default = ROOT / "runs" / "reproductions-tiny" if arguments.tiny else ROOT / "reports"
    reports = Path(arguments.reports) if arguments.reports else default
    reports.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for experiment in chosen:
            started = time.perf_counter()
            outcomes = run_experiment(experiment, seeds, arguments.tiny, Path(workdir))
            measured, held = experiment.measure(outcomes)
            plot(experiment, outcomes, reports / f"{experiment.name}.png")
            rows.append((experiment, measured, held, seeds))
            print(f"{experiment.name}: {'held' if held else 'DID NOT HOLD'} ({time.perf_counter() - started:.0f} s)\n  {measured}", flush=True)
    print(f"written: {write_report(rows, reports)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
