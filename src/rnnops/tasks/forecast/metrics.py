"""Forecast scores in the series' own units: MAE, RMSE, sMAPE (%), MASE and R², overall and per step."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

from rnnops.errors import DataError

LOWER_IS_BETTER = ("mae", "rmse", "smape", "mase")
QUALITY = ("mae", "rmse", "smape", "mase", "r2")   # the DVC metrics of every forecasting file


def mase_scale(train_target: np.ndarray, season_length: int) -> float:
    """MASE's denominator: the in-sample MAE of the seasonal naive forecast on the training part,
    mean |y_t - y_{t-m}|."""
    y = np.asarray(train_target, dtype=np.float64).ravel()
    m = int(season_length)
    if len(y) <= m:
        raise DataError(f"baselines.season_length: {m} but the training part has only {len(y)} values, "
                        f"so MASE has no scale. Fix: set baselines.season_length below {len(y)} "
                        "or give the training part more data (a longer series or a smaller "
                        "data.val_fraction/data.test_fraction).")
    scale = float(np.mean(np.abs(y[m:] - y[:-m])))
    if not np.isfinite(scale) or scale == 0.0:
        raise DataError(f"baselines.season_length: {m} gives a MASE scale of {scale} (the training part "
                        "repeats itself exactly every season, or holds non-finite values). Fix: check the "
                        "series, or set baselines.season_length to a lag at which the training values change.")
    return scale


def _smape_terms(y: np.ndarray, yhat: np.ndarray) -> np.ndarray:
    num = 2.0 * np.abs(yhat - y)
    den = np.abs(y) + np.abs(yhat)
    out = np.zeros_like(num)  # 0/0 (both zero) counts as a perfect forecast
    np.divide(num, den, out=out, where=den != 0)
    return out


def forecast_metrics(y_true: np.ndarray, y_pred: np.ndarray, scale: float) -> dict:
    """Scores of forecasts `y_pred` [n, horizon] against `y_true` [n, horizon]; `scale` from
    mase_scale. Overall scores pool every point; per_step lists one value per horizon step."""
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if y.ndim == 1:
        y, p = y[:, None], p[:, None]
    if y.shape != p.shape or y.ndim != 2 or y.shape[0] == 0:
        raise ValueError(f"y_true {y.shape} and y_pred {p.shape} must both be [n, horizon] with n >= 1")
    scale = float(scale)
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"MASE scale must be positive and finite, got {scale}")
    smape = _smape_terms(y, p)
    step_mae = mean_absolute_error(y, p, multioutput="raw_values")
    per_step = {
        "mae": step_mae,
        "rmse": root_mean_squared_error(y, p, multioutput="raw_values"),
        "smape": 100.0 * smape.mean(axis=0),
        "mase": step_mae / scale,
        "r2": r2_score(y, p, multioutput="raw_values"),
    }
    mae = mean_absolute_error(y.ravel(), p.ravel())
    return {
        "mae": float(mae),
        "rmse": float(root_mean_squared_error(y.ravel(), p.ravel())),
        "smape": float(100.0 * smape.mean()),
        "mase": float(mae / scale),
        "r2": float(r2_score(y.ravel(), p.ravel())),
        "per_step": {k: [float(v) for v in np.atleast_1d(vals)] for k, vals in per_step.items()},
    }
