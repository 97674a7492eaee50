"""MLflow tracking for `zoo train` (`output: {mlflow: {...}}`, `pip install 'keras-zoo[mlflow]'`).

A run logs its flattened spec as params, every epoch's metrics as they come, and at the end its final
metrics and files (spec.yaml, metrics.json, MODEL_CARD.md, curves, the model). The MLflow run's id is kept
in the run directory (mlflow.json), so `zoo train --resume` continues the same MLflow run. By default the
store is local, with nothing to start: a SQLite database `<output.directory>/mlflow.db` and artifacts under
`<output.directory>/mlartifacts/` (MLflow 3 keeps its plain-folder store only behind MLFLOW_ALLOW_FILE_STORE;
`tracking_uri: file:...` still works where that is set). `mlflow ui --backend-store-uri sqlite:///runs/mlflow.db`
shows them.
"""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path
from typing import Any

import keras

from zoo.builders.run.files import write_json
from zoo.builders.run.records import flat_spec
from zoo.builders.spec.errors import RunError

__all__ = ["MlflowLogger", "mlflow_settings"]

ID_FILE = "mlflow.json"
PARAMS_PER_CALL = 100  # MLflow's log_batch limit


def mlflow_settings(spec) -> dict[str, Any] | None:
    """The spec's MLflow settings with defaults filled in, or None when it does not ask for MLflow."""
    output = spec.tree.get("output") or {}
    section = output.get("mlflow")
    if section is None:
        return None
    directory = Path(output.get("directory", "runs")).resolve()
    return {"tracking_uri": section.get("tracking_uri") or f"sqlite:///{directory / 'mlflow.db'}",
            "artifacts": (directory / "mlartifacts").as_uri(),
            "experiment": section.get("experiment") or spec.name,
            "log_model": section.get("log_model", True)}


def _client(settings: dict[str, Any]):
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise RunError("output.mlflow needs MLflow: pip install 'keras-zoo[mlflow]'.") from None
    if settings["tracking_uri"].startswith("sqlite:///"):
        Path(settings["tracking_uri"][len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    import logging
    import os

    # MLflow's own defaults retry an unreachable server for minutes (measured: 4 min 15 s); a typo in
    # tracking_uri should be a quick error. Set these variables yourself to choose otherwise.
    for name, value in (("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2"), ("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1"),
                        ("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")):
        os.environ.setdefault(name, value)
    logging.getLogger("mlflow").setLevel(logging.WARNING)  # its table-creation notes
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return MlflowClient(tracking_uri=settings["tracking_uri"])


def _param_name(path: str) -> str:
    """MLflow's allowed characters: `model.layers[0].Dense.units` -> `model.layers.0.Dense.units`."""
    return re.sub(r"[^\w\-. /]", "_", re.sub(r"\[(\d+)\]", r".\1", path))[:250]


class MlflowLogger(keras.callbacks.Callback):
    """Logs one zoo run to MLflow: params at the start, metrics every epoch, files at `finish`."""

    def __init__(self, settings: dict[str, Any], spec_tree: dict, run_dir: Path) -> None:
        super().__init__()
        self.settings, self.tree, self.run_dir = settings, spec_tree, Path(run_dir)
        try:
            self.client = _client(settings)
            self.run_id = self._run_id()
        except RunError:
            raise
        except Exception as error:  # MLflow's own errors: an unreachable server, a bad URI, a locked store
            raise RunError(f"output.mlflow: MLflow refused {settings['tracking_uri']}: "
                           f"{str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__}") from None

    def _run_id(self) -> str:
        from mlflow.entities import Param

        saved = self.run_dir / ID_FILE
        if saved.exists():  # a resumed zoo run continues its MLflow run
            try:
                return json.loads(saved.read_text())["run_id"]
            except (OSError, ValueError, KeyError, TypeError):
                raise RunError(f"{saved} is damaged: start the run again in a new directory.") from None
        experiment = self.client.get_experiment_by_name(self.settings["experiment"])
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(
            self.settings["experiment"], artifact_location=f"{self.settings['artifacts']}/{self.settings['experiment']}")
        run = self.client.create_run(experiment_id, run_name=self.run_dir.name,
                                     tags={"zoo.run_dir": str(self.run_dir.resolve())})
        params = [Param(_param_name(k), str(v)[:6000]) for k, v in flat_spec(self.tree).items()]
        for start in range(0, len(params), PARAMS_PER_CALL):
            self.client.log_batch(run.info.run_id, params=params[start:start + PARAMS_PER_CALL])
        write_json(saved, {"run_id": run.info.run_id, "tracking_uri": self.settings["tracking_uri"],
                           "experiment": self.settings["experiment"]})
        return run.info.run_id

    def on_epoch_end(self, epoch, logs=None):
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(_param_name(k), float(v), now, epoch + 1) for k, v in (logs or {}).items()
                   if isinstance(v, (int, float)) and math.isfinite(float(v))]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def finish(self, metrics: dict[str, Any]) -> None:
        """The final metrics and the run's files; the MLflow run is marked finished."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        final = [Metric(_param_name(k), float(v), now, 0) for k, v in metrics.items()
                 if k.startswith(("best_", "test_", "final_")) and isinstance(v, (int, float)) and not isinstance(v, bool)
                 and math.isfinite(float(v))]
        if final:
            self.client.log_batch(self.run_id, metrics=final)
        names = ["spec.yaml", "metrics.json", "MODEL_CARD.md", "run.json", "history.csv", "curves.png",
                 "confusion_validation.png", "confusion_test.png", "classes_validation.csv", "classes_test.csv"]
        for name in names:
            if (self.run_dir / name).is_file():
                self.client.log_artifact(self.run_id, str(self.run_dir / name))
        if self.settings["log_model"] and (self.run_dir / "model.keras").is_file():
            self.client.log_artifact(self.run_id, str(self.run_dir / "model.keras"), artifact_path="model")
        self.client.set_terminated(self.run_id)
