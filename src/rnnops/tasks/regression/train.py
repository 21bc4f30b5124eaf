"""The regression task's train part: feature rows or texts through the shared loop
(rnnops.training.fit), K-fold cross-validation when train.folds > 1 (rnnops.training.folds),
scored in the target's units; the model and its pyfunc."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rnnops.models.bodies import DatasetSpec
from rnnops.models.keras_io import save_keras
from rnnops.project import flatten, sha256_file
from rnnops.tasks.regression.metrics import keys, regression_metrics
from rnnops.tasks.regression.params import RegressionParams
from rnnops.tasks.regression.prepared import PreparedTable
from rnnops.training.fit import FitResult, facts, fit_model, history_by_epoch  # noqa: F401 - facts: a part


class Scorer:
    """scorer(split, y, predictions) for the shared loop: the scaled target -> its units, then
    MAE, RMSE, R² (and within one star for ratings); also the scaled loss and MAE that Keras
    reports per epoch, which the tune stage optimises."""

    def __init__(self, prepared: PreparedTable):
        self.prepared, self.ratings = prepared, bool(prepared.spec.get("ratings"))

    def __call__(self, split: str, y: np.ndarray, predictions: np.ndarray) -> dict:
        y = np.asarray(y, np.float64).reshape(-1)
        scaled = np.asarray(predictions, np.float64).reshape(len(y), -1)[:, 0]
        p = self.prepared
        scores = regression_metrics(p.target_units(y), p.target_units(scaled), self.ratings)
        return {**scores, "loss": float(np.mean((y - scaled) ** 2)), "mae_scaled": float(np.mean(np.abs(y - scaled)))}


def fit_inputs(params: RegressionParams, prepared: PreparedTable):
    spec = prepared.spec
    if prepared.text:
        body_spec = DatasetSpec(vocab_size=spec["vocab_size"], num_classes=0, max_len=spec["max_len"], outputs=1)
    else:  # one "step" of every feature: the dense body flattens it ([rows, 1, features])
        body_spec = DatasetSpec(vocab_size=0, num_classes=0, max_len=1, features=len(spec["features"]), outputs=1)
    return body_spec, prepared.arrays, Scorer(prepared)


def train(params: RegressionParams, name: str, prepared: PreparedTable) -> FitResult:
    arch, model_params = params.model(name)
    spec, arrays, scorer = fit_inputs(params, prepared)
    if params.train.folds > 1:
        from rnnops.training.folds import cross_validate

        return cross_validate(arch, model_params, params.train, spec, arrays, params.seed, scorer,
                              score_keys=keys(prepared.spec))
    return fit_model(arch, model_params, params.train, spec, arrays, params.seed, scorer=scorer)


def run_params(params: RegressionParams, name: str, prepared: PreparedTable) -> dict:
    arch, model_params = params.model(name)
    return flatten({"seed": params.seed, "architecture": arch, "train": params.train.model_dump(),
                    "models": {name: model_params.model_dump(exclude={"architecture"})},
                    "dataset": {k: prepared.spec[k] for k in ("dataset", "inputs", "target", "rows")}})


def tags(prepared: PreparedTable) -> dict:
    return {"data.sha256": prepared.spec["source_sha256"]}


def scores(result: FitResult) -> dict:
    """metrics/train/<name>.json: val (out-of-fold with K folds) and test, and with K folds the
    mean and standard deviation across folds."""
    quality = [k for k in ("mae", "rmse", "r2", "within_1") if k in result.metrics["val"]]
    out = {s: {k: round(result.metrics[s][k], 5) for k in quality} for s in ("val", "test")}
    cv = result.cross_validation
    if cv is not None:
        out["folds"] = {k: {stat: round(v, 5) for stat, v in s.items()} for k, s in cv.summary.items()}
    return out


def describe(name: str, scores: dict, facts: dict) -> str:
    folds = scores.get("folds")
    cv = f", per-fold val MAE {folds['mae']['mean']:.4f} ± {folds['mae']['std']:.4f}" if folds else ""
    val = "out-of-fold" if folds else "val"
    return (f"train@{name}: {val} MAE {scores['val']['mae']:.4f}{cv}, test MAE {scores['test']['mae']:.4f}, "
            f"RMSE {scores['test']['rmse']:.4f}, R² {scores['test']['r2']:.4f}")


def predictions_in_units(result: FitResult, prepared: PreparedTable) -> dict[str, np.ndarray]:
    return {s: prepared.target_units(result.predictions[s]) for s in ("val", "test")}


def write(result: FitResult, prepared: PreparedTable, metrics: dict, model_dir: Path, metrics_path: Path,
          plot_path: Path) -> None:
    """model.keras (standardised rows or token ids in, the scaled target out), text_model.keras
    (texts), predictions.npz (val or out-of-fold, and test, in units, with their source rows:
    what evaluate combines), folds.json (K folds), metrics, history."""
    model_dir.mkdir(parents=True, exist_ok=True)
    save_keras(result.model, model_dir / "model.keras")
    if prepared.text:
        from rnnops.models.text_model import text_model

        save_keras(text_model(result.model, prepared.spec, prepared.vocabulary), model_dir / "text_model.keras")
    units = predictions_in_units(result, prepared)
    np.savez(model_dir / "predictions.npz", val=units["val"], test=units["test"],
             rows_val=prepared.selection("rows", 1 if result.cross_validation is None
                                         else len(result.cross_validation.per_fold)),
             rows_test=prepared.rows["test"])
    if result.cross_validation is not None:
        (model_dir / "folds.json").write_text(json.dumps(result.cross_validation.record(), indent=2) + "\n")
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
    history_by_epoch(result).to_csv(plot_path, index=False, float_format="%.6g")


def log_to_mlflow(result: FitResult, prepared: PreparedTable, metrics: dict, training: dict, model_dir: Path,
                  metrics_path: Path, plot_path: Path) -> dict:
    """Scores (and per-fold ones) and facts, curves, predicted-vs-actual, the Keras model and this
    model's pyfunc; returns run.json."""
    import tempfile

    import mlflow

    from rnnops import plots
    from rnnops.tasks.regression.publish import log_regressor
    from rnnops.tracking.logged_models import log_keras_model
    from rnnops.tracking.runs import log_metrics_tree

    log_metrics_tree({**metrics, **{k: v for k, v in training.items() if k not in ("model", "architecture")}})
    units = predictions_in_units(result, prepared)
    with tempfile.TemporaryDirectory() as tmp:
        plots.training_curves(history_by_epoch(result), Path(tmp) / "training_curves.png", ("loss", "mae"))
        plots.predicted_vs_actual(prepared.y["test"], units["test"], prepared.spec["target"],
                                  Path(tmp) / "predicted_vs_actual_test.png")
        mlflow.log_artifacts(tmp, "plots")
    mlflow.log_artifact(str(plot_path), "history")
    mlflow.log_artifact(str(metrics_path), "metrics")
    if (model_dir / "folds.json").is_file():
        mlflow.log_artifact(str(model_dir / "folds.json"), "metrics")
    model_info = log_keras_model(result.model, "model", prepared.x["val"][:5])
    regressor = log_regressor({training["model"]: 1.0}, {training["model"]: model_dir}, {}, prepared, "regressor")
    run = mlflow.active_run()
    files = ["model.keras", "predictions.npz", *(["text_model.keras"] if prepared.text else [])]
    return {
        "run_id": run.info.run_id, "experiment_id": run.info.experiment_id,
        "tracking_uri": mlflow.get_tracking_uri(), "model_uri": model_info.model_uri,
        "regressor_uri": regressor.model_uri, "training": training,
        "sha256": {f: sha256_file(model_dir / f) for f in files},
    }
