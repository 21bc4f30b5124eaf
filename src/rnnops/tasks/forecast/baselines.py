"""Classical peers of the trained forecasters: naive, seasonal naive, ETS and SARIMAX.

Each is fitted on the training part only. Evaluation forecasts every origin from the data before
it (rolling origin) with the parameters fixed at their training values (no refit); serving filters
the same fixed parameters over the history it is given, so it reproduces evaluation exactly.
"""
from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from rnnops.errors import DataError, ParamsError
from rnnops.tasks.forecast.params import BaselineParams

BASELINES = ("naive", "seasonal_naive", "ets", "sarimax")


@dataclass
class Fitted:
    name: str
    config: dict = field(default_factory=dict)  # JSON-able: kind, season_length, options, params
    min_history: int = 1  # fewest history values forecast_from_history accepts

    def to_json(self) -> dict:
        return {"name": self.name, "config": self.config, "min_history": self.min_history}

    @classmethod
    def from_json(cls, d: dict) -> "Fitted":
        return cls(name=d["name"], config=d["config"], min_history=int(d["min_history"]))


def _fourier(steps: np.ndarray, season_length: int, terms: int) -> np.ndarray | None:
    """sin/cos(2*pi*k*step/m), k = 1..terms, as [len(steps), 2*terms] (None when terms is 0)."""
    if terms == 0:
        return None
    phase = 2.0 * np.pi * (np.asarray(steps, dtype=np.int64) % season_length) / season_length
    return np.column_stack([f(k * phase) for k in range(1, terms + 1) for f in (np.sin, np.cos)])


@contextlib.contextmanager
def _quiet():
    """Silence statsmodels' convergence/start-value noise (a real failure still raises)."""
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, ValueWarning

    with warnings.catch_warnings():
        for category in (ConvergenceWarning, ValueWarning):
            warnings.simplefilter("ignore", category)
        warnings.filterwarnings("ignore", module=r"statsmodels\.")
        yield


def _ets_min_history(m: int, seasonal: bool) -> int:
    # statsmodels' heuristic initialization reads the first 10 values (non-seasonal), or the first
    # max(5, ceil((10 + 2*(m//2)) / m)) seasons: from that length on it no longer depends on how
    # long the series is, so a history filters to the same states as the whole series.
    if not seasonal:
        return 10
    return m * max(5, math.ceil((10 + 2 * (m // 2)) / m))


def _min_history(kind: str, m: int, options: dict) -> int:
    if kind == "naive":
        return 1
    if kind == "seasonal_naive":
        return m
    if kind == "ets":
        return _ets_min_history(m, options["seasonal"])
    return max(10, sum(options["order"]) + 1)


def _model(config: dict, target: np.ndarray, steps: np.ndarray):
    """The statsmodels model of an ets/sarimax config on `target` (grid positions `steps`)."""
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    m, opts = config["season_length"], config["options"]
    if config["kind"] == "ets":
        return ExponentialSmoothing(target, trend=opts["trend"], damped_trend=opts["damped_trend"],
                                    seasonal=m if opts["seasonal"] else None,
                                    initialization_method="heuristic")
    # the deterministic trend's clock starts at the training part's first step, wherever the data starts
    offset = int(steps[0]) - int(config["first_step"]) + 1
    return SARIMAX(target, exog=_fourier(steps, m, opts["fourier_terms"]), order=tuple(opts["order"]),
                   trend=opts["trend"], trend_offset=offset)


def _future_exog(config: dict, last_step: int, count: int) -> np.ndarray | None:
    if config["kind"] != "sarimax" or count <= 0:
        return None
    return _fourier(last_step + 1 + np.arange(count), config["season_length"],
                    config["options"]["fourier_terms"])


def _check_options(name: str, m: int, opts: BaselineParams) -> dict:
    if name == "ets":
        if opts.ets.seasonal and m < 2:
            raise ParamsError(f"baselines.ets.seasonal is true but baselines.season_length is {m}. "
                              "Fix: set baselines.ets.seasonal: false, or season_length >= 2.")
        return opts.ets.model_dump()
    if name == "sarimax":
        k = opts.sarimax.fourier_terms
        if k and 2 * k >= m:
            raise ParamsError(f"baselines.sarimax.fourier_terms: {k} needs baselines.season_length > {2 * k} "
                              f"(it is {m}; higher terms repeat lower ones). Fix: set fourier_terms "
                              f"to at most {max(0, (m - 1) // 2)}.")
        return {**opts.sarimax.model_dump(), "order": list(opts.sarimax.order)}
    return {}


def fit(name: str, train_target: np.ndarray, train_steps: np.ndarray, opts: BaselineParams) -> Fitted:
    """Fit baseline `name` on the training part (`train_steps`: its int positions on the time grid)."""
    if name not in BASELINES:
        raise ParamsError(f"baselines.models: unknown model {name!r}. Fix: use some of {', '.join(BASELINES)}.")
    y = np.asarray(train_target, dtype=np.float64).ravel()
    steps = np.asarray(train_steps, dtype=np.int64).ravel()
    if len(y) != len(steps):
        raise ValueError(f"train_target has {len(y)} values but train_steps {len(steps)}")
    m = opts.season_length
    options = _check_options(name, m, opts)
    config = {"kind": name, "season_length": m, "options": options, "param_names": [], "params": []}
    min_history = _min_history(name, m, options)
    if len(y) < min_history:
        raise DataError(f"baselines.{name}: the training part has {len(y)} values, too few to fit "
                        f"(needs at least {min_history}). Fix: give the training part more data "
                        f"or drop {name} from baselines.models.")
    if not np.all(np.isfinite(y)):
        raise DataError(f"baselines.{name}: the training part holds NaN or infinite values. "
                        "Fix: set data.fill to interpolate or ffill.")
    if name in ("ets", "sarimax"):
        config["first_step"] = int(steps[0])
        try:
            with _quiet():
                res = _model(config, y, steps).fit(disp=False)
            params = np.asarray(res.params, dtype=np.float64)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            raise DataError(f"baselines.{name}: fitting failed on the training part "
                            f"({type(exc).__name__}: {exc}). Fix: change baselines.{name} options "
                            f"or drop {name} from baselines.models.") from exc
        if not np.all(np.isfinite(params)):
            raise DataError(f"baselines.{name}: fitting gave non-finite parameters. Fix: change "
                            f"baselines.{name} options or drop {name} from baselines.models.")
        config["param_names"] = list(res.model.param_names)
        config["params"] = [float(v) for v in params]
    return Fitted(name=name, config=config, min_history=min_history)


def _filtered(fitted: Fitted, target: np.ndarray, steps: np.ndarray):
    with _quiet():
        return _model(fitted.config, target, steps).filter(np.asarray(fitted.config["params"]))


def _inputs(target, steps) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(target, dtype=np.float64).ravel()
    s = np.asarray(steps, dtype=np.int64).ravel()
    if len(y) != len(s):
        raise ValueError(f"target has {len(y)} values but steps {len(s)}")
    return y, s


def rolling_forecasts(fitted: Fitted, target: np.ndarray, steps: np.ndarray,
                      origins: np.ndarray, horizon: int) -> np.ndarray:
    """[len(origins), horizon]: row i forecasts target[o:o+horizon] from target[:o] only (o = origins[i]);
    the horizon may run past the end of the series."""
    y, s = _inputs(target, steps)
    origins = np.asarray(origins, dtype=np.int64).ravel()
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    if len(origins) == 0:
        return np.zeros((0, horizon))
    if origins.min() < fitted.min_history or origins.max() > len(y):
        raise DataError(f"baselines.{fitted.name}: forecast origins must lie in [{fitted.min_history}, "
                        f"{len(y)}] (it needs {fitted.min_history} history values), got {origins.min()}.."
                        f"{origins.max()}. Fix: give a longer series or larger data.val_fraction/train part.")
    j = np.arange(horizon)
    kind, m = fitted.config["kind"], fitted.config["season_length"]
    if kind == "naive":
        return np.repeat(y[origins - 1][:, None], horizon, axis=1)
    if kind == "seasonal_naive":
        return y[origins[:, None] + j - m * (1 + j // m)]
    res = _filtered(fitted, y, s)
    out = np.empty((len(origins), horizon))
    with _quiet():
        for i, o in enumerate(origins):
            end = int(o) + horizon - 1
            exog = _future_exog(fitted.config, int(s[-1]), end - len(y) + 1)
            kw = {} if exog is None else {"exog": exog}
            out[i] = res.get_prediction(start=int(o), end=end, dynamic=True, **kw).predicted_mean
    return out


def forecast_from_history(fitted: Fitted, history: np.ndarray, history_steps: np.ndarray,
                          horizon: int) -> np.ndarray:
    """[horizon]: the forecast after `history` (serving), with the fixed training parameters."""
    y, s = _inputs(history, history_steps)
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    if len(y) < fitted.min_history:
        raise DataError(f"baselines.{fitted.name}: needs at least {fitted.min_history} history values, "
                        f"got {len(y)}. Fix: send the last {fitted.min_history} (or more) values of the series.")
    if not np.all(np.isfinite(y)):
        raise DataError(f"baselines.{fitted.name}: the history holds NaN or infinite values. "
                        "Fix: fill the gaps before forecasting.")
    kind, m = fitted.config["kind"], fitted.config["season_length"]
    j = np.arange(horizon)
    if kind == "naive":
        return np.full(horizon, y[-1])
    if kind == "seasonal_naive":
        return y[len(y) + j - m * (1 + j // m)]
    res = _filtered(fitted, y, s)
    exog = _future_exog(fitted.config, int(s[-1]), horizon)
    with _quiet():
        return np.asarray(res.forecast(horizon, **({} if exog is None else {"exog": exog})), dtype=np.float64)
