"""Dataset sources. Each turns `data.*` params into a RawDataset: texts, label names, given split.

Adding a source = one module with a `load(params) -> RawDataset`, its entry in `load_source`'s
table below, and its name in `rnnops.params.schema.DataParams.source`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd


@dataclass
class RawDataset:
    name: str                  # dataset name: MLflow experiment `rnnops-<name>`
    frame: pd.DataFrame        # columns: text (str), label (str, one of label_names), split
    label_names: list[str]     # class id = position in this list
    sha256: str                # hash of the input file(s): tagged on every MLflow run
    origin: str                # where the data was read from (for messages and metrics)
    dropped: dict[str, int] = field(default_factory=dict)  # rows the source itself left out


def dataset_name(params) -> str:
    """The dataset's name, known from params alone (the MLflow experiment is `rnnops-<name>`)."""
    if params.source == "csv":
        return "csv-" + Path(str(params.path)).name.split(".")[0]
    return params.source


def load_source(params) -> RawDataset:
    from rnnops.data.sources import imdb, reuters, tabular, tweets

    loaders: dict[str, Callable] = {
        "tweets": tweets.load, "imdb": imdb.load, "reuters": reuters.load, "csv": tabular.load,
    }
    return loaders[params.source](params)
