"""The forecasting task's train part: numeric windows through the shared loop
(rnnops.training.fit), scored in the series' units; the model and its raw-history pyfunc."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rnnops.models.bodies import DatasetSpec
from rnnops.models.keras_io import save_keras
from rnnops.project import flatten, sha256_file
from rnnops.tasks.forecast.metrics import QUALITY, forecast_metrics, mase_scale
from rnnops.tasks.forecast.params import ForecastParams
from rnnops.tasks.forecast.windows import PreparedSeries, Scaler
from rnnops.training.fit import FitResult, facts, fit_model, history_by_epoch  # noqa: F401 - facts: a part


class Scorer:
    """scorer(split, y, predictions) for the shared loop: scaled windows -> the series' units,
    then MAE, RMSE, sMAPE, MASE, R² (each overall and per step); also the scaled loss and MAE the
    Keras logs report, which the tune stage optimises."""

    def __init__(self, prepared: PreparedSeries, season_length: int):
        spec = prepared.spec
        self.target, self.scaler = spec["target"], Scaler.from_json(spec["scaler"])
        train_end = spec["bounds"]["train"][1]
        self.scale = mase_scale(prepared.series[self.target].to_numpy()[:train_end], season_length)

    def units(self, scaled: np.ndarray) -> np.ndarray:
        return self.scaler.target_to_units(np.asarray(scaled, dtype=np.float64), self.target)

    def __call__(self, split: str, y: np.ndarray, predictions: np.ndarray) -> dict:
        error = np.asarray(y, np.float64) - predictions
        scores = forecast_metrics(self.units(y), self.units(predictions), self.scale)
        return {**scores, "loss": float(np.mean(error ** 2)), "mae_scaled": float(np.mean(np.abs(error)))}


def fit_inputs(params: ForecastParams, prepared: PreparedSeries):
    spec = prepared.spec
    x = prepared.arrays["train"][0]
    body_spec = DatasetSpec(vocab_size=0, num_classes=0, max_len=spec["window"], features=x.shape[2],
                            outputs=spec["horizon"], anchored=params.data.anchor == "last")
    return body_spec, prepared.arrays, Scorer(prepared, params.baselines.season_length)


def train(params: ForecastParams, name: str, prepared: PreparedSeries) -> FitResult:
    arch, model_params = params.model(name)
    spec, arrays, scorer = fit_inputs(params, prepared)
    return fit_model(arch, model_params, params.train, spec, arrays, params.seed, scorer=scorer)


def run_params(params: ForecastParams, name: str, prepared: PreparedSeries) -> dict:
    arch, model_params = params.model(name)
    keys = ("dataset", "target", "frequency", "window", "horizon", "n_steps")
    return flatten({"seed": params.seed, "architecture": arch, "train": params.train.model_dump(),
                    "models": {name: model_params.model_dump(exclude={"architecture"})},
                    "dataset": {k: prepared.spec[k] for k in keys}})


def tags(prepared: PreparedSeries) -> dict:
    return {"data.sha256": prepared.spec["source_sha256"]}


def scores(result: FitResult) -> dict:
    """metrics/train/<name>.json: the same keys in every forecasting metrics file."""
    return {s: {k: round(result.metrics[s][k], 5) for k in QUALITY} for s in ("val", "test")}


def describe(name: str, scores: dict, facts: dict) -> str:
    return (f"train@{name}: val MAE {scores['val']['mae']:.4f}, test MAE {scores['test']['mae']:.4f}, "
            f"test MASE {scores['test']['mase']:.4f}, {facts['samples_per_second']:.0f} windows/s")


def forecasts_in_units(result: FitResult, prepared: PreparedSeries) -> dict[str, np.ndarray]:
    scaler, target = Scaler.from_json(prepared.spec["scaler"]), prepared.spec["target"]
    return {s: scaler.target_to_units(result.predictions[s], target) for s in ("val", "test")}


def write(result: FitResult, prepared: PreparedSeries, metrics: dict, model_dir: Path, metrics_path: Path,
          plot_path: Path) -> None:
    """model.keras (scaled windows in, scaled forecasts out), forecasts.npz (val and test forecasts
    in the series' units, with their origins: what evaluate combines), metrics, history."""
    model_dir.mkdir(parents=True, exist_ok=True)
    save_keras(result.model, model_dir / "model.keras")
    units = forecasts_in_units(result, prepared)
    np.savez(model_dir / "forecasts.npz", val=units["val"], test=units["test"],
             origins_val=prepared.origins["val"], origins_test=prepared.origins["test"])
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
    history_by_epoch(result).to_csv(plot_path, index=False, float_format="%.6g")


def log_to_mlflow(result: FitResult, prepared: PreparedSeries, metrics: dict, training: dict, model_dir: Path,
                  metrics_path: Path, plot_path: Path) -> dict:
    """Scores (overall and per step) and facts, curves, the Keras model and the raw-history
    pyfunc of this one model; returns run.json."""
    import tempfile

    import mlflow

    from rnnops import plots
    from rnnops.tasks.forecast.publish import log_forecaster
    from rnnops.tracking.logged_models import log_keras_model
    from rnnops.tracking.runs import log_metrics_tree

    per_step = {s: {k: dict(enumerate(v, 1)) for k, v in result.metrics[s]["per_step"].items()}
                for s in ("val", "test")}
    log_metrics_tree({**metrics, "per_step": per_step,
                      **{k: v for k, v in training.items() if k not in ("model", "architecture")}})
    with tempfile.TemporaryDirectory() as tmp:
        plots.training_curves(history_by_epoch(result), Path(tmp) / "training_curves.png", ("loss", "mae"))
        mlflow.log_artifacts(tmp, "plots")
    mlflow.log_artifact(str(plot_path), "history")
    mlflow.log_artifact(str(metrics_path), "metrics")
    model_info = log_keras_model(result.model, "model", prepared.arrays["val"][0][:5])
    forecaster = log_forecaster({training["model"]: 1.0}, {training["model"]: model_dir}, {}, prepared, "forecaster")
    run = mlflow.active_run()
    return {
        "run_id": run.info.run_id, "experiment_id": run.info.experiment_id,
        "tracking_uri": mlflow.get_tracking_uri(), "model_uri": model_info.model_uri,
        "forecaster_uri": forecaster.model_uri, "training": training,
        "sha256": {f: sha256_file(model_dir / f) for f in ("model.keras", "forecasts.npz")},
    }
