"""K-fold cross-validation over the training rows (train + val of the prepared data), through the
one training loop (`fit_model`). For tasks without time order; forecasting never folds.

Each fold trains on K-1 folds and is scored on the held-out one, as a nested MLflow run of the
stage's run (per-epoch metrics included). The out-of-fold predictions (every training row
predicted by the model that did not see it) are what evaluate chooses ensembles by, so test is
never looked at before the end. The model kept is either refit on every training row for the
folds' mean best epoch (the notes' approach), or the average of the K fold models; test is scored
once, by that model.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from rnnops.data.splits import assign_folds, training_rows
from rnnops.training.fit import FitResult, fit_model, predict


@dataclass
class CrossValidation:
    folds: np.ndarray                 # fold id per training row (train rows, then val rows)
    per_fold: list[dict]              # fold, rows, best_epoch, epochs_run, seconds, and its val scores
    summary: dict                     # score -> {"mean": ..., "std": ...} across folds
    fold_model: str                   # refit | average

    def record(self) -> dict:
        """models/<name>/folds.json: what evaluate and the report read of the folds."""
        return {"folds": len(self.per_fold), "fold_model": self.fold_model, "per_fold": self.per_fold,
                "summary": self.summary}


def summarise(per_fold: list[dict], keys: tuple[str, ...]) -> dict:
    """score -> mean and (population) standard deviation across folds."""
    return {k: {"mean": float(np.mean([f[k] for f in per_fold])), "std": float(np.std([f[k] for f in per_fold]))}
            for k in keys}


def mean_history(histories: list[pd.DataFrame]) -> pd.DataFrame:
    """Per epoch, the mean of each logged value over the folds that ran that epoch (folds stop
    early at different epochs); the notes plot the same averaged curve."""
    stacked = pd.concat(histories, ignore_index=True)
    return stacked.groupby("epoch", as_index=False).mean(numeric_only=True)


def fold_arrays(arrays: dict, x: np.ndarray, y: np.ndarray, folds: np.ndarray, fold: int) -> dict:
    """One fold's fit: train on the other folds, validate on this one; test is not touched."""
    held = folds == fold
    return {"train": (x[~held], y[~held]), "val": (x[held], y[held]), "test": arrays["test"]}


def nested_run(name: str, tags: dict):
    """A child of the active (stage) run, in its experiment (not the default one)."""
    import mlflow

    parent = mlflow.active_run().info
    return mlflow.start_run(run_name=name, nested=True, experiment_id=parent.experiment_id, tags=tags)


def run_folds(architecture: str, model_params, train, spec, arrays: dict, seed: int, scorer=None,
              epochs: int | None = None, callbacks_for: Callable[[int, dict], list] | None = None,
              verbose: int | None = None, track: bool = True, stratified: bool = False):
    """Fit one model per fold. Returns (fold ids, fold FitResults, out-of-fold predictions).

    `callbacks_for(fold, arrays)` adds callbacks to a fold's fit (the tune stage's pruning);
    `track` nests a `fold-<k>` MLflow run per fold under the active run."""
    import mlflow

    x, y = training_rows(arrays)
    folds = assign_folds(y if stratified else np.zeros(len(y)), train.folds, seed, stratified)
    results, oof = [], None
    for fold in range(train.folds):
        parts = fold_arrays(arrays, x, y, folds, fold)
        run = nested_run(f"fold-{fold}", {"rnnops.stage": "train.fold", "rnnops.fold": str(fold)}) \
            if track and mlflow.active_run() else None
        status = "FAILED"   # a fold that raises (or is interrupted) is not shown as finished
        try:
            result = fit_model(architecture, model_params, train, spec, parts, seed + fold,
                               extra_callbacks=callbacks_for(fold, parts) if callbacks_for else None, epochs=epochs,
                               evaluate_splits=("val",), verbose=verbose, scorer=scorer)
            if run is not None:
                # The fold's scores in the task's units (Keras' per-epoch val_* are of what it fits).
                mlflow.log_metrics({f"fold_{k}": v for k, v in result.metrics["val"].items()
                                    if isinstance(v, (int, float))})
                mlflow.log_metrics({"best_epoch": result.best_epoch, "rows_train": len(parts["train"][1]),
                                    "rows_val": len(parts["val"][1])})
            status = "FINISHED"
        finally:
            if run is not None:
                mlflow.end_run(status)
        prediction = result.predictions["val"]
        if oof is None:
            oof = np.zeros((len(y), *prediction.shape[1:]), dtype=np.float64)
        oof[folds == fold] = prediction
        results.append(result)
    return folds, results, oof


def cross_validate(architecture: str, model_params, train, spec, arrays: dict, seed: int,
                   scorer=None, score_keys: tuple[str, ...] = (), metrics_fn=None,
                   stratified: bool = False, verbose: int | None = None) -> FitResult:
    """K folds, then the kept model (train.fold_model). The FitResult's "val" predictions and
    scores are the out-of-fold ones over every training row; "test" is the kept model's; its
    `cross_validation` holds the folds and per-fold scores."""
    import mlflow

    folds, results, oof = run_folds(architecture, model_params, train, spec, arrays, seed, scorer,
                                    verbose=verbose, stratified=stratified)
    x, y = training_rows(arrays)
    best_epochs = [r.best_epoch for r in results]
    if train.fold_model == "refit":
        epochs = max(1, int(round(float(np.mean(best_epochs)))))
        with nested_run("refit", {"rnnops.stage": "train.refit"}) if mlflow.active_run() else contextlib.nullcontext():
            final = fit_model(architecture, model_params, train, spec, {**arrays, "train": (x, y)}, seed,
                              epochs=epochs, evaluate_splits=("test",), verbose=verbose, scorer=scorer,
                              validate=False)
        model, seconds = final.model, sum(r.seconds for r in results) + final.seconds
    else:
        model, seconds = average_model([r.model for r in results], spec), sum(r.seconds for r in results)
    score = metrics_fn or (lambda split, truth, prediction: scorer(split, truth, prediction))
    predictions = {"val": oof, "test": predict(model, arrays["test"][0], spec)}
    metrics = {"val": score("val", y, oof), "test": score("test", arrays["test"][1], predictions["test"])}
    per_fold = [{"fold": k, "rows": int((folds == k).sum()), "best_epoch": r.best_epoch,
                 "epochs_run": int(len(r.history)), "seconds": round(r.seconds, 2),
                 **{key: r.metrics["val"][key] for key in score_keys}} for k, r in enumerate(results)]
    cv = CrossValidation(folds, per_fold, summarise(per_fold, score_keys), train.fold_model)
    history = mean_history([r.history for r in results])
    samples = sum(len(r.history) * (len(y) - p["rows"]) for r, p in zip(results, per_fold))
    fitted = FitResult(model, history, int(round(float(np.mean(best_epochs)))), seconds, samples / seconds,
                       int(model.count_params()), predictions, metrics, cv)
    return fitted


def average_model(models: list, spec):
    """One Keras model whose output is the mean of the fold models' outputs (saved and served as
    one .keras file). Each fold model is wrapped under a unique name."""
    import keras

    from rnnops.models.bodies import model_inputs

    inputs = model_inputs(spec)
    outputs = [keras.Model(m.input, m.output, name=f"fold_{k}")(inputs) for k, m in enumerate(models)]
    return keras.Model(inputs, keras.layers.Average(name="fold_average")(outputs), name="fold_average_model")

