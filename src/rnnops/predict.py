"""Classify raw texts with a trained model: a registry alias, the evaluate stage's winner from the
pulled files, an MLflow model URI or folder, or a `text_model.keras` file. Only our own models run:

- an MLflow model (alias, models:/ or runs:/ URI, folder) is copied or downloaded to a private
  folder and loaded only when its files hash to the manifest rnnops recorded, when it logged the
  model, on the run its MLmodel names, in this project's tracking store (rnnops.tracking.manifest).
  Anything else (a model rnnops did not log, a changed copy, a run the store does not know) is
  refused before any of its code runs.
- a `.keras` file must be the one the train stage recorded in the run.json beside it (sha256),
  and is loaded with safe_mode (no lambdas, no pickle, no HDF5 or SavedModel).
- the winner (`--model winner`, or an alias the tracking store does not have, as in a clone filled
  by `dvc pull`): evaluation/winner.json names its members' `.keras` files, each checked against
  the sha256 recorded there and loaded with safe_mode, and their weights.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from rnnops.errors import RnnopsError
from rnnops.project import project_root, sha256_file

ALIASES = ("champion", "challenger")
WINNER = "winner"  # --model winner: the evaluate stage's winner from evaluation/winner.json
WINNER_FILE = Path("evaluation") / "winner.json"  # under the project root; a DVC output
# What works where no model is found (a clone with nothing pulled, a fresh checkout).
WORKING = ("run `make repro` to train here, or `dvc pull` then `rnnops predict` to use the pipeline's results "
           "from the DVC remote (evaluation/winner.json among them), or set MLFLOW_TRACKING_URI to the team's "
           "tracking server, or pass --model models/<name>")


class ModelRefused(RnnopsError):
    """A model rnnops will not load: not one it logged or trained (no record, unknown run, files
    changed since), or a format that can run code (pickle, HDF5, lambdas)."""


def load(model: str, dataset: str):
    """A callable: list[str] -> DataFrame(label, <one column per class>)."""
    if model == WINNER:
        return _winner(_winner_record(dataset, required=True))
    if model in ALIASES or model.startswith("@"):
        uri = alias_uri(model, dataset)
        if is_registered(uri):
            return _mlflow(uri, hint=True)
        return _winner(_fallback(uri, dataset, "using"))
    if model.startswith(("models:/", "runs:/")) or "://" in model:
        return _mlflow(model)
    path = Path(model)
    if not path.exists():
        raise RnnopsError(f"--model {model}: no such file, folder, alias or model URI. Fix: pass "
                          f"{', '.join(ALIASES)} or {WINNER}, a models:/ URI, or models/<name>/text_model.keras.")
    if path.is_dir() and (path / "MLmodel").is_file():
        return _mlflow(str(path), folder=True)
    if path.is_dir() and (path / "text_model.keras").is_file():
        path = path / "text_model.keras"
    return _keras_file(path)


def serve_uri(model: str, dataset: str) -> str:
    """What `mlflow models serve -m` should serve for `model` (`make serve`): the registry's alias
    when the tracking store has it, else the evaluate stage's evaluation/model folder, once its
    files match the sha256 that evaluation/winner.json records for them."""
    if model in ALIASES or model.startswith("@"):
        uri = alias_uri(model, dataset)
        if is_registered(uri):
            return uri
        record = _fallback(uri, dataset, "serving")
    elif model == WINNER:
        record = _winner_record(dataset, required=True)
    else:
        return model
    return str(_checked_model_folder(record))


def alias_uri(alias: str, dataset: str) -> str:
    from rnnops.tracking.registry import registered_model_name

    return f"models:/{registered_model_name(dataset)}@{alias.lstrip('@')}"


def is_registered(uri: str) -> bool:
    """Whether the tracking store has the registered model's alias (`models:/<name>@<alias>`)."""
    import mlflow

    _use_store()
    try:
        return _registered_version(uri) is not None
    except mlflow.exceptions.MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return False
        raise RnnopsError(f"{uri}: the tracking store {mlflow.get_tracking_uri()} failed "
                          f"({str(exc).splitlines()[0]}). Fix: check MLFLOW_TRACKING_URI.") from None


def _use_store() -> None:
    import mlflow

    from rnnops.tracking.runs import check_reachable, tracking_uri

    check_reachable(tracking_uri())
    mlflow.set_tracking_uri(tracking_uri())


def _fallback(uri: str, dataset: str, doing: str) -> dict:
    """The pulled winner in place of an alias the store lacks, with one note on stderr."""
    import mlflow

    store = mlflow.get_tracking_uri()
    record = _winner_record(dataset, required=False)
    if record is None:
        raise RnnopsError(f"no model at {uri} in {store}, and no {WINNER_FILE} (the evaluate stage's "
                          f"winner) in {project_root()}. Fix: {WORKING}.")
    name = uri.removeprefix("models:/")
    print(f"rnnops: no {name} in {store}; {doing} the evaluate stage's winner ({record['source']}: "
          f"{record['winner']} of {', '.join(record['weights'])})", file=sys.stderr)
    return record


def _winner_record(dataset: str, required: bool) -> dict | None:
    """evaluation/winner.json of this project (its `source` added), if it is for `dataset`."""
    root = project_root()
    path = root / WINNER_FILE
    if not path.is_file():
        if not required:
            return None
        raise RnnopsError(f"--model {WINNER}: no {WINNER_FILE} in {root}. Fix: {WORKING}.")
    record = _json_or_none(path)
    try:
        files = {name: (str(record["members"][name]["text_model"]), str(record["members"][name]["sha256"]))
                 for name in record["weights"]}
        valid = isinstance(record["weights"], dict) and isinstance(record["labels"], list)
    except (KeyError, TypeError):
        valid = False
    if not valid:
        raise RnnopsError(f"{path}: not the evaluate stage's winner record. Fix: `dvc checkout --force "
                          f"{WINNER_FILE.parent}` (or `dvc pull --force {WINNER_FILE.parent}`) restores it.")
    prepared = _json_or_none(root / "data" / "prepared" / "spec.json")
    if dataset and prepared and prepared.get("dataset") not in (None, dataset):
        raise RnnopsError(f"{path} is the winner for dataset {prepared['dataset']}, not {dataset}. Fix: "
                          f"pass --dataset {prepared['dataset']}, or set MLFLOW_TRACKING_URI to a tracking "
                          f"server that has rnnops-{dataset}.")
    return {**record, "source": str(WINNER_FILE), "path": path, "root": root, "files": files}


def _json_or_none(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return None


def _winner(record: dict):
    """The pulled winner: each member's .keras file checked against winner.json, then safe_mode."""
    members = []
    for name, weight in record["weights"].items():
        relative, expected = record["files"][name]
        path = record["root"] / relative
        fix = (f"`dvc checkout --force {relative}` (or `dvc pull --force {relative}`) restores the file "
               f"{record['source']} records")
        _check_sha256(path, expected, record["path"], fix)
        members.append((_load_keras(path), float(weight)))
    return _classifier(members, record["labels"])


def _checked_model_folder(record: dict) -> Path:
    """evaluation/model, after its files hash to what winner.json records (code/ runs when served)."""
    from rnnops.tracking import manifest

    fix = ("`dvc checkout --force evaluation` (or `dvc pull --force evaluation`) restores it; `dvc repro "
           "-f evaluate` writes it; or set MLFLOW_TRACKING_URI to the team's tracking server")
    entry = record.get("model")
    if not isinstance(entry, dict) or not isinstance(entry.get("files"), dict):
        raise ModelRefused(f"{record['path']} records no model folder (written before rnnops saved "
                           f"one). Fix: {fix}.")
    folder = record["root"] / entry.get("path", "evaluation/model")
    try:
        found = manifest.file_digests(folder) if folder.is_dir() else {}
    except manifest.Untrusted as exc:
        raise ModelRefused(f"{folder}: refused: {exc.reason}. Fix: {fix}.") from None
    differ = sorted(k for k in found.keys() | entry["files"].keys() if found.get(k) != entry["files"].get(k))
    if differ:
        raise ModelRefused(f"{folder}: refused: {len(differ)} file(s) differ from {record['source']} "
                           f"({', '.join(differ[:5])}). Fix: {fix}.")
    return folder


def _mlflow(source: str, hint: bool = False, folder: bool = False):
    """Load an MLflow model (URI or local folder) after checking it is one rnnops logged."""
    model = load_pyfunc(source, hint, folder)

    def predict(texts: list[str]) -> pd.DataFrame:
        return model.predict(list(texts))

    predict.workdir = model.workdir  # the verified copy stays until the model is dropped
    return predict


def load_pyfunc(source: str, hint: bool = False, folder: bool = False):
    """Any task's pyfunc (URI or local folder), loaded from a private copy after checking it is one
    rnnops logged (its manifest); `.workdir` keeps the copy alive as long as the model."""
    import tempfile

    import mlflow

    from rnnops.tracking import manifest

    _use_store()
    # The verified copy is private to this process and is what gets loaded: nothing can change it
    # between the check and the load. It lives as long as the returned model.
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
        fix = f"Fix: {WORKING}." if hint else "Fix: check the URI (`mlflow ui` lists the models)."
        raise RnnopsError(f"no model at {source} in {mlflow.get_tracking_uri()} "
                          f"({str(exc).splitlines()[0]}). {fix}") from None
    try:
        manifest.verify(local, registered)
    except manifest.Untrusted as exc:
        raise ModelRefused(f"{source}: refused: {exc.reason}. Fix: {exc.fix}.") from None
    model = mlflow.pyfunc.load_model(str(local))
    model.workdir = workdir
    return model


def _registered_version(uri: str) -> tuple[str, str] | None:
    """(name, version) of a models:/<name>/<version> or models:/<name>@<alias> URI, else None."""
    if not uri.startswith("models:/"):
        return None
    import mlflow
    from mlflow.store.artifact.utils.models import get_model_name_and_version

    found = get_model_name_and_version(mlflow.MlflowClient(), uri)
    return (found[0], str(found[1])) if len(found) == 2 else None


def _keras_file(path: Path):
    if path.suffix != ".keras":
        raise ModelRefused(f"{path}: refused: only .keras files are loaded (safe_mode; no pickle, no "
                           f"HDF5, no SavedModel code). Fix: pass a text_model.keras or an MLflow model.")
    record = path.parent / "run.json"
    _check_sha256(path, _recorded_sha256(path, record), record, "`dvc checkout`")
    return _classifier([(_load_keras(path), 1.0)], _labels(path))


def _load_keras(path: Path):
    """A checked .keras file, loaded with safe_mode (no lambdas, no pickle)."""
    from rnnops.models.keras_io import load_keras_model

    try:
        return load_keras_model(path)
    except ValueError as exc:  # safe_mode refuses lambdas and other code
        raise ModelRefused(f"{path}: refused: it contains code that safe_mode does not run "
                           f"({str(exc).splitlines()[0][:200]}). Fix: use a model rnnops trained "
                           "(its layers need no code: no Lambda layers).") from None
    except Exception as exc:
        raise ModelRefused(f"{path}: refused: not a loadable .keras model ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0][:200] if str(exc) else ''}). Fix: `dvc checkout` "
                           "to restore the file the train stage wrote.") from None


def _classifier(members: list, labels: list[str]):
    """texts -> labelled probabilities: the weighted mean of the members' class probabilities."""
    def predict(texts: list[str]) -> pd.DataFrame:
        import numpy as np

        from rnnops.data.batches import as_class_probabilities, labelled

        inputs = np.array(texts, dtype=object)
        proba = sum(weight * as_class_probabilities(model.predict(inputs, verbose=0), len(labels))
                    for model, weight in members)
        return labelled(proba, labels)

    return predict


def _recorded_sha256(path: Path, record: Path) -> str:
    """The sha256 the train stage recorded for `path` in the run.json beside it."""
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
    return expected


def _check_sha256(path: Path, expected: str, record: Path, fix: str) -> None:
    """The file must be the one `record` names by its sha256: unchanged since it was recorded."""
    if not path.is_file():
        raise ModelRefused(f"{path}: refused: missing ({record} names it). Fix: {fix}.")
    actual = sha256_file(path)
    if expected != actual:
        raise ModelRefused(f"{path}: refused: its sha256 {actual[:12]}... differs from {record} "
                           f"({str(expected)[:12]}...); the file changed after it was recorded. Fix: {fix}.")


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
