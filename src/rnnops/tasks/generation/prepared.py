"""The generation task's prepared data: the one owner of its folder format.

- spec.json: task, dataset, level, vocab_size, documents and tokens per split, source and sha256;
- vocabulary.json: rnnops.tasks.generation.vocabulary's JSON (fitted on training documents only);
- streams.npz: train, val, test token streams (int32; <eot> before and after every document);
- documents.parquet: split, text: the documents as read (samples, the end-to-end check).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnnops.errors import DataError
from rnnops.tasks.generation.vocabulary import Vocabulary

SPLITS = ("train", "val", "test")


@dataclass
class PreparedCorpus:
    spec: dict
    vocabulary: Vocabulary
    streams: dict[str, np.ndarray]        # split -> token ids
    documents: dict[str, list[str]]       # split -> raw documents
    directory: Path | None = None

    @property
    def dataset(self) -> str:
        return self.spec["dataset"]

    @property
    def arrays(self) -> dict[str, tuple[np.ndarray, None]]:
        """split -> (stream, None): the shared loop cuts the windows (train.seq_len may be tuned)."""
        return {s: (self.streams[s], None) for s in SPLITS}

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
        np.savez(directory / "streams.npz", **self.streams)
        pd.DataFrame({"split": [s for s in SPLITS for _ in self.documents[s]],
                      "text": [d for s in SPLITS for d in self.documents[s]]}).to_parquet(
            directory / "documents.parquet", index=False)
        (directory / "vocabulary.json").write_text(json.dumps(self.vocabulary.to_json(), ensure_ascii=False) + "\n",
                                                   encoding="utf-8")
        (directory / "spec.json").write_text(json.dumps(self.spec, indent=2) + "\n")
        self.directory = directory


def load(directory: Path) -> PreparedCorpus:
    directory = Path(directory)
    try:
        spec = json.loads((directory / "spec.json").read_text())
        if spec.get("task") != "generation":
            raise ValueError(f"spec.json is for task {spec.get('task')!r}")
        vocabulary = Vocabulary.from_json(json.loads((directory / "vocabulary.json").read_text(encoding="utf-8")))
        with np.load(directory / "streams.npz", allow_pickle=False) as npz:
            streams = {s: npz[s] for s in SPLITS}
        frame = pd.read_parquet(directory / "documents.parquet")
        documents = {s: frame.loc[frame["split"] == s, "text"].tolist() for s in SPLITS}
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{directory}: not a prepared generation folder ({type(exc).__name__}: {exc}). "
                        "Fix: `dvc repro generation/dvc.yaml:prepare`.") from None
    return PreparedCorpus(spec, vocabulary, streams, documents, directory)
