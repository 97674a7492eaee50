"""`zoo compare RUN_DIR...`: what differs between finished runs' specs, their final metrics side by side,
and one PNG of their learning curves overlaid."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from zoo.builders.run.history import read_history
from zoo.builders.run.records import flat_spec
from zoo.builders.run.saved import COMPLETE_MARKER
from zoo.builders.spec.errors import RunError
from zoo.builders.spec.loader import parse_yaml, read_spec_text

__all__ = ["compare", "format_comparison"]

SHOWN_METRICS = ("best_epoch", "epochs_run", "wall_time_s")


def _label(run_dir: Path, others: Sequence[Path]) -> str:
    """The shortest tail of the path that tells this run from the others."""
    parts = run_dir.resolve().parts
    for length in range(1, len(parts) + 1):
        tail = "/".join(parts[-length:])
        if all("/".join(o.resolve().parts[-length:]) != tail for o in others if o.resolve() != run_dir.resolve()):
            return tail
    return str(run_dir)


def compare(run_dirs: Sequence[str | Path], plot: str | Path | None = None) -> dict[str, Any]:
    """Spec differences and final metrics of finished runs; with `plot`, their curves overlaid there.

    Returns:
        {"runs": [labels], "differences": {path: [value per run]}, "metrics": {name: [value per run]}, "plot": path}
    Raises:
        RunError: fewer than two runs, a folder that is not a finished run, or damaged files.
    """
    paths = [Path(p) for p in run_dirs]
    if len(paths) < 2:
        raise RunError("zoo compare needs at least two run directories.")
    if len({p.resolve() for p in paths}) != len(paths):
        raise RunError("a run directory is named twice.")
    specs, metrics, histories = [], [], {}
    labels = [_label(p, paths) for p in paths]
    for path, label in zip(paths, labels):
        if not (path / "spec.yaml").is_file() or not (path / COMPLETE_MARKER).is_file():
            raise RunError(f"{path} is not a finished run (it needs spec.yaml and {COMPLETE_MARKER}).")
        try:
            tree = parse_yaml(*read_spec_text(path / "spec.yaml"))[0]
            found = json.loads((path / COMPLETE_MARKER).read_text())
        except (OSError, ValueError) as error:
            raise RunError(f"{path} is damaged ({type(error).__name__}): it cannot be compared.") from None
        except Exception as error:  # a SpecError from a damaged spec.yaml
            raise RunError(f"{path}/spec.yaml cannot be read: {error}") from None
        if not isinstance(tree, dict) or not isinstance(found, dict):
            raise RunError(f"{path} is damaged: its spec.yaml or {COMPLETE_MARKER} is not a mapping.")
        specs.append(flat_spec({k: v for k, v in tree.items() if k != "output"}))
        metrics.append(found)
        rows = read_history(path / "history.csv")
        histories[label] = {k: [r.get(k) for r in rows] for k in dict.fromkeys(k for r in rows for k in r if k != "epoch")}
    keys = list(dict.fromkeys(k for spec in specs for k in spec))
    differences = {k: [spec.get(k) for spec in specs] for k in keys if len({json.dumps(s.get(k), default=str) for s in specs}) > 1}
    names = list(dict.fromkeys(k for m in metrics for k in m if k.startswith(("final_", "test_")) or k in SHOWN_METRICS))
    table = {n: [m.get(n) for m in metrics] for n in names}
    result: dict[str, Any] = {"runs": labels, "paths": [str(p) for p in paths], "differences": differences, "metrics": table}
    if plot is not None:
        from zoo.builders.run.plots import plot_comparison

        plot_comparison(histories, Path(plot))
        result["plot"] = str(plot)
    return result


def default_plot_path() -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"compare-{stamp}.png"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) and abs(value) < 1e5 else f"{value:.4g}"
    return str(value)


def format_comparison(result: dict[str, Any]) -> str:
    """Two tables: the spec paths whose values differ, then the metrics; one column per run."""
    runs = result["runs"]
    lines = ["runs: " + ", ".join(f"[{i + 1}] {r}" for i, r in enumerate(runs))]

    def table(title: str, rows: dict[str, list]) -> None:
        lines.append("")
        if not rows:
            lines.append(f"{title}: none")
            return
        width = max(len(title), *map(len, rows))
        cells = {k: [_cell(v) for v in values] for k, values in rows.items()}
        widths = [max(len(f"[{i + 1}]"), *(len(c[i]) for c in cells.values())) for i in range(len(runs))]
        lines.append(f"{title:{width}}  " + "  ".join(f"{f'[{i + 1}]':>{w}}" for i, w in enumerate(widths)))
        for key, values in cells.items():
            lines.append(f"{key:{width}}  " + "  ".join(f"{v:>{w}}" for v, w in zip(values, widths)))

    table("spec differences", result["differences"])
    table("metrics", result["metrics"])
    if result.get("plot"):
        lines += ["", f"written: {result['plot']}"]
    return "\n".join(lines)
