"""`data.source: csv`: the user's own CSV/TSV/Parquet file (gzip ok), columns from params."""
from __future__ import annotations

from rnnops.errors import DataError
from rnnops.data.sources import RawDataset, dataset_name
from rnnops.data.files import existing, parse_table, require_columns
from rnnops.project import sha256_file
from rnnops.data.sources.labels import normalize_labels, to_frame

SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val",
               "validation": "val", "dev": "val", "test": "test", "testing": "test"}


def load(params) -> RawDataset:
    opts = params.csv
    path = existing(params.path, "your CSV/TSV/Parquet file", builtin=False)
    if path.is_dir():
        raise DataError(f"data.path: {path} is a folder. Fix: point it at one CSV/TSV/Parquet file.")
    table = parse_table(path, opts.format, opts.encoding)
    columns = {"data.csv.text_column": opts.text_column, "data.csv.label_column": opts.label_column}
    if opts.split_column:
        columns["data.csv.split_column"] = opts.split_column
    require_columns(table, columns, path)
    labels, names = normalize_labels(table[opts.label_column])
    split = None
    if opts.split_column:
        split = table[opts.split_column].map(lambda s: SPLIT_NAMES.get(str(s).strip().lower()))
        bad = table[opts.split_column][split.isna()]
        if len(bad):
            row = int(bad.index[0]) + 2  # +1 for the header, +1 for 1-based lines
            raise DataError(f"{path}: line {row}: split value {bad.iloc[0]!r} in column "
                            f"'{opts.split_column}' is not train/val/test. Fix: use train, val "
                            "or test (or set data.csv.split_column: null to split by seed).")
    texts = table[opts.text_column].map(lambda t: "" if t is None else str(t))
    frame = to_frame(texts, labels, split)
    return RawDataset(dataset_name(params), frame, names, sha256_file(path), str(path))
