"""Label normalisation shared by the sources: text labels are kept, numeric ones unified."""
from __future__ import annotations

import math

import pandas as pd


def to_frame(texts, labels, split) -> pd.DataFrame:
    """The one frame layout every source returns: text, label (str or None), split (str or None)."""
    frame = pd.DataFrame({"text": pd.Series(texts, dtype=object).reset_index(drop=True)})
    frame["label"] = pd.Series(labels, dtype=object).reset_index(drop=True)
    frame["split"] = split if split is None or isinstance(split, str) else \
        pd.Series(split, dtype=object).reset_index(drop=True)
    return frame


def normalize_labels(labels: pd.Series) -> tuple[pd.Series, list[str]]:
    """Labels as strings, with "1", 1 and "1.0" the same class; blanks/NaN become None.

    Returns the labels and the sorted label names (numerically when every label is a number).
    """
    def clean(value):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        text = str(value).strip()
        return text if text and text.lower() not in ("nan", "none", "null") else None

    cleaned = labels.map(clean)
    present = cleaned.dropna().unique().tolist()
    numbers = {}
    for value in present:
        try:
            number = float(value)
        except ValueError:
            break
        if not number.is_integer():
            break
        numbers[value] = str(int(number))
    else:
        cleaned = cleaned.map(lambda v: None if pd.isna(v) else numbers[v])
        names = sorted(set(numbers.values()), key=int)
        return cleaned, names
    return cleaned, sorted(present)
