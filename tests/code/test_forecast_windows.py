"""Forecast windows: chronological splits, no look-ahead, train-only scaling, the prepared format
and serving windows from a raw history."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rnnops.errors import DataError
from rnnops.tasks.forecast.params import ForecastDataParams
from rnnops.tasks.forecast.series import Series, load_series
from rnnops.tasks.forecast.windows import (PreparedSeries, Scaler, build, load, make_windows, split_bounds,
                                           window_from_history)


def data_params(**kw) -> ForecastDataParams:
    base = dict(source="sine", fill="interpolate", window=5, horizon=3, stride=2, val_fraction=0.2,
                test_fraction=0.2, scaling="standard", anchor="last")
    return ForecastDataParams(**{**base, **kw})


def index_series(n: int = 50, inputs: bool = True) -> Series:
    """value = its own step index (and an input = 1000 + index): any look-ahead shows in the numbers."""
    index = pd.date_range("2020-01-04", periods=n, freq="W-SAT", name="time")
    columns = {"value": np.arange(n, dtype=np.float64)}
    if inputs:
        columns["price"] = 1000.0 + np.arange(n)
    frame = pd.DataFrame(columns, index=index)
    return Series("idx", frame, "value", ["price"] if inputs else [], "W-SAT", "test", "0" * 64, 0)


def test_split_bounds_exact():
    assert split_bounds(100, 0.2, 0.1, 10, 5, "s") == {"train": (0, 70), "val": (70, 90), "test": (90, 100)}
    assert split_bounds(50, 0.2, 0.2, 5, 3, "s") == {"train": (0, 30), "val": (30, 40), "test": (40, 50)}


@pytest.mark.parametrize("n,window,horizon", [(20, 10, 3), (50, 5, 11), (4, 1, 1)])
def test_split_bounds_too_short(n, window, horizon):
    with pytest.raises(DataError, match=r"myseries: .*train .*Fix: lower data.window/data.horizon"):
        split_bounds(n, 0.1, 0.1, window, horizon, "myseries")


def test_make_windows_use_only_the_past():
    n, window, horizon = 40, 6, 4
    scaled = np.stack([np.arange(n), -np.arange(n)], axis=1).astype(np.float64)  # value = index
    x, y, origins = make_windows(scaled, 0, 0, n, window, horizon, stride=1)
    assert x.shape == (n - window - horizon + 1, window, 2) and y.shape == (len(origins), horizon)
    assert x.dtype == y.dtype == np.float32 and origins.dtype == np.int64
    assert origins[0] == window and origins[-1] == n - horizon
    for k, o in enumerate(origins):
        assert x[k, :, 0].tolist() == list(range(o - window, o))   # the window ends just before o
        assert x[k, :, 0].max() < o and (x[k, :, 1] == -x[k, :, 0]).all()
        assert y[k].tolist() == list(range(o, o + horizon))       # exactly [o, o + horizon)
    _, _, strided = make_windows(scaled, 0, 20, 30, window, horizon, stride=3)
    assert strided.tolist() == [20, 23, 26]


def test_built_splits_respect_their_bounds():
    p = data_params(scaling="none")
    prepared = build(index_series(), p)
    b = prepared.spec["bounds"]
    assert b == {"train": [0, 30], "val": [30, 40], "test": [40, 50]}
    for split, (x, y) in prepared.arrays.items():
        start, end = b[split]
        o = prepared.origins[split]
        assert (y[:, 0] == o).all() and (x[:, -1, 0] == o - 1).all()  # value = index (scaling none)
        assert y.min() >= start and y.max() < end                      # targets inside the split
        if split == "train":
            assert x.min() >= 0 and x[:, :, 0].max() < end and np.diff(o).tolist() == [2] * (len(o) - 1)
        else:
            assert np.diff(o).tolist() == [1] * (len(o) - 1) and o[0] == start and o[-1] == end - p.horizon
    assert prepared.spec["periods"]["val"] == ["2020-08-01T00:00:00", "2020-10-03T00:00:00"]
    assert prepared.spec["time_column"] == "time" and prepared.spec["anchor"] == "2020-01-04T00:00:00"


@pytest.mark.parametrize("method", ["standard", "minmax"])
def test_scaler_is_fitted_on_train_rows_only(method):
    series, p = index_series(), data_params(scaling=method)
    changed = index_series()
    changed.frame.iloc[30:] *= 1000.0                 # val and test values: must not move the scaler
    a, b = build(series, p), build(changed, p)
    assert a.spec["scaler"] == b.spec["scaler"]
    train = series.frame.iloc[:30]
    expected = Scaler.fit(train, method)
    assert a.spec["scaler"] == expected.to_json()
    whole = Scaler.fit(series.frame, method)
    assert a.spec["scaler"] != whole.to_json()        # fitting on every row would differ
    if method == "standard":
        assert expected.offset["value"] == pytest.approx(14.5) and expected.scale["value"] == pytest.approx(np.std(np.arange(30)))
        scaled_train = expected.transform(train)
        assert np.allclose(scaled_train.mean(axis=0), 0) and np.allclose(scaled_train.std(axis=0), 1)
    else:
        assert (expected.offset["value"], expected.scale["value"]) == (0.0, 29.0)


def test_inverse_scaling_is_exact_and_constant_columns_scale_by_one():
    frame = load_series(data_params(source="co2"), seed=0).frame
    frame["flat"] = 7.0
    for method in ("standard", "minmax", "none"):
        scaler = Scaler.from_json(json.loads(json.dumps(Scaler.fit(frame.iloc[:1500], method).to_json())))
        scaled = scaler.transform(frame)
        back = scaler.target_to_units(scaled[:, 0], "co2")
        assert np.abs(back - frame["co2"].to_numpy()).max() < 1e-12 * 400
        assert scaler.scale["flat"] == 1.0 and scaled.dtype == np.float64


def test_write_load_round_trip(tmp_path):
    prepared = build(load_series(data_params(source="co2", window=52, horizon=13, stride=4), seed=0),
                     data_params(source="co2", window=52, horizon=13, stride=4))
    prepared.write(tmp_path / "prepared")
    with pytest.raises(FileExistsError):
        prepared.write(tmp_path / "prepared")
    back = load(tmp_path / "prepared")
    assert back.spec == prepared.spec and back.dataset == "co2"
    for s in ("train", "val", "test"):
        assert all(np.array_equal(a, b) for a, b in zip(back.arrays[s], prepared.arrays[s]))
        assert np.array_equal(back.origins[s], prepared.origins[s])
    pd.testing.assert_frame_equal(back.series, prepared.series)
    assert back.series.index.freqstr == "W-SAT" and back.spec["filled"] == 59 and back.spec["n_steps"] == 2284
    name, source, digest, context = back.as_input("training")
    assert (name, context, len(digest)) == ("co2-prepared", "training", 64) and digest == prepared.digest()
    assert back.step_index(back.series.index[[0, 5, 2283]]).tolist() == [0, 5, 2283]
    with pytest.raises(DataError, match="not on the series' W-SAT grid"):
        back.step_index(pd.DatetimeIndex(["1960-01-01"]))
    (tmp_path / "prepared" / "val.npz").write_bytes(b"damaged")
    with pytest.raises(DataError, match=r"val.npz: unreadable.*Fix: rebuild it with `dvc repro -f forecast/dvc.yaml:prepare`"):
        load(tmp_path / "prepared")
    with pytest.raises(DataError, match=r"spec.json: missing.*Fix: rebuild"):
        load(tmp_path / "nowhere")


def test_too_short_series_is_an_error():
    with pytest.raises(DataError, match="train needs at least data.window"):
        build(index_series(20), data_params(window=10, horizon=5))


def test_window_from_history_equals_the_test_window():
    series, p = index_series(), data_params()
    prepared = build(series, p)
    x_test, _ = prepared.arrays["test"]
    for k in (0, len(x_test) - 1):
        o = int(prepared.origins["test"][k])
        history = series.frame.iloc[:o].reset_index()       # a `time` column, as a user would send it
        x, future, target = window_from_history(history, prepared.spec)
        assert x.shape == (1, p.window, 2) and x.dtype == np.float32
        np.testing.assert_array_equal(x[0], x_test[k])
        assert future.equals(series.frame.index[o:o + p.horizon]) and future.freqstr == "W-SAT"
        assert target.dtype == np.float64 and target.tolist() == list(range(o))
    x_index, _, _ = window_from_history(series.frame.iloc[:o], prepared.spec)   # DatetimeIndex works too
    np.testing.assert_array_equal(x_index[0], x_test[-1])


def test_window_from_history_errors():
    series, p = index_series(), data_params()
    spec = build(series, p).spec
    history = series.frame.iloc[:20].reset_index()
    cases = [(history.drop(columns="price"), r"\['price'\] missing; it has \['time', 'value'\]"),
             (history.iloc[:3], "3 rows, but the model reads window = 5"),
             (history.assign(value=history["value"].where(history.index != 7)), r"row 8 .*column 'value'"),
             (history.assign(price=history["price"].astype(object).where(history.index != 4, "n/a")),
              r"row 5 .*'n/a' is not a finite number"),
             (history.iloc[::-1], "row 2 .*is not after the previous row"),
             (history.drop(index=10), r"row 11 .*skips 1 step\(s\) of W-SAT"),
             (history.assign(time=history["time"] + pd.Timedelta(days=1)), "not on the series' W-SAT grid"),
             (history.assign(time=history["time"].astype(str).where(history.index != 2, "soon")),
              "row 3: cannot parse 'soon'")]
    for frame, pattern in cases:
        with pytest.raises(DataError, match=pattern):
            window_from_history(frame, spec)
