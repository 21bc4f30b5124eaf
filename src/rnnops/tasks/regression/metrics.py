"""Regression scores, one definition for models, peers and ensembles: MAE, RMSE, R² (scikit-learn),
and for star ratings the share of predictions within one star."""
from __future__ import annotations

import numpy as np

QUALITY = ("mae", "rmse", "r2")         # the keys of every regression metrics file
RATING_QUALITY = (*QUALITY, "within_1")  # ... plus this one for ratings (imdb)


def regression_metrics(y: np.ndarray, prediction: np.ndarray, ratings: bool = False) -> dict[str, float]:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y = np.asarray(y, np.float64).reshape(-1)
    prediction = np.asarray(prediction, np.float64).reshape(-1)
    scores = {"mae": float(mean_absolute_error(y, prediction)),
              "rmse": float(np.sqrt(mean_squared_error(y, prediction))),
              "r2": float(r2_score(y, prediction))}
    if ratings:
        scores["within_1"] = float(np.mean(np.abs(y - prediction) <= 1.0))
    return scores


def keys(spec: dict) -> tuple[str, ...]:
    return RATING_QUALITY if spec.get("ratings") else QUALITY
