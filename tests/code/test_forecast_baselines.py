"""Classical baselines: hand-checked naive forecasts; rolling origin == serving from the history;
training-only fits; JSON round trip; clear errors."""
import json

import numpy as np
import pytest

from rnnops.errors import DataError, ParamsError
from rnnops.tasks.forecast.baselines import (BASELINES, Fitted, fit, forecast_from_history,
                                             rolling_forecasts)
from rnnops.tasks.forecast.params import BaselineParams

TINY = np.array([10.0, 20, 30, 40, 11, 21, 31, 41, 12, 22, 32, 42])  # m = 4
M, N, TRAIN = 12, 200, 140  # synthetic seasonal series for ets / sarimax


def _params(m, **kw):
    return BaselineParams(season_length=m, models=list(BASELINES), **kw)


@pytest.fixture(scope="module")
def series():
    rng = np.random.default_rng(0)
    t = np.arange(N)
    y = 10 + 0.05 * t + 3 * np.sin(2 * np.pi * t / M) + np.cos(4 * np.pi * t / M) + rng.normal(0, 0.5, N)
    return y, t + 1000  # grid positions need not start at 0


@pytest.fixture(scope="module")
def fitted(series):
    y, steps = series
    return {name: fit(name, y[:TRAIN], steps[:TRAIN], _params(M)) for name in ("ets", "sarimax")}


def test_naive_and_seasonal_naive_by_hand():
    steps = np.arange(len(TINY))
    origins = np.array([4, 6, 10, 12])
    naive = fit("naive", TINY[:8], steps[:8], _params(4))
    snaive = fit("seasonal_naive", TINY[:8], steps[:8], _params(4))
    assert (naive.min_history, snaive.min_history) == (1, 4)
    np.testing.assert_array_equal(rolling_forecasts(naive, TINY, steps, origins, 3),
                                  [[40, 40, 40], [21, 21, 21], [22, 22, 22], [42, 42, 42]])
    np.testing.assert_array_equal(rolling_forecasts(snaive, TINY, steps, origins, 3),
                                  [[10, 20, 30], [30, 40, 11], [31, 41, 12], [12, 22, 32]])
    # past one season the last observed season repeats
    np.testing.assert_array_equal(rolling_forecasts(snaive, TINY, steps, [12], 6), [[12, 22, 32, 42, 12, 22]])
    np.testing.assert_array_equal(forecast_from_history(snaive, TINY[:6], steps[:6], 3), [30, 40, 11])
    np.testing.assert_array_equal(forecast_from_history(naive, TINY[:6], steps[:6], 3), [21, 21, 21])


@pytest.mark.parametrize("name", ["ets", "sarimax"])
def test_rolling_origin_equals_serving_from_the_history(series, fitted, name):
    y, steps = series
    f = fitted[name]
    origins = np.array([f.min_history, 100, TRAIN, N - 2, N])  # the last ones run past the end
    rolled = rolling_forecasts(f, y, steps, origins, 4)
    assert rolled.shape == (5, 4) and np.all(np.isfinite(rolled))
    for o, row in zip(origins, rolled):
        served = forecast_from_history(f, y[:o], steps[:o], 4)
        assert np.max(np.abs(served - row)) < 1e-9, (name, o)
    # and they are real forecasts: one step ahead beats the naive forecast on this smooth season
    o = np.arange(TRAIN, N - 1)
    err = np.abs(rolling_forecasts(f, y, steps, o, 1)[:, 0] - y[o]).mean()
    assert err < np.abs(y[o - 1] - y[o]).mean()


@pytest.mark.parametrize("name", ["ets", "sarimax"])
def test_fit_reads_the_training_part_only(series, fitted, name):
    y, steps = series
    changed = y.copy()
    changed[TRAIN:] = 1e3
    again = fit(name, changed[:TRAIN], steps[:TRAIN], _params(M))
    assert again.config == fitted[name].config
    assert len(again.config["params"]) == len(again.config["param_names"]) > 0


def test_json_round_trip_gives_identical_forecasts(series, fitted):
    y, steps = series
    for f in [*fitted.values(), fit("seasonal_naive", y[:TRAIN], steps[:TRAIN], _params(M))]:
        back = Fitted.from_json(json.loads(json.dumps(f.to_json())))
        assert back == f
        origins = np.array([150, 180, N])
        np.testing.assert_array_equal(rolling_forecasts(back, y, steps, origins, 3),
                                      rolling_forecasts(f, y, steps, origins, 3))
        np.testing.assert_array_equal(forecast_from_history(back, y[:170], steps[:170], 3),
                                      forecast_from_history(f, y[:170], steps[:170], 3))


def test_too_short_history_names_the_count_needed(series, fitted):
    y, steps = series
    f = fitted["ets"]
    assert f.min_history == 5 * M  # statsmodels' heuristic start reads the first five seasons
    with pytest.raises(DataError, match=r"baselines\.ets: needs at least 60 history values, got 59.*Fix:"):
        forecast_from_history(f, y[:59], steps[:59], 3)
    with pytest.raises(DataError, match=r"baselines\.seasonal_naive: needs at least 12 .*got 5"):
        forecast_from_history(fit("seasonal_naive", y[:TRAIN], steps[:TRAIN], _params(M)), y[:5], steps[:5], 3)
    with pytest.raises(DataError, match=r"baselines\.sarimax: forecast origins"):
        rolling_forecasts(fitted["sarimax"], y, steps, [5], 3)


def test_bad_options_and_short_training_parts_are_user_errors(series):
    y, steps = series
    with pytest.raises(ParamsError, match=r"baselines\.sarimax\.fourier_terms.*Fix:"):
        fit("sarimax", y[:TRAIN], steps[:TRAIN], _params(4, sarimax={"fourier_terms": 2}))
    with pytest.raises(ParamsError, match=r"baselines\.ets\.seasonal.*Fix:"):
        fit("ets", y[:TRAIN], steps[:TRAIN], _params(1))
    with pytest.raises(DataError, match=r"baselines\.ets: the training part has 50 values.*Fix:"):
        fit("ets", y[:50], steps[:50], _params(M))
