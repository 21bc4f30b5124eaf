"""The train@<name> stage (and train_tuned): fit one configured model on the prepared data,
write its outputs once from memory, and log everything to the active MLflow run."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rnnops.data.prepared import PreparedData
from rnnops.data.splits import selection_labels
from rnnops.models.bodies import DatasetSpec
from rnnops.models.keras_io import save_keras
from rnnops.models.text_model import text_model
from rnnops.params.load import Params
from rnnops.project import flatten, sha256_file
from rnnops.training.fit import FitResult, facts, fit_model, history_by_epoch  # noqa: F401 - facts: a part


def run_params(params: Params, name: str, prepared: PreparedData) -> dict:
    """The MLflow params of one training run: seed, train.*, models.<name>.*, dataset shape."""
    arch, model_params = params.model(name)
    tree = {"seed": params.seed, "architecture": arch, "train": params.train.model_dump(),
            "models": {name: model_params.model_dump(exclude={"architecture"})},
            "dataset": {k: prepared.spec[k] for k in ("dataset", "vocab_size", "num_classes", "max_len")}}
    return flatten(tree)


def fit_inputs(params: Params, prepared: PreparedData):
    """What the shared loop (rnnops.training.fit) needs: (DatasetSpec, arrays, scorer); class
    probabilities are scored by the loop itself (scorer None)."""
    return DatasetSpec.from_json(prepared.spec), prepared.arrays, None


def train(params: Params, name: str, prepared: PreparedData) -> FitResult:
    """Fit `models.<name>`: the model with its best epoch's weights, in memory."""
    arch, model_params = params.model(name)
    spec, arrays, scorer = fit_inputs(params, prepared)
    if params.train.folds > 1:  # stratified K-fold; val becomes out-of-fold over train + val
        from rnnops.scoring.metrics import classification_metrics
        from rnnops.training.folds import cross_validate

        return cross_validate(arch, model_params, params.train, spec, arrays, params.seed,
                              metrics_fn=lambda split, y, proba: classification_metrics(y, proba),
                              score_keys=("accuracy", "macro_f1", "loss"), stratified=True)
    return fit_model(arch, model_params, params.train, spec, arrays, params.seed, scorer=scorer)


def tags(prepared: PreparedData) -> dict:
    return {"data.sha256": prepared.spec["source_sha256"]}


def describe(name: str, scores: dict, facts: dict) -> str:
    return (f"train@{name}: val accuracy {scores['val']['accuracy']:.4f}, test accuracy "
            f"{scores['test']['accuracy']:.4f}, {facts['samples_per_second']:.0f} samples/s")


def scores(result) -> dict:
    """metrics/train/<name>.json: model quality only (what `dvc metrics diff` compares); the
    same keys as every metrics file, so `dvc metrics show` is one short table."""
    out = {split: {k: round(v, 5) for k, v in result.metrics[split].items()} for split in ("val", "test")}
    if result.cross_validation is not None:  # K folds: mean and std across folds
        out["folds"] = {k: {stat: round(v, 5) for stat, v in s.items()}
                        for k, s in result.cross_validation.summary.items()}
    return out


def write(result: FitResult, prepared: PreparedData, metrics: dict, model_dir: Path, metrics_path: Path,
          plot_path: Path) -> None:
    """model.keras (token ids), text_model.keras (raw text), labels.json, probabilities.npz;
    metrics; history (plots/train/<name>.csv, epochs counted from 1). Each file once."""
    model_dir.mkdir(parents=True, exist_ok=True)
    save_keras(result.model, model_dir / "model.keras")
    save_keras(text_model(result.model, prepared.spec, prepared.vocabulary), model_dir / "text_model.keras")
    # The class names travel with the models, so a model folder is self-describing.
    (model_dir / "labels.json").write_text(json.dumps(prepared.label_names) + "\n")
    folds = 1 if result.cross_validation is None else len(result.cross_validation.per_fold)
    np.savez(model_dir / "probabilities.npz", val=result.predictions["val"], test=result.predictions["test"],
             y_val=selection_labels(prepared.arrays, folds), y_test=prepared.arrays["test"][1])
    if result.cross_validation is not None:
        (model_dir / "folds.json").write_text(json.dumps(result.cross_validation.record(), indent=2) + "\n")
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
    history_by_epoch(result).to_csv(plot_path, index=False, float_format="%.6g")


def log_to_mlflow(result, prepared: PreparedData, metrics: dict, training: dict, model_dir: Path,
                  metrics_path: Path, plot_path: Path) -> dict:
    """Final metrics and facts, plots, history and both models on the active run; returns run.json."""
    import tempfile

    import mlflow

    from rnnops import plots
    from rnnops.scoring.metrics import confusion
    from rnnops.tracking.logged_models import log_keras_model, log_text_model
    from rnnops.tracking.runs import log_metrics_tree

    log_metrics_tree({**metrics, **{k: v for k, v in training.items() if k not in ("model", "architecture")}})
    with tempfile.TemporaryDirectory() as tmp:
        plots.training_curves(history_by_epoch(result), Path(tmp) / "training_curves.png")
        plots.confusion_matrix(confusion(prepared.arrays["test"][1], result.predictions["test"]),
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
        "text_model_uri": text_info.model_uri, "training": training,
        "sha256": {f: sha256_file(model_dir / f) for f in ("model.keras", "text_model.keras", "probabilities.npz")},
    }
