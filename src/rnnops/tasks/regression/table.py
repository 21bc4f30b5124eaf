"""The regression task's sources: one table of rows with a numeric target, from `data.*` params.

diabetes ships inside scikit-learn; boston, imdb and csv are files read with the shared helpers.
Every cell is checked here, so a bad file stops with one message naming the file, the column and
the 1-based file line (header = line 1, so data row i is line i + 2), never a NaN in training.
"""
from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rnnops.data.files import existing, parse_table, require_columns
from rnnops.errors import DataError
from rnnops.project import sha256_file
from rnnops.tasks.regression.params import RegressionDataParams

MISSING = {"", "na", "nan", "null", "none", "n/a"}   # cells read as a missing value
MIN_ROWS = 10
SPLITS = ("train", "test")                          # data.split source: val is carved from train
WHAT = {"boston": "boston_housing.csv (CRIM,...,LSTAT,MEDV)",
        "imdb": "the IMDB reviews CSV (split,label,rating,file,text)",
        "csv": "your CSV/TSV/Parquet file"}


@dataclass
class Table:
    name: str                       # dataset name (MLflow experiment rnnops-regression-<name> etc.)
    features: pd.DataFrame          # float64 feature columns in file order; 0 columns for text inputs
    texts: np.ndarray | None        # object array of str, one per row (text inputs), else None
    target: np.ndarray              # float64 [n]
    target_name: str
    given_split: np.ndarray | None  # "train"/"test" per row when data.split is source, else None
    origin: str                     # the file path, or "sklearn.datasets.load_diabetes"
    sha256: str                     # of the source file bytes (diabetes: of the frame's CSV text)


def load_table(data: RegressionDataParams, seed: int) -> Table:
    if data.source == "diabetes":
        from sklearn.datasets import load_diabetes
        csv = load_diabetes(as_frame=True, scaled=False).frame.to_csv(index=False)
        # read back as strings so the built-in goes through the same checks as a user's file
        table = pd.read_csv(io.StringIO(csv), dtype=str, keep_default_na=False, na_filter=False)
        label = origin = "sklearn.datasets.load_diabetes"
        name, digest = "diabetes", hashlib.sha256(csv.encode("utf-8")).hexdigest()
    else:
        path = existing(data.path, WHAT[data.source], builtin=False)
        if path.is_dir():
            raise DataError(f"data.path: {path} is a folder. Fix: point it at one CSV/TSV/Parquet file.")
        table = parse_table(path, data.format, "utf-8")
        label = origin = str(path)
        stem = re.sub(r"[^a-z0-9_-]", "-", path.name.lower().removesuffix(".gz").rsplit(".", 1)[0])
        name = {"boston": "boston", "imdb": "imdb-ratings"}.get(data.source, stem)
        digest = sha256_file(path)
    return _checked(table, data, seed, name, label, origin, digest)


def _checked(table: pd.DataFrame, data: RegressionDataParams, seed: int, name: str, label: str,
             origin: str, digest: str) -> Table:
    """The string table as a validated Table; every message names `label`, a column and a line."""
    target = data.target_column
    text_col = (data.text_column or "text") if data.text_inputs else None
    split_col = "split" if data.split == "source" else None
    if text_col is not None:
        features = []
    elif data.features is not None:
        features = list(data.features)
    else:
        skip = {target, text_col} | ({"split"} if data.source in ("csv", "imdb") else set())
        features = [str(c) for c in table.columns if c not in skip]
    columns = {"data.target": target, **{f"data.features[{i}]": c for i, c in enumerate(features)}}
    columns |= {"data.text_column": text_col} if text_col else {}
    used = [c for c in (target, text_col, *features) if c is not None]
    if len(set(used)) < len(used):
        raise DataError(f"{label}: data.target, data.text_column and data.features name a column "
                        f"twice ({used}). Fix: list each column once; the target is not a feature.")
    require_columns(table, columns, label)
    if split_col and split_col not in table.columns:
        raise DataError(f"{label}: data.split is source but the file has no '{split_col}' column; it has "
                        f"{list(map(str, table.columns))}. Fix: add a '{split_col}' column of train/test, "
                        "or use data.split: random.")
    if text_col is None and not features:
        raise DataError(f"{label}: no feature columns besides the target '{target}'. Fix: add feature "
                        "columns to the file, or set data.text_column for text regression.")
    given = None
    if split_col:
        given = table[split_col].map(lambda v: "" if v is None else str(v).strip().lower()).to_numpy(object)
        bad = ~np.isin(given, SPLITS)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(f"{label}: line {i + 2}, column '{split_col}': {table[split_col].iloc[i]!r} is "
                            "not train or test (data.split: source reads only those; validation rows "
                            "are carved from train by data.val_fraction). Fix: label every row train "
                            "or test, or use data.split: random.")
    keep = _subsample(len(table), data.subsample, given, seed)
    table, lines = table.iloc[keep].reset_index(drop=True), keep + 2
    given = None if given is None else given[keep]
    if len(table) < MIN_ROWS:
        raise DataError(f"{label}: {len(table)} row(s); regression needs at least {MIN_ROWS}. "
                        "Fix: use a file with more rows (or a larger data.subsample).")
    y = _numbers(table[target], target, label, lines, feature=False)
    if np.all(y == y[0]):
        raise DataError(f"{label}: column '{target}' (data.target) is {y[0]:g} on every row: nothing "
                        "to learn. Fix: set data.target to the column you want predicted.")
    frame = pd.DataFrame({c: _numbers(table[c], c, label, lines, feature=True)
                          for c in table.columns if c in features}, index=pd.RangeIndex(len(table)))
    texts = None
    if text_col:
        texts = table[text_col].map(lambda v: "" if v is None else str(v)).to_numpy(object)
        empty = np.array([not t.strip() for t in texts], dtype=bool)
        if empty.any():
            i = int(np.argmax(empty))
            raise DataError(f"{label}: line {lines[i]}, column '{text_col}' (data.text_column): the text "
                            f"is empty ({int(empty.sum())} empty in all). Fix: drop those rows or fill "
                            "in their text.")
    return Table(name, frame, texts, y, target, given, origin, digest)


def _subsample(n: int, size: int | None, given: np.ndarray | None, seed: int) -> np.ndarray:
    """Row positions kept, in file order; per split in the file's proportions when it has one."""
    if size is None or size >= n:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    if given is None:
        return np.sort(rng.choice(n, size, replace=False)).astype(np.int64)
    parts = [rng.choice(rows, min(len(rows), round(size * len(rows) / n)), replace=False)
             for rows in (np.flatnonzero(given == s) for s in SPLITS)]
    return np.sort(np.concatenate(parts)).astype(np.int64)


def _numbers(raw: pd.Series, col: str, label: str, lines: np.ndarray, feature: bool) -> np.ndarray:
    """float64 values; a word, an empty cell or an infinity is an error naming the first line."""
    text = raw.map(lambda v: "" if v is None else str(v).strip())
    missing = text.str.lower().isin(MISSING).to_numpy(bool)
    values = pd.to_numeric(text.where(~missing, None), errors="coerce").to_numpy(np.float64)
    role = "feature" if feature else "data.target"
    words = np.isnan(values) & ~missing
    if words.any():
        i = int(np.argmax(words))
        fix = ("categorical columns are not one-hot encoded. Fix: one-hot encode it in the file "
               "(one 0/1 column per category), or leave it out with data.features." if feature else
               "Fix: write plain numbers (e.g. 21.6), or set data.target to a numeric column.")
        raise DataError(f"{label}: line {lines[i]}, column '{col}' ({role}): {raw.iloc[i]!r} is not a "
                        f"number ({int(words.sum())} such cell(s)); {fix}")
    for bad, what in ((missing, "is empty/missing"), (np.isinf(values), "is infinite")):
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(f"{label}: line {lines[i]}, column '{col}' ({role}): {raw.iloc[i]!r} {what} "
                            f"({int(bad.sum())} such cell(s)). Fix: fill in those cells or drop those rows.")
    return values


def keras_split(n: int, seed: int = 113, test_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) positions exactly as keras.datasets.boston_housing.load_data shuffles them."""
    indices = np.random.RandomState(seed).permutation(n)
    cut = int(n * (1 - test_fraction))
    return indices[:cut].astype(np.int64), indices[cut:].astype(np.int64)


def split_rows(table: Table, data: RegressionDataParams, seed: int) -> dict[str, np.ndarray]:
    """Disjoint train/val/test row positions covering every row. Val is a seeded share of the
    non-test rows; train keeps their order (Keras' shuffled order with data.split keras)."""
    n = len(table.target)
    if data.split == "keras":
        rest, test = keras_split(n, 113, 0.2)
    elif data.split == "random":
        test = np.sort(np.random.default_rng(seed).choice(n, round(n * data.test_fraction), replace=False))
        rest = np.setdiff1d(np.arange(n), test)
    else:
        if table.given_split is None:
            raise DataError(f"{table.origin}: data.split is source but the table was loaded without "
                            "its split column. Fix: load it with the same data params.")
        test = np.flatnonzero(table.given_split == "test")
        rest = np.flatnonzero(table.given_split != "test")
    pick = np.zeros(len(rest), dtype=bool)
    pick[np.random.default_rng(seed + 1).choice(len(rest), round(len(rest) * data.val_fraction),
                                                replace=False)] = True
    rows = {"train": rest[~pick], "val": rest[pick], "test": test}
    for split, idx in rows.items():
        if len(idx) < 2:
            raise DataError(f"{table.origin}: the {split} split has {len(idx)} of {n} rows; train, val "
                            "and test need at least 2 each. Fix: use more rows, raise data.val_fraction "
                            "/ data.test_fraction, or (data.split: source) label more rows test.")
    return {split: np.asarray(idx, dtype=np.int64) for split, idx in rows.items()}
