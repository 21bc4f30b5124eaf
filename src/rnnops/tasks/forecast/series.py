"""The forecasting task's sources: one regular, gap-filled time series from `data.*` params.

Built-ins (co2, sunspots, nile) are read from the CSV files shipped inside statsmodels, through
the same checks as a user's file, so their messages name a real file and line too. Line numbers
are 1-based lines of the file: header = line 1, so DataFrame row i is line i + 2.
"""
from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from rnnops.data.files import existing, parse_table, require_columns
from rnnops.errors import DataError
from rnnops.project import sha256_file
from rnnops.tasks.forecast.params import ForecastDataParams

# name -> (time column, its strptime format, value column, frequency) in the shipped CSV
BUILTINS = {"co2": ("date", "%Y%m%d", "co2", "W-SAT"),
            "sunspots": ("YEAR", "%Y", "SUNACTIVITY", "YS-JAN"),
            "nile": ("year", "%Y", "volume", "YS-JAN")}
MISSING = {"", "na", "nan", "null", "none", "n/a"}   # cells read as a missing value (filled)
MAX_GRID_FACTOR = 10                                  # a grid this many times the rows = bad timestamps


@dataclass
class Series:
    name: str             # dataset name (MLflow experiment rnnops-forecast-<name> etc.)
    frame: pd.DataFrame   # DatetimeIndex "time" (regular, freq set), columns [target, *inputs], float64
    target: str
    inputs: list[str]
    frequency: str        # pandas freqstr of the index, e.g. "W-SAT", "D", "YS-JAN"
    origin: str           # the file path, or e.g. "statsmodels.datasets.co2"
    sha256: str           # of the source bytes (sine: of the generated values' CSV text)
    filled: int           # values filled by data.fill: cells of inserted steps + missing cells


def load_series(data: ForecastDataParams, seed: int) -> Series:
    if data.source == "sine":
        return _sine(data, seed)
    if data.source in BUILTINS:
        import statsmodels.datasets as datasets
        time_col, time_fmt, value_col, freq = BUILTINS[data.source]
        path = Path(getattr(datasets, data.source).__file__).parent / f"{data.source}.csv"
        origin = f"statsmodels.datasets.{data.source}"
        table = parse_table(path, "csv", "utf-8")
        target = value_col.lower()
        frame, filled = regular_frame(table.rename(columns={value_col: target}), time_col, target, [],
                                      f"{origin} ({path})", data.fill, freq, time_fmt)
        return Series(data.source, frame, target, [], frame.index.freqstr, origin, sha256_file(path), filled)
    opts = data.csv
    path = existing(data.path, "your CSV/TSV/Parquet file", builtin=False)
    if path.is_dir():
        raise DataError(f"data.path: {path} is a folder. Fix: point it at one CSV/TSV/Parquet file.")
    table = parse_table(path, opts.format, "utf-8")
    columns = {"data.csv.time_column": opts.time_column, "data.csv.target": opts.target,
               **{f"data.csv.inputs[{i}]": c for i, c in enumerate(opts.inputs)}}
    used = list(columns.values())
    if len(set(used)) < len(used):
        raise DataError(f"{path}: data.csv.time_column, data.csv.target and data.csv.inputs name a "
                        f"column twice ({used}). Fix: list each column once.")
    require_columns(table, columns, path)
    frame, filled = regular_frame(table, opts.time_column, opts.target, list(opts.inputs), str(path),
                                  data.fill, opts.frequency, None)
    stem = path.name.lower().removesuffix(".gz").rsplit(".", 1)[0]
    name = re.sub(r"[^a-z0-9_-]", "-", stem)
    return Series(name, frame, opts.target, list(opts.inputs), frame.index.freqstr, str(path),
                  sha256_file(path), filled)


def _sine(data: ForecastDataParams, seed: int) -> Series:
    opts = data.sine
    t = np.arange(opts.length)
    values = np.sin(2 * np.pi * t / opts.period) + np.random.default_rng(seed).normal(0.0, opts.noise, opts.length)
    index = pd.date_range("2000-01-01", periods=opts.length, freq="D", name="time")
    frame = pd.DataFrame({"value": values.astype(np.float64)}, index=index)
    digest = hashlib.sha256(frame.to_csv().encode()).hexdigest()
    return Series("sine", frame, "value", [], index.freqstr, "generated sine", digest, 0)


def regular_frame(table: pd.DataFrame, time_col: str, target: str, inputs: list[str], label: str,
                  fill: str, frequency: str | None, time_format: str | None) -> tuple[pd.DataFrame, int]:
    """The table (strings) as a float64 frame on a regular DatetimeIndex "time", gaps filled;
    returns (frame, number of filled cells). `label` names the file in every message."""
    if len(table) < 2:
        raise DataError(f"{label}: {len(table)} row(s); a series needs at least 2 time steps. "
                        "Fix: use a longer series.")
    times = _timestamps(table[time_col], time_col, label, time_format)
    gaps = np.diff(times.asi8)
    if (gaps <= 0).any():
        i = int(np.argmax(gaps <= 0)) + 1   # row of the first offender
        if gaps[i - 1] == 0:
            raise DataError(f"{label}: line {i + 2}: timestamp {times[i]} repeats line {i + 1}. "
                            "Fix: remove the duplicate row (or aggregate the rows of one time step).")
        raise DataError(f"{label}: line {i + 2}: timestamp {times[i]} comes before line {i + 1}'s "
                        f"{times[i - 1]} (unsorted). Fix: sort the file by '{time_col}'.")
    offset = _frequency(times, frequency, label)
    grid = _grid(times, offset, label)
    columns = [target, *inputs]
    frame = pd.DataFrame({c: _numbers(table[c], c, label) for c in columns})
    frame.index = times
    lines = pd.Series(np.arange(len(table)) + 2, index=times).reindex(grid)  # NaN = inserted step
    frame = frame.reindex(grid)
    frame.index.name = "time"
    missing = frame.isna()
    filled = int(missing.to_numpy().sum())
    if filled and fill == "error":
        r = int(np.argmax(missing.any(axis=1).to_numpy()))
        where = (f"line {int(lines.iloc[r])}: column '{missing.columns[missing.iloc[r].to_numpy()][0]}' "
                 f"at {grid[r]} is empty" if not np.isnan(lines.iloc[r]) else
                 f"timestamp {grid[r]} (a {offset.freqstr} step after line {int(lines.iloc[r - 1])}) is "
                 "missing from the file")
        raise DataError(f"{label}: {where}; {filled} value(s) are missing in all. Fix: set "
                        "data.fill: interpolate or ffill, or complete the file.")
    empty = [c for c in columns if missing[c].all()]
    if empty:
        raise DataError(f"{label}: column(s) {empty} have no values. Fix: fill them or choose "
                        "other columns in data.csv.target / data.csv.inputs.")
    if filled:
        # interpolate: linear in time between known values; ends (and ffill's head) carry the nearest value
        frame = frame.interpolate(method="time") if fill == "interpolate" else frame.ffill()
        frame = frame.ffill().bfill()
    frame.index.freq = offset
    return frame.astype(np.float64), filled


def _timestamps(raw: pd.Series, col: str, label: str, fmt: str | None) -> pd.DatetimeIndex:
    times = _parse_times(raw, fmt)
    if fmt is None and times.isna().any():  # the format guessed from line 2 failed: ISO dates + times?
        times = iso if (iso := _parse_times(raw, "ISO8601")).notna().all() else times
    bad = times.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{label}: line {i + 2}: cannot parse {raw.iloc[i]!r} in column '{col}' as a "
                        "timestamp (or it is in another format than the lines before). Fix: write "
                        "every timestamp in one format, e.g. 2024-01-31 or 2024-01-31 13:00.")
    return pd.DatetimeIndex(times, name="time")


def _parse_times(raw: pd.Series, fmt: str | None) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": parsed element-wise instead
        try:
            times = pd.to_datetime(raw, errors="coerce", format=fmt)
        except (ValueError, TypeError):  # mixed UTC offsets
            times = pd.to_datetime(raw, errors="coerce", format=fmt, utc=True)
    return times.dt.tz_convert(None) if isinstance(times.dtype, pd.DatetimeTZDtype) else times  # naive UTC


def _numbers(raw: pd.Series, col: str, label: str) -> np.ndarray:
    """float64 values; missing cells -> NaN; anything else non-numeric or infinite is an error."""
    missing = raw.map(lambda v: v is None or str(v).strip().lower() in MISSING).to_numpy(bool)
    values = pd.to_numeric(raw.where(~missing, None), errors="coerce").to_numpy(np.float64)
    bad = (np.isnan(values) & ~missing) | np.isinf(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{label}: line {i + 2}, column '{col}': {raw.iloc[i]!r} is not a finite "
                        "number. Fix: write a plain number (e.g. 1234.5), or leave the cell empty "
                        "to have it filled by data.fill.")
    return values


def _frequency(times: pd.DatetimeIndex, frequency: str | None, label: str):
    """The step: data.csv.frequency, pd.infer_freq, or the most common difference."""
    if frequency is not None:
        try:
            return to_offset(frequency)
        except ValueError:
            raise DataError(f"data.csv.frequency: {frequency!r} is not a pandas offset alias. Fix: use "
                            "e.g. D, W-SAT, MS, QS-JAN, YS-JAN, h, 15min, or null to infer it.") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inferred = pd.infer_freq(times) if len(times) >= 3 else None
    if inferred is not None:
        return to_offset(inferred)
    diffs = pd.Series(np.diff(times.asi8)).value_counts()
    step = pd.Timedelta(int(diffs.index[0]), unit=times.unit)  # asi8 counts in the index's unit
    first, days = times[0], step / pd.Timedelta(days=1)
    month = first.strftime("%b").upper()
    calendar = [(days == 7, f"W-{first.strftime('%a').upper()}"),
                (28 <= days <= 31 and first.is_month_start, "MS"), (28 <= days <= 31 and first.is_month_end, "ME"),
                (89 <= days <= 92 and first.is_month_start, f"QS-{month}"),
                (89 <= days <= 92 and first.is_month_end, f"QE-{month}"),
                (365 <= days <= 366 and first.is_month_start, f"YS-{month}"),
                (365 <= days <= 366 and first.is_month_end, f"YE-{month}"),
                (float(days).is_integer(), f"{int(days)}D")]  # "D", not pandas' "24h"
    return to_offset(next((alias for ok, alias in calendar if ok), step))


def _grid(times: pd.DatetimeIndex, offset, label: str) -> pd.DatetimeIndex:
    """Every step from the first to the last timestamp; each timestamp must lie on it."""
    if not offset.is_on_offset(times[0]):
        raise DataError(f"{label}: line 2: timestamp {times[0]} is not on the {offset.freqstr} grid. "
                        "Fix: set data.csv.frequency to the file's step (e.g. D, W-SUN, MS), or null.")
    try:  # count the steps before building the grid: a stray year 2999 must not allocate GBs
        steps = (times[-1] - times[0]) // pd.Timedelta(offset) + 1
    except (ValueError, TypeError):  # calendar offsets (weeks, months, years) are coarse: just build it
        steps = None
    limit = MAX_GRID_FACTOR * len(times) + 100
    grid = pd.date_range(times[0], times[-1], freq=offset, name="time") if (steps or 0) <= limit else None
    if grid is None or len(grid) > limit:
        raise DataError(f"{label}: the timestamps span {steps or len(grid)} steps of {offset.freqstr} "
                        f"from {times[0]} to {times[-1]} but the file has {len(times)} rows. Fix: "
                        "check the last timestamps for typos, or set data.csv.frequency to the file's step.")
    pos = grid.get_indexer(times)
    if (pos < 0).any():
        i = int(np.argmax(pos < 0))
        raise DataError(f"{label}: line {i + 2}: timestamp {times[i]} is off the regular "
                        f"{offset.freqstr} grid (expected steps of {offset.freqstr}: the next after line "
                        f"{i + 1} is {times[i - 1] + offset}). Fix: correct the timestamp, or set "
                        "data.csv.frequency to the file's real step.")
    return grid
