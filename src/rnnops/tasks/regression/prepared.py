"""The regression task's prepared data: the one owner of its folder format.

- spec.json: dataset, inputs (tabular | text), target, features, the feature scaler and the
  target scale (both fitted on the training rows: train + val, never test), text settings;
- <split>.npz: x (the model's input: standardised feature rows [n, 1, features], or token ids
  [n, max_len]), y (the target in its units), rows (positions in the source file);
- features.npz (tabular): the raw feature values per split (peers and the end-to-end check);
- texts.parquet and vocabulary.txt (text): the raw texts per split, the vocabulary.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnnops.errors import DataError

SPLITS = ("train", "val", "test")


@dataclass
class PreparedTable:
    spec: dict
    x: dict[str, np.ndarray]          # split -> the model's input
    y: dict[str, np.ndarray]          # split -> target in its units [n]
    rows: dict[str, np.ndarray]       # split -> row positions in the source
    raw: dict[str, object]            # split -> raw features [n, f] float64, or texts (list of str)
    vocabulary: list[str] | None = None
    directory: Path | None = None

    @property
    def dataset(self) -> str:
        return self.spec["dataset"]

    @property
    def text(self) -> bool:
        return self.spec["inputs"] == "text"

    @property
    def arrays(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """split -> (x, y scaled as the models learn it): what the shared training loop reads."""
        return {s: (self.x[s], self.scale_target(self.y[s])) for s in SPLITS}

    def selection(self, what: str, folds: int) -> np.ndarray:
        """`rows` or `y` of the predictions that choose ensembles and the winner: the val rows,
        or with K folds every training row (train, then val: out of fold)."""
        part = getattr(self, what)
        return part["val"] if folds == 1 else np.concatenate([part["train"], part["val"]])

    def scale_target(self, y: np.ndarray) -> np.ndarray:
        t = self.spec["target_scale"]
        return ((np.asarray(y, np.float64) - t["mean"]) / t["std"]).astype(np.float32)

    def target_units(self, scaled: np.ndarray) -> np.ndarray:
        t = self.spec["target_scale"]
        return np.asarray(scaled, np.float64).reshape(len(scaled), -1)[:, 0] * t["std"] + t["mean"]

    def standardised(self, split: str) -> np.ndarray:
        """Feature rows of `split` standardised in float64 (what the tabular peers read)."""
        return standardise(self.raw[split], self.spec["scaler"])

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
        for s in SPLITS:
            np.savez(directory / f"{s}.npz", x=self.x[s], y=self.y[s], rows=self.rows[s])
        if self.text:
            frame = pd.DataFrame({"split": [s for s in SPLITS for _ in self.raw[s]],
                                  "text": [t for s in SPLITS for t in self.raw[s]]})
            frame.to_parquet(directory / "texts.parquet", index=False)
            (directory / "vocabulary.txt").write_text("\n".join(self.vocabulary) + "\n", encoding="utf-8")
        else:
            np.savez(directory / "features.npz", **{s: self.raw[s] for s in SPLITS})
        (directory / "spec.json").write_text(json.dumps(self.spec, indent=2) + "\n")
        self.directory = directory


def standardise(features: np.ndarray, scaler: dict) -> np.ndarray:
    mean, std = np.asarray(scaler["mean"]), np.asarray(scaler["std"])
    return (np.asarray(features, np.float64) - mean) / std


def fit_scaler(features: np.ndarray) -> dict:
    """Mean and standard deviation per column (dividing by it: the notes subtract it by mistake);
    a constant column keeps std 1 so it maps to 0 instead of dividing by zero."""
    std = features.std(axis=0)
    return {"mean": features.mean(axis=0).tolist(), "std": np.where(std > 0, std, 1.0).tolist()}


def load(directory: Path) -> PreparedTable:
    directory = Path(directory)
    try:
        spec = json.loads((directory / "spec.json").read_text())
        if spec.get("task") != "regression":
            raise ValueError(f"spec.json is for task {spec.get('task')!r}")
        x, y, rows = {}, {}, {}
        for s in SPLITS:
            with np.load(directory / f"{s}.npz", allow_pickle=False) as npz:
                x[s], y[s], rows[s] = npz["x"], npz["y"], npz["rows"]
        vocabulary = None
        if spec["inputs"] == "text":
            frame = pd.read_parquet(directory / "texts.parquet")
            raw = {s: frame.loc[frame["split"] == s, "text"].tolist() for s in SPLITS}
            # split("\n"), not splitlines(): a token may hold \x85 or \u2028, which splitlines breaks on
            vocabulary = (directory / "vocabulary.txt").read_text(encoding="utf-8").split("\n")[:-1]
        else:
            with np.load(directory / "features.npz", allow_pickle=False) as npz:
                raw = {s: npz[s] for s in SPLITS}
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{directory}: not a prepared regression folder ({type(exc).__name__}: {exc}). "
                        "Fix: `dvc repro regression/dvc.yaml:prepare`.") from None
    return PreparedTable(spec, x, y, rows, raw, vocabulary, directory)
