"""Chronological splits, train-only scaling, sliding windows and the forecast prepared format.

A folder (DVC output `data/prepared/`) holding:
- `train.npz`, `val.npz`, `test.npz`: `x` [k, window, features] float32 (scaled; feature 0 = the
  target, then the inputs), `y` [k, horizon] float32 (scaled target), `origins` [k] int64 (index of
  each window's first forecast step in the series); plain arrays, loaded with allow_pickle=False;
- `series.parquet`: the full filled series in its units (index `time`);
- `spec.json`: dataset, columns, frequency, window/horizon/stride, the scaler, split bounds, periods.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from rnnops.errors import DataError, RnnopsError

SPLITS = ("train", "val", "test")
REBUILD = "Fix: rebuild it with `dvc repro -f forecast/dvc.yaml:prepare`."


def split_bounds(n: int, val_fraction: float, test_fraction: float, window: int, horizon: int,
                 name: str) -> dict[str, tuple[int, int]]:
    """Target index ranges [start, end) per split: train, then val, then the last steps as test."""
    n_test, n_val = round(n * test_fraction), round(n * val_fraction)
    n_train = n - n_val - n_test
    bounds = {"train": (0, n_train), "val": (n_train, n_train + n_val), "test": (n_train + n_val, n)}
    if n_train < window + horizon or min(n_val, n_test) < horizon:
        raise DataError(f"{name}: {n} steps split into train {n_train}, val {n_val}, test {n_test}; "
                        f"train needs at least data.window + data.horizon = {window + horizon} steps "
                        f"and val/test at least data.horizon = {horizon} each. Fix: lower data.window/"
                        "data.horizon or data.val_fraction/data.test_fraction, or use a longer series.")
    return bounds


@dataclass
class Scaler:
    method: str                 # standard | minmax | none
    offset: dict[str, float]    # per column: scaled = (value - offset) / scale
    scale: dict[str, float]     # per column (a constant training column -> 1.0)

    @classmethod
    def fit(cls, train_frame: pd.DataFrame, method: str) -> "Scaler":
        """Fitted on the training rows only: val/test statistics must not leak into the inputs."""
        offset, scale = {}, {}
        for col in train_frame.columns:
            v = train_frame[col].to_numpy(np.float64)
            o, s = {"standard": (v.mean(), v.std()), "minmax": (v.min(), v.max() - v.min()),
                    "none": (0.0, 1.0)}[method]
            offset[col], scale[col] = float(o), float(s) if s > 0 else 1.0
        return cls(method, offset, scale)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """[n, columns] float64, in the frame's column order."""
        cols = list(frame.columns)
        off = np.array([self.offset[c] for c in cols])
        sc = np.array([self.scale[c] for c in cols])
        return (frame.to_numpy(np.float64) - off) / sc

    def target_to_units(self, values: np.ndarray, target: str) -> np.ndarray:
        """Scaled target values (any shape) back to the series' units, float64."""
        return np.asarray(values, np.float64) * self.scale[target] + self.offset[target]

    def to_json(self) -> dict:
        return {"method": self.method, "offset": self.offset, "scale": self.scale}

    @classmethod
    def from_json(cls, d: dict) -> "Scaler":
        return cls(d["method"], {k: float(v) for k, v in d["offset"].items()},
                   {k: float(v) for k, v in d["scale"].items()})


def make_windows(scaled: np.ndarray, target_col: int, start: int, end: int, window: int, horizon: int,
                 stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows whose first forecast step (origin o) runs over max(start, window)..end - horizon:
    x[k] = scaled[o - window:o] (the past only), y[k] = scaled[o:o + horizon, target_col]."""
    origins = np.arange(max(start, window), end - horizon + 1, stride, dtype=np.int64)
    x = scaled[origins[:, None] + np.arange(-window, 0)].astype(np.float32)        # [k, window, features]
    y = scaled[origins[:, None] + np.arange(horizon), target_col].astype(np.float32)  # [k, horizon]
    return x.reshape(len(origins), window, scaled.shape[1]), y.reshape(len(origins), horizon), origins


def grid_positions(times: pd.DatetimeIndex, anchor: str, frequency: str) -> np.ndarray:
    """Position of each timestamp on the regular grid counted from `anchor` (int64); a timestamp
    off the grid is a DataError."""
    offset, anchor_ts = to_offset(frequency), pd.Timestamp(anchor)
    times = pd.DatetimeIndex(times)
    lo, hi = min(times.min(), anchor_ts), max(times.max(), anchor_ts)
    back = pd.date_range(lo, anchor_ts, freq=offset)        # steps before the anchor (and the anchor)
    ahead = pd.date_range(anchor_ts, hi, freq=offset)[1:]
    grid = back.append(ahead)
    pos = grid.get_indexer(times)
    if (pos < 0).any():
        bad = times[int(np.argmax(pos < 0))]
        raise DataError(f"timestamp {bad} is not on the series' {frequency} grid (anchored at "
                        f"{anchor}). Fix: pass timestamps at the training frequency, {frequency}.")
    return (pos - (len(back) - 1)).astype(np.int64)


@dataclass
class PreparedSeries:
    spec: dict
    arrays: dict[str, tuple[np.ndarray, np.ndarray]]   # split -> (x [k, window, features], y [k, horizon])
    origins: dict[str, np.ndarray]                     # split -> [k] int64 first forecast step
    series: pd.DataFrame                               # the full filled series in its units
    directory: Path | None = None

    @property
    def dataset(self) -> str:
        return self.spec["dataset"]

    def digest(self) -> str:
        """sha256 of spec.json and series.parquet as written: identifies a prepared folder."""
        digest = hashlib.sha256()
        for name in ("spec.json", "series.parquet"):
            digest.update((self.directory / name).read_bytes())
        return digest.hexdigest()

    def as_input(self, context: str) -> tuple[str, str, str, str]:
        """(name, source, digest, context): this folder as an MLflow dataset input."""
        return f"{self.dataset}-prepared", str(self.directory.resolve()), self.digest(), context

    def step_index(self, times: pd.DatetimeIndex) -> np.ndarray:
        return grid_positions(times, self.spec["anchor"], self.spec["frequency"])

    def write(self, directory: Path) -> None:
        """Write the format into `directory` (new; the stage commits it atomically)."""
        directory = Path(directory)
        directory.mkdir(parents=True)
        for s, (x, y) in self.arrays.items():
            np.savez(directory / f"{s}.npz", x=x, y=y, origins=self.origins[s])
        self.series.to_parquet(directory / "series.parquet")
        (directory / "spec.json").write_text(json.dumps(self.spec, indent=2) + "\n")
        self.directory = directory


def build(series, data) -> PreparedSeries:
    """Split `series` (rnnops.tasks.forecast.series.Series) per `data` (ForecastDataParams),
    fit the scaler on the training rows, cut the windows (stride for train; every origin for val/test)."""
    frame = series.frame[[series.target, *series.inputs]]
    bounds = split_bounds(len(frame), data.val_fraction, data.test_fraction, data.window, data.horizon,
                          f"{series.name} ({series.origin})")
    scaler = Scaler.fit(frame.iloc[:bounds["train"][1]], data.scaling)
    scaled = scaler.transform(frame)
    arrays, origins, periods = {}, {}, {}
    for s, (start, end) in bounds.items():
        x, y, o = make_windows(scaled, 0, start, end, data.window, data.horizon,
                               data.stride if s == "train" else 1)
        arrays[s], origins[s] = (x, y), o
        periods[s] = [frame.index[o[0]].isoformat(), frame.index[o[-1] + data.horizon - 1].isoformat()]
    spec = {"task": "forecast", "dataset": series.name, "target": series.target, "inputs": list(series.inputs),
            "time_column": data.csv.time_column if data.source == "csv" else "time",
            "frequency": series.frequency, "window": data.window, "horizon": data.horizon,
            "stride": data.stride, "scaling": data.scaling, "scaler": scaler.to_json(),
            "bounds": {s: list(b) for s, b in bounds.items()}, "periods": periods,
            "windows": {s: len(o) for s, o in origins.items()}, "anchor": frame.index[0].isoformat(),
            "fill": data.fill, "filled": series.filled, "origin": series.origin,
            "source_sha256": series.sha256, "n_steps": len(frame)}
    return PreparedSeries(spec, arrays, origins, frame.copy())


def load(directory: str | Path) -> PreparedSeries:
    """Read a prepared folder; a missing or damaged one is a DataError naming the file and the fix."""
    directory = Path(directory)
    spec = _read(directory / "spec.json", lambda p: json.loads(p.read_text()))
    arrays, origins = {}, {}
    for s in SPLITS:
        x, y, o = _read(directory / f"{s}.npz", _load_split)
        arrays[s], origins[s] = (x, y), o
    series = _read(directory / "series.parquet", lambda p: _read_series(p, spec["frequency"]))
    return PreparedSeries(spec, arrays, origins, series, directory=directory)


def _load_split(path: Path):
    with np.load(path, allow_pickle=False) as npz:
        return npz["x"], npz["y"], npz["origins"]


def _read_series(path: Path, frequency: str) -> pd.DataFrame:
    series = pd.read_parquet(path)
    series.index.freq = to_offset(frequency)  # validates: a damaged index raises ValueError
    return series


def _read(path: Path, reader):
    if not path.is_file():
        raise DataError(f"{path}: missing from the prepared data. {REBUILD}")
    try:
        return reader(path)
    except Exception as exc:  # json, zip, pyarrow: many error types for a damaged file
        raise DataError(f"{path}: unreadable prepared data ({type(exc).__name__}: {exc}). {REBUILD}") from None


def window_from_history(history: pd.DataFrame, spec: dict) -> tuple[np.ndarray, pd.DatetimeIndex, np.ndarray]:
    """A user's history -> (x [1, window, features] float32 scaled with the stored scaler, the next
    `horizon` timestamps, the history's target values in units as float64)."""
    columns, time_col, window = [spec["target"], *spec["inputs"]], spec["time_column"], spec["window"]
    if not isinstance(history, pd.DataFrame):
        raise RnnopsError(f"history: expected a table (DataFrame), got {type(history).__name__}.")
    if time_col in history.columns:
        raw_times = history[time_col]
    elif isinstance(history.index, pd.DatetimeIndex):
        raw_times = history.index.to_series()
    else:
        raw_times = None
    missing = [c for c in columns if c not in history.columns] + ([time_col] if raw_times is None else [])
    if missing:
        raise DataError(f"history: column(s) {missing} missing; it has {list(map(str, history.columns))}. "
                        f"Fix: pass the columns {[time_col, *columns]} (or the times as a DatetimeIndex).")
    if len(history) < window:
        raise DataError(f"history: {len(history)} rows, but the model reads window = {window} steps. "
                        f"Fix: pass at least the last {window} time steps.")
    times = pd.DatetimeIndex(pd.to_datetime(raw_times.reset_index(drop=True), errors="coerce"))
    if times.tz is not None:
        times = times.tz_convert(None)
    if times.isna().any():
        r = int(np.argmax(times.isna()))
        raise DataError(f"history: row {r + 1}: cannot parse {raw_times.iloc[r]!r} as a timestamp. "
                        "Fix: pass ISO timestamps such as 2024-01-31.")
    values = {}
    for c in columns:
        v = pd.to_numeric(history[c].reset_index(drop=True), errors="coerce").to_numpy(np.float64)
        if not np.isfinite(v).all():
            r = int(np.argmax(~np.isfinite(v)))
            raise DataError(f"history: row {r + 1} ({times[r]}), column '{c}': {history[c].iloc[r]!r} is "
                            "not a finite number. Fix: fill missing values before forecasting.")
        values[c] = v
    steps = np.diff(grid_positions(times, spec["anchor"], spec["frequency"]))
    if (steps != 1).any():
        r = int(np.argmax(steps != 1)) + 1
        why = "is not after the previous row (sort by time, drop duplicates)" if steps[r - 1] < 1 else \
            f"skips {steps[r - 1] - 1} step(s) of {spec['frequency']} (fill the gap)"
        raise DataError(f"history: row {r + 1} ({times[r]}) {why}. Fix: pass consecutive "
                        f"{spec['frequency']} steps, oldest first.")
    frame = pd.DataFrame(values, columns=columns).iloc[-window:]
    x = Scaler.from_json(spec["scaler"]).transform(frame).astype(np.float32)[None]  # [1, window, features]
    offset = to_offset(spec["frequency"])
    future = pd.date_range(times[-1] + offset, periods=spec["horizon"], freq=offset, name="time")
    return x, future, values[spec["target"]]
