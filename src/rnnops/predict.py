"""Classify raw texts with a trained model: a registry alias, an MLflow model URI or folder, or a
`text_model.keras` file. Only our own models run:

- an MLflow model (alias, models:/ or runs:/ URI, folder) is copied or downloaded to a private
  folder and loaded only when its files hash to the manifest rnnops recorded, when it logged the
  model, on the run its MLmodel names, in this project's tracking store (rnnops.tracking.manifest).
  Anything else (a model rnnops did not log, a changed copy, a run the store does not know) is
  refused before any of its code runs.
- a `.keras` file must be the one the train stage recorded in the run.json beside it (sha256),
  and is loaded with safe_mode (no lambdas, no pickle, no HDF5 or SavedModel).
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from rnnops.errors import RnnopsError
from rnnops.project import sha256_file

ALIASES = ("champion", "challenger")


class ModelRefused(RnnopsError):
    """A model rnnops will not load: not one it logged or trained (no record, unknown run, files
    changed since), or a format that can run code (pickle, HDF5, lambdas)."""


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
        return _mlflow(str(path), folder=True)
    if path.is_dir() and (path / "text_model.keras").is_file():
        path = path / "text_model.keras"
    return _keras_file(path)


def _mlflow(source: str, hint: bool = False, folder: bool = False):
    """Load an MLflow model (URI or local folder) after checking it is one rnnops logged."""
    import tempfile

    import mlflow

    from rnnops.tracking import manifest
    from rnnops.tracking.runs import check_reachable, tracking_uri

    check_reachable(tracking_uri())
    mlflow.set_tracking_uri(tracking_uri())
    # The verified copy is private to this process and is what gets loaded: nothing can change it
    # between the check and the load. It lives as long as the returned function.
    workdir = tempfile.TemporaryDirectory(prefix="rnnops-model-")
    local, registered = Path(workdir.name) / "model", None
    try:
        if folder:
            manifest.copy_folder(Path(source), local)
        else:
            registered = _registered_version(source)
            local = manifest.download(source, local)
    except manifest.Untrusted as exc:
        raise ModelRefused(f"{source}: refused: {exc.reason}. Fix: {exc.fix}.") from None
    except mlflow.exceptions.MlflowException as exc:
        fix = ("Fix: run `make repro` (the evaluate stage registers the winner), or pass --model "
               "models/<name>." if hint else "Fix: check the URI (`mlflow ui` lists the models).")
        raise RnnopsError(f"no model at {source} in {mlflow.get_tracking_uri()} "
                          f"({str(exc).splitlines()[0]}). {fix}") from None
    try:
        manifest.verify(local, registered)
    except manifest.Untrusted as exc:
        raise ModelRefused(f"{source}: refused: {exc.reason}. Fix: {exc.fix}.") from None
    model = mlflow.pyfunc.load_model(str(local))

    def predict(texts: list[str]) -> pd.DataFrame:
        return model.predict(list(texts))

    predict.workdir = workdir  # the verified copy stays until the model is dropped
    return predict


def _registered_version(uri: str) -> tuple[str, str] | None:
    """(name, version) of a models:/<name>/<version> or models:/<name>@<alias> URI, else None."""
    if not uri.startswith("models:/"):
        return None
    import mlflow
    from mlflow.store.artifact.utils.models import get_model_name_and_version

    found = get_model_name_and_version(mlflow.MlflowClient(), uri)
    return (found[0], str(found[1])) if len(found) == 2 else None


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
                           f"({str(exc).splitlines()[0][:200]}). Fix: use a model rnnops trained "
                           "(its layers need no code: no Lambda layers).") from None
    except Exception as exc:
        raise ModelRefused(f"{path}: refused: not a loadable .keras model ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0][:200] if str(exc) else ''}). Fix: `dvc checkout` "
                           "to restore the file the train stage wrote.") from None

    def predict(texts: list[str]) -> pd.DataFrame:
        import numpy as np

        proba = as_class_probabilities(model.predict(np.array(texts, dtype=object), verbose=0), len(labels))
        return labelled(proba, labels)

    return predict


def _check_hash(path: Path) -> None:
    """The file must be one the train stage recorded: its sha256 in the run.json beside it."""
    record = path.parent / "run.json"
    fix = ("Fix: pass a models/<name> folder as the train stage wrote it (`dvc repro train@<name>` "
           "writes the .keras files with their run.json), or its MLflow model runs:/<run_id>/text_model")
    if not record.is_file():
        raise ModelRefused(f"{path}: refused: no run.json beside it records its sha256, so rnnops "
                           f"cannot tell it is a file the train stage wrote. {fix}.")
    try:
        expected = json.loads(record.read_text()).get("sha256", {}).get(path.name)
    except (ValueError, AttributeError, UnicodeDecodeError):
        expected = None
    if not isinstance(expected, str):
        raise ModelRefused(f"{path}: refused: {record} records no sha256 for {path.name}. {fix}.")
    actual = sha256_file(path)
    if expected != actual:
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
