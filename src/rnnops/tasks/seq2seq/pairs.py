"""Your sentence pairs: read from a TSV (the Tatoeba/manythings.org format: source<TAB>target,
further columns such as the attribution ignored; gzip allowed) or a CSV with two text columns,
held to length limits, and split train/val/test so one source sentence is never on two sides.

A frame of pairs has columns source, target, line (the 1-based line of the file it came from);
frame.attrs["origin"] names the file and attrs["blank_lines"] counts the lines left out.

Blank lines: a line with nothing but whitespace is skipped (and counted), wherever it is, since a
trailing newline or a stray empty line between pairs says nothing; any other line must be a pair.
Every error names the file and the 1-based line, and says how to fix it.
"""
from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from rnnops.errors import DataError
from rnnops.tasks.seq2seq.vocabulary import tokenize

GZIP_MAGIC = b"\x1f\x8b"


def open_binary(path: Path):
    """The file's (gunzipped) byte stream; a file that does not exist or pretends to be gzip is an error."""
    if not path.is_file():
        raise DataError(f"{path}: no such file. Fix: point data.path at your pairs file.")
    with path.open("rb") as head:
        magic = head.read(2)
    if magic == GZIP_MAGIC:
        return gzip.open(path, "rb")
    if path.suffix.lower() == ".gz":  # e.g. an HTML error page saved under the download's name
        raise DataError(f"{path}: named .gz but not gzip data. Fix: download the file again.")
    return path.open("rb")


def decode_line(raw: bytes, path: Path, number: int) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start:exc.end].hex(" ")
        raise DataError(f"{path.name}: line {number}, byte {exc.start + 1} of the line: bytes {bad} are not "
                        f"valid UTF-8 ({path}). Fix: re-save the file as UTF-8.") from None
    return text.removeprefix("\ufeff") if number == 1 else text  # a BOM some editors write


def lines_of(path: Path):
    """(1-based number, text) of every line, decoded strictly one line at a time."""
    try:
        with open_binary(path) as stream:
            for number, raw in enumerate(stream, 1):
                yield number, decode_line(raw.rstrip(b"\r\n"), path, number)
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(f"{path}: truncated or corrupt gzip ({exc}). Fix: download the file again.") from None


def read_tsv(path: str | Path, max_rows: int | None = None) -> pd.DataFrame:
    """The pairs of a `source<TAB>target[<TAB>anything]` file, at most `max_rows` (the first ones)."""
    path = Path(path)
    if max_rows is not None and max_rows < 1:
        raise ValueError(f"max_rows {max_rows}: at least 1, or None for all")
    rows, blank, number = [], 0, 0
    for number, text in lines_of(path):
        if not text.strip():
            blank += 1
            continue
        fields = text.split("\t")
        if len(fields) < 2:
            raise DataError(f"{path.name}: line {number}: no tab between source and target ({path}). "
                            "Fix: write each pair as source<TAB>target on one line.")
        source, target = fields[0].strip(), fields[1].strip()
        for side, value in (("source", source), ("target", target)):
            if not value:
                raise DataError(f"{path.name}: line {number}: the {side} is empty ({path}). "
                                f"Fix: give the pair a {side} text or delete the line.")
        rows.append((source, target, number))
        if len(rows) == max_rows:  # the lines after it are not even read
            break
    if number == 0:
        raise DataError(f"{path}: the file is empty. Fix: copy or download it again.")
    if not rows:
        raise DataError(f"{path}: no pairs, only blank lines. Fix: write source<TAB>target lines.")
    return with_origin(pd.DataFrame(rows, columns=["source", "target", "line"]), path, blank)


def read_csv_pairs(path: str | Path, source_column: str, target_column: str) -> pd.DataFrame:
    """The two text columns of a CSV (a .tsv/.tab name: tab-separated; gzip allowed). Lines are
    row + 2 (the header is line 1): exact unless a quoted cell spans lines."""
    path = Path(path)
    text = "\n".join(line for _, line in lines_of(path))  # strict UTF-8 with line numbers
    if not text.strip():
        raise DataError(f"{path}: the file is empty. Fix: copy or export it again.")
    sep = "\t" if path.name.lower().removesuffix(".gz").endswith((".tsv", ".tab")) else ","
    try:  # skip_blank_lines=False keeps row + 2 equal to the line
        table = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                            na_filter=False, skip_blank_lines=False)
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: cannot parse as CSV ({exc}). Fix: check the quoting on that line.") from None
    missing = [c for c in (source_column, target_column) if c not in table.columns]
    if missing:
        raise DataError(f"{path}: column(s) {missing} not found; the file has {list(map(str, table.columns))}. "
                        "Fix: set data.source_column and data.target_column to two of them.")
    frame = pd.DataFrame({"source": table[source_column].str.strip(), "target": table[target_column].str.strip(),
                          "line": np.arange(len(table)) + 2})
    blank_row = table.apply(lambda column: column.astype(str).str.strip().eq("")).all(axis=1)
    frame = frame[~blank_row.to_numpy(bool)].reset_index(drop=True)
    for side in ("source", "target"):
        empty = frame.index[frame[side] == ""]
        if len(empty):
            raise DataError(f"{path.name}: line {frame.line[empty[0]]}: the {side} cell is empty ({path}). "
                            f"Fix: fill it or delete the row.")
    if frame.empty:
        raise DataError(f"{path}: the file has a header but no pairs. Fix: export the data again.")
    return with_origin(frame, path, len(table) - len(frame))


def with_origin(frame: pd.DataFrame, path: Path, blank: int) -> pd.DataFrame:
    frame.attrs.update(origin=str(path), blank_lines=int(blank))
    return frame


def token_counts(texts, level: str, lowercase: bool = False) -> np.ndarray:
    return np.fromiter((len(tokenize(t, level, lowercase)) for t in texts), np.int64, len(texts))


def limit_lengths(frame: pd.DataFrame, max_source: int | None, max_target: int | None, mode: str,
                  level_source: str, level_target: str, lowercase: bool = False,
                  origin: str | None = None) -> tuple[pd.DataFrame, int]:
    """(the pairs within both maxima in tokens, how many were over): mode "cut" leaves those out,
    "error" raises naming the first one's line. None = no maximum."""
    if mode not in ("cut", "error"):
        raise ValueError(f"mode {mode!r}: use 'cut' or 'error'")
    origin = origin or frame.attrs.get("origin", "pairs")
    over = np.zeros(len(frame), bool)
    for side, limit, level in (("source", max_source, level_source), ("target", max_target, level_target)):
        if limit is None:
            continue
        counts = token_counts(frame[side].tolist(), level, lowercase)
        side_over = counts > limit
        if mode == "error" and side_over.any():
            i = int(np.argmax(side_over))
            where = f"line {frame['line'].iloc[i]}" if "line" in frame else f"row {i + 1}"
            raise DataError(f"{origin}: {where}: the {side} has {counts[i]} {level} tokens, over the maximum "
                            f"{limit}. Fix: raise data.max_{side}_len or set data.too_long: cut.")
        over |= side_over
    kept = frame[~over].reset_index(drop=True)
    kept.attrs = dict(frame.attrs)
    return kept, int(over.sum())


def split_pairs(frame: pd.DataFrame, seed: int, val_fraction: float, test_fraction: float) -> pd.DataFrame:
    """The pairs with a "split" column ("train" | "val" | "test"): whole groups of pairs with the
    same source go to one split (seeded), groups taken for test, then val, until each holds its
    fraction of the pairs (within one group); the rest is train."""
    if min(val_fraction, test_fraction) <= 0 or val_fraction + test_fraction >= 1:
        raise ValueError(f"fractions val {val_fraction}, test {test_fraction}: need > 0 and a sum < 1")
    sources, group, sizes = np.unique(frame["source"].to_numpy(str), return_inverse=True, return_counts=True)
    if len(sources) < 3:
        raise DataError(f"{frame.attrs.get('origin', 'pairs')}: {len(sources)} distinct source(s) cannot be "
                        "split into train, val and test. Fix: use more pairs.")
    order = np.random.default_rng(seed).permutation(len(sources))
    reached = np.cumsum(sizes[order])  # pairs taken after each group
    # groups taken until the pairs reach the fraction; each split keeps at least one group
    want_test, want_val = round(test_fraction * len(frame)), round(val_fraction * len(frame))  # pairs
    n_test = min(int(np.searchsorted(reached, want_test)) + 1, len(sources) - 2)
    n_both = int(np.searchsorted(reached, want_test + want_val)) + 1
    n_val = min(max(n_both - n_test, 1), len(sources) - 1 - n_test)
    labels = np.full(len(sources), "train", dtype=object)
    labels[order[:n_test]] = "test"
    labels[order[n_test:n_test + n_val]] = "val"
    split = frame.assign(split=labels[group])
    split.attrs = dict(frame.attrs)
    return split
