"""The prepared-data format, owned here: what the prepare stage writes and every later stage reads.

A folder (DVC output `data/prepared/`) holding:
- `train.npz`, `val.npz`, `test.npz`: `x` token ids [n, max_len] (int32, 0 = padding) and `y`
  class ids [n]; plain arrays, loaded with allow_pickle=False;
- `val_texts.parquet`, `test_texts.parquet`: the raw texts and class ids (end-to-end checks);
- `vocab.txt`: one token per line, id = line number + 2 (0 padding, 1 OOV);
- `labels.json`: class names, class id = position;
- `spec.json`: dataset name, sizes, tokenizer settings, class counts, source sha256.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rnnops.errors import DataError

SPLITS = ("train", "val", "test")
TEXT_SPLITS = ("val", "test")


@dataclass
class PreparedData:
    spec: dict
    arrays: dict[str, tuple[np.ndarray, np.ndarray]]   # split -> (token ids [n, max_len], labels [n])
    vocabulary: list[str]
    texts: dict[str, pd.DataFrame] = field(default_factory=dict)  # val/test: text, label (read lazily)
    directory: Path | None = None                     # where it was read from

    @property
    def dataset(self) -> str:
        return self.spec["dataset"]

    @property
    def label_names(self) -> list[str]:
        return self.spec["label_names"]

    def digest(self) -> str:
        """sha256 of spec.json and vocab.txt as written: identifies a prepared folder."""
        digest = hashlib.sha256()
        for name in ("spec.json", "vocab.txt"):
            digest.update((self.directory / name).read_bytes())
        return digest.hexdigest()

    def as_input(self, context: str) -> tuple[str, str, str, str]:
        """(name, source, digest, context): this folder as an MLflow dataset input."""
        return f"{self.dataset}-prepared", str(self.directory.resolve()), self.digest(), context

    def raw_texts(self, split: str) -> pd.DataFrame:
        """The raw texts of `val` or `test` (text, label), read on first use."""
        if split not in self.texts:
            self.texts[split] = _read(self.directory / f"{split}_texts.parquet", pd.read_parquet)
        return self.texts[split]

    def write(self, directory: Path) -> None:
        """Write the format into `directory` (new; the stage commits it atomically)."""
        directory.mkdir(parents=True)
        for s, (x, y) in self.arrays.items():
            np.savez(directory / f"{s}.npz", x=x, y=y)  # plain int arrays: no pickle needed to load
        for s in TEXT_SPLITS:
            self.raw_texts(s).to_parquet(directory / f"{s}_texts.parquet", index=False)
        (directory / "vocab.txt").write_text("".join(f"{w}\n" for w in self.vocabulary), encoding="utf-8")
        (directory / "labels.json").write_text(json.dumps(self.label_names, indent=1) + "\n")
        (directory / "spec.json").write_text(json.dumps(self.spec, indent=2) + "\n")


def load(directory: str | Path) -> PreparedData:
    """Read a prepared folder; a missing or damaged one is a DataError naming the file and the fix."""
    directory = Path(directory)
    if not (directory / "spec.json").is_file():
        raise DataError(f"{directory}: no prepared data (spec.json missing). "
                        "Fix: run the prepare stage first (`dvc repro prepare`).")
    spec = _read(directory / "spec.json", lambda p: json.loads(p.read_text()))
    arrays = {s: _read(directory / f"{s}.npz", load_split) for s in SPLITS}
    vocabulary = _read(directory / "vocab.txt", lambda p: p.read_text(encoding="utf-8").split("\n")[:-1])
    return PreparedData(spec, arrays, vocabulary, directory=directory)


def load_split(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return npz["x"], npz["y"]


def _read(path: Path, reader):
    try:
        return reader(path)
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{path}: unreadable prepared data ({type(exc).__name__}: {exc}). "
                        "Fix: rebuild it with `dvc repro -f prepare`.") from None
