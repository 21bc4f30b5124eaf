"""Data validation before splitting: drop what cannot be learnt from, count it, reject the rest."""
from __future__ import annotations

import pandas as pd

from rnnops.errors import DataError

SPLIT_ORDER = ("train", "val", "test")


def clean(frame: pd.DataFrame, origin: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop rows without a label, empty texts, duplicates and train/test overlap; count each.

    With a given split, duplicates are dropped within each split and a text found in a later
    split (val, test) is dropped from the earlier one, so the test split stays as published.
    """
    dropped: dict[str, int] = {}
    frame = frame.copy()
    text = frame["text"].map(lambda t: "" if t is None else str(t))
    has_nul = text.str.contains("\x00", regex=False)
    dropped["nul_characters_removed"] = int(has_nul.sum())  # kept, with the NULs removed
    frame["text"] = text.str.replace("\x00", "", regex=False)

    keep = frame["label"].notna()
    dropped["missing_label"] = int((~keep).sum())
    frame = frame[keep]
    keep = frame["text"].str.strip().astype(bool)
    dropped["empty_text"] = int((~keep).sum())
    frame = frame[keep]

    split = frame["split"] if "split" in frame and frame["split"].notna().any() else None
    if split is None:
        before = len(frame)
        frame = frame.drop_duplicates("text")
        dropped["duplicate_text"] = before - len(frame)
        dropped["train_test_overlap"] = 0
    else:
        before = len(frame)
        frame = frame.drop_duplicates(["split", "text"])
        dropped["duplicate_text"] = before - len(frame)
        overlap = pd.Series(False, index=frame.index)
        for i, earlier in enumerate(SPLIT_ORDER):
            later = set(frame.loc[frame["split"].isin(SPLIT_ORDER[i + 1:]), "text"])
            overlap |= (frame["split"] == earlier) & frame["text"].isin(later)
        dropped["train_test_overlap"] = int(overlap.sum())
        frame = frame[~overlap]

    if frame.empty:
        raise DataError(f"{origin}: no usable rows (all {sum(dropped.values())} had an empty text "
                        "or no label). Fix: check the text and label columns in params.yaml.")
    classes = sorted(frame["label"].unique())
    if len(classes) < 2:
        raise DataError(f"{origin}: only one class ({classes[0]!r}) in the labels; a classifier "
                        "needs at least two. Fix: check data.csv.label_column or the file.")
    return frame.reset_index(drop=True), dropped


def check_classes(splits: dict[str, pd.DataFrame], label_names: list[str], origin: str) -> None:
    """Every split must hold every class, or its metrics are meaningless."""
    for name, part in splits.items():
        missing = [c for c in label_names if c not in set(part["label"])]
        if missing:
            raise DataError(
                f"{origin}: the {name} split has no documents of class(es) {missing[:10]}. "
                "Fix: use more data (raise or unset data.subsample), a larger "
                "data.val_fraction/test_fraction, or raise data.min_class_count (reuters).")
