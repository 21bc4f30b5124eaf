"""The seq2seq task's prepared data: the one owner of its folder format.

- spec.json: task, dataset, levels, vocabulary sizes, max_source_len, target_len (decoder steps:
  max target tokens + the end token), pairs per split, pairs cut for length, source and sha256;
- vocabulary.json: {"source": ..., "target": ...}, each side's vocabulary (training pairs only);
- arrays.npz: <split>_source [n, max_source_len] and <split>_target [n, target_len + 1]
  (<s> tokens </s> then 0s: the decoder reads [:, :-1] and learns [:, 1:]);
- pairs.parquet: split, source, target, group (the texts as read; group is "seen_format" or
  "held_out_format" for dates, "all" for your pairs).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnnops.errors import DataError
from rnnops.tasks.seq2seq.vocabulary import SideVocabulary

SPLITS = ("train", "val", "test")


@dataclass
class PreparedPairs:
    spec: dict
    source_vocabulary: SideVocabulary
    target_vocabulary: SideVocabulary
    arrays: dict[str, tuple[np.ndarray, np.ndarray]]   # split -> (source ids, target ids)
    pairs: pd.DataFrame                                 # split, source, target, group
    directory: Path | None = None

    @property
    def dataset(self) -> str:
        return self.spec["dataset"]

    def texts(self, split: str) -> tuple[list[str], list[str]]:
        rows = self.pairs[self.pairs["split"] == split]
        return rows["source"].tolist(), rows["target"].tolist()

    def groups(self, split: str) -> list[str]:
        return self.pairs.loc[self.pairs["split"] == split, "group"].tolist()

    def digest(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(p.name for p in self.directory.iterdir()):
            digest.update(name.encode() + b"\0" + (self.directory / name).read_bytes())
        return digest.hexdigest()

    def as_input(self, context: str) -> tuple[str, str, str, str]:
        """(name, source, digest, context): this folder as an MLflow dataset input."""
        return f"{self.dataset}-prepared", str(self.directory.resolve()), self.digest(), context

    def write(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True)
        np.savez(directory / "arrays.npz", **{f"{s}_{side}": self.arrays[s][i] for s in SPLITS
                                               for i, side in enumerate(("source", "target"))})
        self.pairs.to_parquet(directory / "pairs.parquet", index=False)
        vocabularies = {"source": self.source_vocabulary.to_json(), "target": self.target_vocabulary.to_json()}
        (directory / "vocabulary.json").write_text(json.dumps(vocabularies, ensure_ascii=False) + "\n",
                                                   encoding="utf-8")
        (directory / "spec.json").write_text(json.dumps(self.spec, indent=2) + "\n")
        self.directory = directory


def load(directory: Path) -> PreparedPairs:
    directory = Path(directory)
    try:
        spec = json.loads((directory / "spec.json").read_text())
        if spec.get("task") != "seq2seq":
            raise ValueError(f"spec.json is for task {spec.get('task')!r}")
        vocabularies = json.loads((directory / "vocabulary.json").read_text(encoding="utf-8"))
        with np.load(directory / "arrays.npz", allow_pickle=False) as npz:
            arrays = {s: (npz[f"{s}_source"], npz[f"{s}_target"]) for s in SPLITS}
        pairs = pd.read_parquet(directory / "pairs.parquet")
        source = SideVocabulary.from_json(vocabularies["source"])
        target = SideVocabulary.from_json(vocabularies["target"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{directory}: not a prepared seq2seq folder ({type(exc).__name__}: {exc}). "
                        "Fix: `dvc repro seq2seq/dvc.yaml:prepare`.") from None
    return PreparedPairs(spec, source, target, arrays, pairs, directory)
