"""The train@<arch> stage's logic: fit one configured model on the prepared data, write its
outputs and log everything to the active MLflow run."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnnops.architectures import DatasetSpec
from rnnops.config import Params, flatten
from rnnops.prepare import load_split


@dataclass
class PreparedData:
    directory: Path
    spec: dict
    arrays: dict[str, tuple[np.ndarray, np.ndarray]]
    vocabulary: list[str]
    label_names: list[str]

    @property
    def dataset(self) -> str:
        return self.spec["dataset"]


def load_prepared(directory: str | Path) -> PreparedData:
    from rnnops.errors import DataError

    directory = Path(directory)
    if not (directory / "spec.json").is_file():
        raise DataError(f"{directory}: no prepared data (spec.json missing). "
                        "Fix: run the prepare stage first (`dvc repro prepare`).")
    spec = json.loads((directory / "spec.json").read_text())
    arrays = {s: load_split(directory, s) for s in ("train", "val", "test")}
    vocabulary = (directory / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    return PreparedData(directory, spec, arrays, vocabulary, spec["label_names"])


def run_params(params: Params, name: str, prepared: PreparedData) -> dict:
    """The MLflow params of one training run: seed, train.*, models.<name>.*, dataset shape."""
    arch, model_params = params.model(name)
    tree = {"seed": params.seed, "architecture": arch, "train": params.train.model_dump(),
            "models": {name: model_params.model_dump(exclude={"architecture"})},
            "dataset": {k: prepared.spec[k] for k in ("dataset", "vocab_size", "num_classes", "max_len")}}
    return flatten(tree)


def train(params: Params, name: str, prepared: PreparedData, model_dir: Path):
    """Fit `models.<name>`; the best model is checkpointed (atomically) into model_dir."""
    from rnnops.train import fit_model

    arch, model_params = params.model(name)
    return fit_model(arch, model_params, params.train, DatasetSpec.from_json(prepared.spec),
                     prepared.arrays, params.seed, model_dir)


def summary(name: str, arch: str, result) -> dict:
    """metrics/train/<name>.json: what DVC compares across experiments."""
    return {
        "model": name, "architecture": arch, "best_epoch": result.best_epoch,
        "epochs_run": int(len(result.history)), "params_count": result.params_count,
        "train_seconds": round(result.seconds, 2),
        "samples_per_second": round(result.samples_per_second, 1),
        "val": {k: round(v, 5) for k, v in result.metrics["val"].items()},
        "test": {k: round(v, 5) for k, v in result.metrics["test"].items()},
    }


def write(result, prepared: PreparedData, metrics: dict, model_dir: Path, metrics_path: Path,
          plot_path: Path) -> None:
    """model.keras (token ids), text_model.keras (raw text), labels.json, probabilities.npz;
    metrics; history."""
    from rnnops.text_model import text_model
    from rnnops.train import atomic_save

    atomic_save(result.model, model_dir / "model.keras")
    atomic_save(text_model(result.model, prepared.spec, prepared.vocabulary), model_dir / "text_model.keras")
    # The class names travel with the models, so a model folder is self-describing.
    (model_dir / "labels.json").write_text(json.dumps(prepared.label_names) + "\n")
    np.savez(model_dir / "probabilities.npz", val=result.proba["val"], test=result.proba["test"],
             y_val=prepared.arrays["val"][1], y_test=prepared.arrays["test"][1])
    for leftover in ("history.csv",):
        (model_dir / leftover).unlink(missing_ok=True)
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
    history = result.history.copy()
    history["epoch"] = history["epoch"] + 1  # Keras counts from 0; people count from 1
    history.to_csv(plot_path, index=False, float_format="%.6g")


def log_to_mlflow(result, prepared: PreparedData, metrics: dict, model_dir: Path,
                  metrics_path: Path, plot_path: Path) -> dict:
    """Final metrics, plots, history and both models on the active run; returns run.json."""
    import tempfile

    import mlflow

    from rnnops import plots
    from rnnops.metrics import confusion
    from rnnops.mlflow_models import log_keras_model, log_text_model
    from rnnops.tracking import log_metrics_tree

    log_metrics_tree({k: v for k, v in metrics.items() if k not in ("model", "architecture")})
    with tempfile.TemporaryDirectory() as tmp:
        history = pd.read_csv(plot_path)
        plots.training_curves(history, Path(tmp) / "training_curves.png")
        plots.confusion_matrix(confusion(prepared.arrays["test"][1], result.proba["test"]),
                               prepared.label_names, Path(tmp) / "confusion_matrix_test.png")
        mlflow.log_artifacts(tmp, "plots")
    mlflow.log_artifact(str(plot_path), "history")
    mlflow.log_artifact(str(metrics_path), "metrics")
    example = prepared.arrays["val"][0][:5]
    model_info = log_keras_model(result.model, "model", example)
    text_info = log_text_model(model_dir / "text_model.keras", prepared.directory / "labels.json")
    run = mlflow.active_run()
    return {
        "run_id": run.info.run_id, "experiment_id": run.info.experiment_id,
        "tracking_uri": mlflow.get_tracking_uri(), "model_uri": model_info.model_uri,
        "text_model_uri": text_info.model_uri,
        "sha256": {f: _sha256(model_dir / f) for f in ("model.keras", "text_model.keras", "probabilities.npz")},
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
