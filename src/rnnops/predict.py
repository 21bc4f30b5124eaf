"""Classify raw texts with a trained model: a registry alias, an MLflow model URI or folder, or a
`text_model.keras` file. Only formats that run no code on load are accepted: MLflow models
logged by rnnops (pyfunc from code + `.keras` with safe_mode) and `.keras` files with safe_mode.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from rnnops.errors import RnnopsError

ALIASES = ("champion", "challenger")


class ModelRefused(RnnopsError):
    """A model file rnnops will not load (wrong format, code inside, hash mismatch)."""


def load(model: str, dataset: str):
    """A callable: list[str] -> DataFrame(label, <one column per class>)."""
    if model in ALIASES or model.startswith("@"):
        from rnnops.tracking.registry import registered_model_name

        return _mlflow(f"models:/{registered_model_name(dataset)}@{model.lstrip('@')}", hint=True)
    if model.startswith(("models:/", "runs:/")) or "://" in model:
        return _mlflow(model)
    path = Path(model)
    if not path.exists():
        raise RnnopsError(f"--model {model}: no such file, folder, alias or model URI. Fix: pass "
                          f"{' or '.join(ALIASES)}, a models:/ URI, or models/<name>/text_model.keras.")
    if path.is_dir() and (path / "MLmodel").is_file():
        return _mlflow(str(path))
    if path.is_dir() and (path / "text_model.keras").is_file():
        path = path / "text_model.keras"
    return _keras_file(path)


def _mlflow(uri: str, hint: bool = False):
    import mlflow

    from rnnops.tracking.runs import tracking_uri

    mlflow.set_tracking_uri(tracking_uri())
    try:
        model = mlflow.pyfunc.load_model(uri)
    except mlflow.exceptions.MlflowException as exc:
        fix = ("Fix: run `make repro` (the evaluate stage registers the winner), or pass --model "
               "models/<name>/text_model.keras." if hint else "Fix: check the URI (`mlflow ui` lists the models).")
        raise RnnopsError(f"no model at {uri} in {mlflow.get_tracking_uri()} ({str(exc).splitlines()[0]}). {fix}") from None
    return lambda texts: model.predict(list(texts))


def _keras_file(path: Path):
    from rnnops.data.batches import as_class_probabilities, labelled
    from rnnops.models.keras_io import load_keras_model

    if path.suffix != ".keras":
        raise ModelRefused(f"{path}: refused: only .keras files are loaded (safe_mode; no pickle, no "
                           f"HDF5, no SavedModel code). Fix: pass a text_model.keras or an MLflow model.")
    _check_hash(path)
    labels = _labels(path)
    try:
        model = load_keras_model(path)
    except ValueError as exc:  # safe_mode refuses lambdas and other code
        raise ModelRefused(f"{path}: refused: it contains code that safe_mode does not run "
                           f"({str(exc).splitlines()[0][:200]}).") from None
    except Exception as exc:
        raise ModelRefused(f"{path}: not a loadable .keras model ({type(exc).__name__}: {exc}).") from None

    def predict(texts: list[str]) -> pd.DataFrame:
        import numpy as np

        proba = as_class_probabilities(model.predict(np.array(texts, dtype=object), verbose=0), len(labels))
        return labelled(proba, labels)

    return predict


def _check_hash(path: Path) -> None:
    """A file beside a run.json must have the sha256 recorded at training time."""
    record = path.parent / "run.json"
    if not record.is_file():
        return
    expected = json.loads(record.read_text()).get("sha256", {}).get(path.name)
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if expected and expected != actual:
        raise ModelRefused(f"{path}: refused: its sha256 {actual[:12]}... differs from {record} "
                           f"({expected[:12]}...); the file changed after training. Fix: `dvc checkout`.")


def _labels(path: Path) -> list[str]:
    for candidate in (path.parent / "labels.json", Path("data/prepared/labels.json")):
        if candidate.is_file():
            return json.loads(candidate.read_text())
    raise RnnopsError(f"{path}: no labels.json beside it (or in data/prepared). Fix: keep the model "
                      "folder as the train stage wrote it.")


def read_texts(texts: list[str], file: str | None, stdin) -> list[str]:
    """Texts from arguments, a file (one per line; '-' = stdin), or piped stdin."""
    if file:
        handle = stdin if file == "-" else open(file, encoding="utf-8", errors="replace")
        with handle:
            texts = texts + handle.read().splitlines()
    elif not texts and not stdin.isatty():
        texts = stdin.read().splitlines()
    if not texts:
        raise RnnopsError('no text to classify. Fix: rnnops predict "some text" (or --file FILE, or pipe lines in).')
    return texts


def render(texts: list[str], frame: pd.DataFrame, as_json: bool) -> str:
    labels = [c for c in frame.columns if c != "label"]
    rows = [{"text": t, "label": r["label"], "probabilities": {c: round(float(r[c]), 6) for c in labels}}
            for t, (_, r) in zip(texts, frame.iterrows())]
    if as_json:
        return json.dumps(rows, ensure_ascii=False, indent=2)
    shown = lambda t: (t[:57] + "...") if len(t) > 60 else t  # noqa: E731
    return "\n".join(f"{r['label']:<12} " + "  ".join(f"{c}={p:.3f}" for c, p in r["probabilities"].items())
                     + f"  {shown(r['text'])!r}" for r in rows)
