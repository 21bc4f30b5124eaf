"""Forecast metrics against hand-computed values; the MASE scale and its errors."""
import json

import numpy as np
import pytest

from rnnops.errors import DataError
from rnnops.tasks.forecast.metrics import LOWER_IS_BETTER, forecast_metrics, mase_scale

Y = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
P = np.array([[2.0, 2.0], [3.0, 6.0], [4.0, 3.0]])  # errors [[1, 0], [0, 2], [-1, -3]]


def test_metrics_on_a_3x2_example_by_hand():
    m = forecast_metrics(Y, P, scale=0.5)
    assert m["mae"] == pytest.approx(7 / 6)
    assert m["rmse"] == pytest.approx(np.sqrt(15 / 6))
    # 2|e| / (|y| + |yhat|): [[2/3, 0], [0, 4/10], [2/9, 6/9]]
    assert m["smape"] == pytest.approx(100 * (2 / 3 + 0.4 + 2 / 9 + 2 / 3) / 6)
    assert m["mase"] == pytest.approx(7 / 3)
    assert m["r2"] == pytest.approx(1 - 15 / 17.5)  # SST over all six points: 17.5
    s = m["per_step"]
    assert s["mae"] == pytest.approx([2 / 3, 5 / 3])
    assert s["rmse"] == pytest.approx([np.sqrt(2 / 3), np.sqrt(13 / 3)])
    assert s["smape"] == pytest.approx([100 * (2 / 3 + 2 / 9) / 3, 100 * (0.4 + 2 / 3) / 3])
    assert s["mase"] == pytest.approx([4 / 3, 10 / 3])
    assert s["r2"] == pytest.approx([1 - 2 / 8, 1 - 13 / 8])


def test_smape_counts_zero_over_zero_as_zero():
    m = forecast_metrics(np.array([[0.0], [2.0]]), np.array([[0.0], [1.0]]), scale=1.0)
    assert m["smape"] == pytest.approx(100 * (0 + 2 / 3) / 2)
    assert np.isfinite(m["smape"])


def test_per_step_lengths_and_plain_floats():
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    m = forecast_metrics(y, p, scale=2.0)
    assert set(m) == {"mae", "rmse", "smape", "mase", "r2", "per_step"}
    assert set(LOWER_IS_BETTER) <= set(m)
    for name, values in m["per_step"].items():
        assert len(values) == 4 and all(type(v) is float for v in values), name
        assert type(m[name]) is float
    assert json.loads(json.dumps(m)) == m


def test_mase_with_a_hand_computed_scale():
    train = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    assert mase_scale(train, 2) == pytest.approx(5 / 3)  # |2-1|, |5-3|, |4-2|
    assert mase_scale(train, 1) == pytest.approx(7 / 4)  # |3-1|, |2-3|, |5-2|, |4-5|
    m = forecast_metrics(Y, P, scale=mase_scale(train, 2))
    assert m["mase"] == pytest.approx((7 / 6) / (5 / 3))


def test_mase_scale_errors_name_the_key_and_the_fix():
    with pytest.raises(DataError, match=r"baselines\.season_length.*only 4 values.*Fix:"):
        mase_scale(np.arange(4.0), 4)
    with pytest.raises(DataError, match=r"baselines\.season_length.*Fix:"):
        mase_scale(np.tile([1.0, 2.0, 3.0], 5), 3)  # repeats every season: scale 0
