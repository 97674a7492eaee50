"""Every figure a command writes: a run's curves, a search's scores, the doctor's panels.

One way to save: `save_figure` lays the figure out and writes it atomically as a PNG.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from zoo.builders.run.files import atomic_path
from zoo.builders.run.history import SETTINGS

__all__ = ["save_figure", "plot_curves", "plot_search", "plot_doctor", "plot_confusion", "plot_comparison"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, target: Path) -> None:
    plt = _pyplot()
    figure.tight_layout()
    with atomic_path(target) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    plt.close(figure)


def plot_curves(history: dict, target: Path, best_epoch: int | None) -> None:
    """Loss and each metric, train vs validation, one panel each, the best epoch (numbered from 1) marked."""
    plt = _pyplot()

    names = [k for k in history if not k.startswith("val_") and k not in SETTINGS]
    if not names:
        return
    figure, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    for axis, name in zip(axes[0], names):
        epochs = np.arange(1, len(history[name]) + 1)
        axis.plot(epochs, history[name], label="train")
        if history.get(f"val_{name}"):
            axis.plot(epochs, history[f"val_{name}"], label="validation")
        if best_epoch is not None:
            axis.axvline(best_epoch, color="grey", linestyle="--", linewidth=1, label=f"best epoch ({best_epoch})")
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.set_title(name)
        axis.legend()
    save_figure(figure, target)


def plot_search(records: list[dict], importance: dict[str, float], objective: str, target: Path,
                log_scaled: tuple[str, ...] = ()) -> None:
    """The score of each finished trial against its KerasTuner trial id, and against the (up to) three
    hyperparameters that matter most (by `importance`, or the first three when it is empty: too few trials
    to rank them: those that took the most distinct values). Hyperparameters in `log_scaled` were sampled on a log scale and are plotted on one."""
    plt = _pyplot()

    done = [r for r in records if r["score"] is not None and math.isfinite(r["score"])]
    names = sorted({k for r in done for k in r["hyperparameters"] if not k.startswith("tuner/")})
    spread = {n: len({str(r["hyperparameters"].get(n)) for r in done}) for n in names}  # distinct values tried
    top = (sorted(importance, key=importance.get, reverse=True) if importance
           else sorted((n for n in names if spread[n] > 1), key=lambda n: -spread[n]))[:3]
    figure, axes = plt.subplots(1, 1 + len(top), figsize=(4.5 * (1 + len(top)), 3.5), squeeze=False)
    scores = [r["score"] for r in done]
    axes[0][0].plot([int(r["trial"]) for r in done], scores, "o")
    axes[0][0].set_xlabel("trial id")
    axes[0][0].xaxis.get_major_locator().set_params(integer=True)
    axes[0][0].set_ylabel(objective)
    axes[0][0].set_title(f"{len(done)} finished trials")
    for axis, name in zip(axes[0][1:], top):
        values = [r["hyperparameters"].get(name) for r in done]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            axis.scatter(values, scores)
            if name in log_scaled:
                axis.set_xscale("log")
        else:
            labels = sorted(set(map(str, values)))
            axis.scatter([labels.index(str(v)) for v in values], scores)
            axis.set_xticks(range(len(labels)), labels, rotation=30)
        axis.set_xlabel(name + (f" (importance {importance[name]:.2f})" if name in importance else ""))
        axis.set_ylabel(objective)
    save_figure(figure, target)


def plot_confusion(matrix: np.ndarray, names: list[str], title: str, target: Path) -> None:
    """A confusion matrix: true class down, predicted class across, counts in the cells."""
    plt = _pyplot()

    size = max(4.0, 0.45 * len(names) + 2)
    figure, axis = plt.subplots(figsize=(size + 1, size))
    image = axis.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axis, fraction=0.046)
    axis.set_xticks(range(len(names)), names, rotation=45, ha="right")
    axis.set_yticks(range(len(names)), names)
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    axis.set_title(title)
    if len(names) <= 20:
        threshold = matrix.max() / 2 if matrix.size else 0
        for (row, column), count in np.ndenumerate(matrix):
            axis.text(column, row, str(count), ha="center", va="center", fontsize=8,
                      color="white" if count > threshold else "black")
    save_figure(figure, target)


def plot_learning_curve(result: dict, target: Path) -> None:
    """Training and validation error against the training rows (log x axis), the verdict in the title."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot(result["sizes"], result["train_error"], "o-", label="train")
    axis.plot(result["sizes"], result["validation_error"], "o-", label="validation")
    if result["verdict"]["baseline_error"]:
        axis.axhline(result["verdict"]["baseline_error"], color="grey", linestyle="--", linewidth=1, label="baseline")
    axis.set_xscale("log")
    axis.set_xlabel("training rows")
    axis.set_ylabel(result["error"])
    axis.set_title(f"{result['spec']}: {result['verdict']['verdict']} at {result['sizes'][-1]} rows")
    axis.legend()
    save_figure(figure, target)


def plot_comparison(histories: dict[str, dict], target: Path) -> None:
    """The learning curves of several runs overlaid: one panel per quantity (loss, each metric), train
    dashed and validation solid, one colour per run."""
    plt = _pyplot()

    names = list(dict.fromkeys(k for h in histories.values() for k in h if not k.startswith("val_") and k not in SETTINGS))
    if not names:
        return
    figure, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.8), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for axis, name in zip(axes[0], names):
        for index, (label, history) in enumerate(histories.items()):
            colour = colours[index % len(colours)]
            if history.get(name):
                axis.plot(range(1, len(history[name]) + 1), history[name], "--", color=colour, alpha=0.6)
            if history.get(f"val_{name}"):
                axis.plot(range(1, len(history[f"val_{name}"]) + 1), history[f"val_{name}"], color=colour, label=label)
            elif history.get(name):
                axis.lines[-1].set_label(label)
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.set_title(f"{name} (dashed: train, solid: validation)", fontsize=9)
        axis.legend(fontsize=7)
    save_figure(figure, target)


def plot_doctor(report: dict, before: dict, after: dict, epochs: int, directory: Path) -> None:
    plt = _pyplot()

    names = list(before["gradient_norms"])
    figure, axis = plt.subplots(figsize=(max(5, 0.6 * len(names)), 3.5))
    positions = np.arange(len(names))
    for offset, (label, state) in zip((-0.2, 0.2), (("initialization", before), (f"after {epochs} epochs", after))):
        values = [max(state["gradient_norms"][n], 1e-30) for n in names]
        axis.bar(positions + offset, values, width=0.4, label=label)
    axis.set_yscale("log")
    axis.set_xticks(positions, names, rotation=45, ha="right")
    axis.set_ylabel("gradient norm")
    axis.legend()
    save_figure(figure, directory / "gradient_norms.png")

    layers = list(before["activations"])
    figure, axis = plt.subplots(figsize=(max(5, 0.6 * len(layers)), 3.5))
    positions = np.arange(len(layers))
    for offset, (label, state) in zip((-0.2, 0.2), (("initialization", before), (f"after {epochs} epochs", after))):
        axis.bar(positions + offset, [state["activations"][n]["std"] for n in layers], width=0.4, label=label)
    axis.set_xticks(positions, layers, rotation=45, ha="right")
    axis.set_ylabel("activation standard deviation")
    axis.legend()
    save_figure(figure, directory / "activations.png")

    figure, axis = plt.subplots(figsize=(5, 3.5))
    for label, run in (("regularization off", report["overfit"]["without_regularization"]),
                       ("regularization on", report["overfit"]["with_regularization"])):
        if run:
            axis.plot(run["losses"], label=label)
    axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_ylabel("loss on the small batch")
    axis.legend()
    save_figure(figure, directory / "overfit.png")
