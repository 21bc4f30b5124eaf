"""Deterministic, stratified train/val/test splits from the project seed."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from rnnops.errors import DataError


def subsample(frame: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    """Exactly min(`limit`, len(frame)) rows, stratified by (split, label) and fixed by `seed`.

    Each group gets the integer part of its proportional share, and the rows left over go one
    each to the groups with the largest remainders (ties: the larger group, then the first in
    sorted order), so every group is within one row of its exact share. Rows keep their order.
    """
    if limit is None or len(frame) <= limit:
        return frame
    keys = ["split", "label"] if frame["split"].notna().any() else ["label"]
    groups = list(frame.groupby(keys, sort=True, dropna=False).indices.values())
    sizes = np.array([len(rows) for rows in groups], dtype=np.int64)
    counts, remainders = np.divmod(sizes * limit, len(frame))   # exact integer shares
    extra = limit - int(counts.sum())
    order = sorted(range(len(groups)), key=lambda g: (-remainders[g], -sizes[g], g))
    counts[order[:extra]] += 1
    rng = np.random.default_rng(seed)
    kept = np.concatenate([rng.choice(rows, size=int(n), replace=False)
                           for rows, n in zip(groups, counts)])
    return frame.iloc[np.sort(kept)]


def make_splits(frame: pd.DataFrame, val_fraction: float, test_fraction: float,
                seed: int) -> dict[str, pd.DataFrame]:
    """Honour a given split; carve what is missing (val, and test when none) stratified by label."""
    given = frame["split"].notna().any()
    parts = {name: frame[frame["split"] == name] for name in ("train", "val", "test")} if given \
        else {"train": frame, "val": frame.iloc[:0], "test": frame.iloc[:0]}
    if parts["train"].empty:
        raise DataError("the dataset has a split column but no 'train' rows. "
                        "Fix: mark training rows as train (or drop the split column).")
    if parts["test"].empty:
        parts["train"], parts["test"] = _stratified(parts["train"], test_fraction, seed, "test")
    if parts["val"].empty:
        parts["train"], parts["val"] = _stratified(parts["train"], val_fraction, seed, "val")
    return {name: part.reset_index(drop=True) for name, part in parts.items()}


def _stratified(frame: pd.DataFrame, fraction: float, seed: int, name: str):
    counts = frame["label"].value_counts()
    if counts.min() < 2:
        rare = counts[counts < 2].index.tolist()[:10]
        raise DataError(f"class(es) {rare} have a single training document, too few to carve a "
                        f"stratified {name} split. Fix: add data, drop those rows, or raise "
                        "data.min_class_count (reuters).")
    try:
        kept, held = train_test_split(frame, test_size=fraction, random_state=seed,
                                      stratify=frame["label"])
    except ValueError as exc:
        raise DataError(f"cannot carve a stratified {name} split ({exc}). "
                        f"Fix: use more data or a larger data.{name}_fraction.") from None
    return kept, held


# --- K-fold cross-validation: the rows it folds and how (rnnops.training.folds fits them) ---

def training_rows(arrays: dict) -> tuple[np.ndarray, np.ndarray]:
    """The rows K-fold partitions: the prepared train rows, then the val rows."""
    (x, y), (x_val, y_val) = arrays["train"], arrays["val"]
    return np.concatenate([x, x_val]), np.concatenate([y, y_val])


def selection_labels(arrays: dict, folds: int) -> np.ndarray:
    """Targets of the predictions that choose ensembles: the val rows, or with K folds every
    training row (out-of-fold, in `training_rows` order)."""
    return arrays["val"][1] if folds == 1 else training_rows(arrays)[1]


def assign_folds(y: np.ndarray, k: int, seed: int, stratified: bool) -> np.ndarray:
    """Fold id (0..k-1) per row: seeded shuffled folds, stratified by class for classification."""
    from sklearn.model_selection import KFold, StratifiedKFold

    n = len(y)
    if k > n:
        raise DataError(f"train.folds is {k} but the prepared data has only {n} training rows. "
                        "Fix: lower train.folds (or use more data).")
    if stratified:
        present = np.bincount(np.asarray(y, dtype=np.int64))
        smallest = int(present[present > 0].min())
        if smallest < k:
            raise DataError(f"train.folds is {k} but a class has only {smallest} training rows, so "
                            "stratified folds cannot each hold one. Fix: lower train.folds.")
        splitter = StratifiedKFold(k, shuffle=True, random_state=seed)
    else:
        splitter = KFold(k, shuffle=True, random_state=seed)
    folds = np.empty(n, dtype=np.int64)
    for fold, (_, held_out) in enumerate(splitter.split(np.zeros(n), y if stratified else None)):
        folds[held_out] = fold
    return folds
