"""Forecast sources: the real statsmodels series, the seeded sine, and a user's CSV with every
fixable problem reported as one DataError naming the file, the line and the fix."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.datasets as datasets

from rnnops.errors import DataError
from rnnops.tasks.forecast.params import ForecastDataParams
from rnnops.tasks.forecast.series import load_series

BASE = dict(window=4, horizon=2, stride=1, val_fraction=0.1, test_fraction=0.1, scaling="standard", anchor="last")


def params(source="csv", fill="interpolate", **kw) -> ForecastDataParams:
    return ForecastDataParams(source=source, fill=fill, **{**BASE, **kw})


def write_csv(tmp_path, text: str, name: str = "sales.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def csv_error(tmp_path, text: str, **kw) -> str:
    path = write_csv(tmp_path, text)
    with pytest.raises(DataError) as err:
        load_series(params(path=str(path), **kw), seed=0)
    message = str(err.value)
    assert "sales.csv" in message and "Fix:" in message, message
    return message


def test_co2_weekly_with_59_values_interpolated():
    s = load_series(params("co2"), seed=0)
    assert (s.name, s.target, s.inputs, s.frequency, s.filled) == ("co2", "co2", [], "W-SAT", 59)
    assert len(s.frame) == 2284 and s.frame.index[0] == pd.Timestamp("1958-03-29")
    assert s.frame.index.name == "time" and s.frame.index.freqstr == "W-SAT"
    assert list(s.frame.columns) == ["co2"] and s.frame["co2"].dtype == np.float64
    assert np.isfinite(s.frame.to_numpy()).all()
    raw = datasets.co2.load_pandas().data["co2"]
    known = raw.notna().to_numpy()
    np.testing.assert_array_equal(s.frame["co2"].to_numpy()[known], raw.to_numpy()[known])
    # 1958-05-10 is missing between 316.9 (05-03) and 317.5 (05-17): linear in time -> the mean
    assert s.frame.loc["1958-05-10", "co2"] == pytest.approx((316.9 + 317.5) / 2)
    assert s.origin == "statsmodels.datasets.co2" and len(s.sha256) == 64


def test_co2_fill_error_names_the_first_missing_timestamp():
    with pytest.raises(DataError) as err:
        load_series(params("co2", fill="error"), seed=0)
    message = str(err.value)
    assert "co2.csv" in message and "line 8" in message and "1958-05-10" in message
    assert "Fix: set data.fill: interpolate or ffill" in message


@pytest.mark.parametrize("source,target,first,n", [("sunspots", "sunactivity", "1700-01-01", 309),
                                                    ("nile", "volume", "1871-01-01", 100)])
def test_yearly_builtins(source, target, first, n):
    s = load_series(params(source), seed=0)
    assert (s.name, s.target, len(s.frame), s.filled) == (source, target, n, 0)
    assert s.frame.index[0] == pd.Timestamp(first) and s.frequency == "YS-JAN"
    raw = getattr(datasets, source).load_pandas().data
    np.testing.assert_array_equal(s.frame[target].to_numpy(), raw.iloc[:, 1].to_numpy())


def test_sine_is_reproducible_with_the_seed():
    p = params("sine", sine={"length": 300, "period": 25.0, "noise": 0.1})
    a, b, c = load_series(p, seed=1), load_series(p, seed=1), load_series(p, seed=2)
    assert a.frame.equals(b.frame) and a.sha256 == b.sha256
    assert not np.allclose(a.frame["value"], c.frame["value"]) and a.sha256 != c.sha256
    assert len(a.frame) == 300 and a.frequency == "D" and a.frame.index[0] == pd.Timestamp("2000-01-01")
    clean = np.sin(2 * np.pi * np.arange(300) / 25.0)
    assert 0.05 < np.std(a.frame["value"].to_numpy() - clean) < 0.2


def test_csv_with_inputs_and_a_missing_week_gets_it_inserted_and_filled(tmp_path):
    path = write_csv(tmp_path, "date,sales,price\n2024-01-06,10,1\n2024-01-13,12,2\n"
                               "2024-01-27,16,4\n2024-02-03,,5\n2024-02-10,20,6\n", "My Sales.csv")
    s = load_series(params(path=str(path), csv={"target": "sales", "inputs": ["price"]}), seed=0)
    assert s.name == "my-sales" and s.frequency == "W-SAT" and s.origin == str(path)
    assert list(s.frame.columns) == ["sales", "price"] and len(s.frame) == 6
    assert s.frame.loc["2024-01-20"].tolist() == [14.0, 3.0]  # the inserted week, interpolated
    assert s.frame.loc["2024-02-03", "sales"] == 18.0          # the empty cell
    assert s.filled == 3                                         # 2 cells of the new week + 1 empty cell
    ffilled = load_series(params(path=str(path), fill="ffill", csv={"target": "sales"}), seed=0)
    assert ffilled.frame["sales"].tolist() == [10, 12, 12, 16, 16, 20]


def test_leading_missing_values_carry_the_nearest_value(tmp_path):
    path = write_csv(tmp_path, "date,value\n2024-01-01,\n2024-01-02,3\n2024-01-03,5\n2024-01-04,\n")
    s = load_series(params(path=str(path)), seed=0)
    assert s.frame["value"].tolist() == [3.0, 3.0, 5.0, 5.0] and s.filled == 2


def test_explicit_frequency_and_monthly_gaps(tmp_path):
    path = write_csv(tmp_path, "date,value\n2024-01-01,1\n2024-02-01,2\n2024-04-01,4\n2024-05-01,5\n")
    s = load_series(params(path=str(path)), seed=0)
    assert s.frequency == "MS" and s.frame["value"].tolist() == pytest.approx([1, 2, 2 + 29 / 60 * 2, 4, 5])
    hourly = write_csv(tmp_path, "date,value\n2024-01-01 00:00,1\n2024-01-01 02:00,3\n", "h.csv")
    assert load_series(params(path=str(hourly), csv={"frequency": "h"}), seed=0).frame["value"].tolist() == [1, 2, 3]


def test_unparseable_timestamp(tmp_path):
    message = csv_error(tmp_path, "date,value\n2024-01-01,1\n2024-01-02,2\nyesterday,3\n")
    assert "line 4" in message and "'yesterday'" in message


def test_unsorted_timestamps(tmp_path):
    message = csv_error(tmp_path, "date,value\n2024-01-01,1\n2024-01-03,2\n2024-01-02,3\n")
    assert "line 4" in message and "unsorted" in message and "sort the file" in message


def test_duplicate_timestamps(tmp_path):
    message = csv_error(tmp_path, "date,value\n2024-01-01,1\n2024-01-02,2\n2024-01-02,3\n2024-01-03,4\n")
    assert "line 4" in message and "repeats line 3" in message


def test_irregular_step(tmp_path):
    days = [f"2024-01-{d:02d}" for d in (1, 2, 3, 4, 5)] + ["2024-01-05 12:00", "2024-01-06"]
    message = csv_error(tmp_path, "date,value\n" + "".join(f"{d},{i}\n" for i, d in enumerate(days)))
    assert "line 7" in message and "off the regular D grid" in message and "2024-01-06" in message


def test_non_numeric_and_infinite_values(tmp_path):
    message = csv_error(tmp_path, "date,value\n2024-01-01,1\n2024-01-02,lots\n2024-01-03,3\n")
    assert "line 3" in message and "column 'value'" in message and "'lots'" in message
    message = csv_error(tmp_path, "date,value\n2024-01-01,1\n2024-01-02,2\n2024-01-03,inf\n")
    assert "line 4" in message and "not a finite number" in message


def test_missing_column_names_the_params_key(tmp_path):
    message = csv_error(tmp_path, "date,sales\n2024-01-01,1\n2024-01-02,2\n")
    assert "data.csv.target='value'" in message and "'sales'" in message
    message = csv_error(tmp_path, "date,value\n2024-01-01,1\n2024-01-02,2\n", csv={"inputs": ["price"]})
    assert "data.csv.inputs[0]='price'" in message


def test_gaps_with_fill_error(tmp_path):
    message = csv_error(tmp_path, "date,value\n2024-01-01,1\n2024-01-02,2\n2024-01-04,4\n2024-01-05,5\n",
                        fill="error")
    assert "2024-01-03" in message and "line 3" in message and "set data.fill: interpolate or ffill" in message


def test_too_short_and_bad_frequency(tmp_path):
    message = csv_error(tmp_path, "date,value\n2024-01-01,1\n")
    assert "at least 2" in message
    path = write_csv(tmp_path, "date,value\n2024-01-01,1\n2024-01-02,2\n")
    with pytest.raises(DataError, match="data.csv.frequency: 'fortnightly'.*Fix:"):
        load_series(params(path=str(path), csv={"frequency": "fortnightly"}), seed=0)
