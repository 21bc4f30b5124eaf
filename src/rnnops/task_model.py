"""A task's served model for the CLI (`rnnops forecast`, `rnnops predict --params <task>/params.yaml`):
the registry alias of the task's params, the evaluate stage's winner folder (checked against its
winner.json), an MLflow model URI or a model folder."""
from __future__ import annotations

import sys
from pathlib import Path

from rnnops.errors import DataError, RnnopsError


def winner_folder(params_path: Path) -> Path:
    """evaluation/model beside the forecasting params, after its files hash to what
    evaluation/winner.json records (the folder holds code that runs when loaded)."""
    import json

    from rnnops.predict import ModelRefused
    from rnnops.tracking import manifest

    root = params_path.resolve().parent
    record_path = root / "evaluation" / "winner.json"
    fix = f"`dvc pull {root.name}/evaluation` or `dvc repro {root.name}/dvc.yaml`"
    try:
        record = json.loads(record_path.read_text())
        expected, folder = record["model"]["files"], root / "evaluation" / "model"
    except (OSError, ValueError, KeyError, TypeError):
        raise RnnopsError(f"{record_path}: no evaluate-stage winner here. Fix: {fix}.") from None
    found = manifest.file_digests(folder) if folder.is_dir() else {}
    differ = sorted(k for k in found.keys() | expected.keys() if found.get(k) != expected.get(k))
    if differ:
        raise ModelRefused(f"{folder}: refused: {len(differ)} file(s) differ from {record_path} "
                           f"({', '.join(differ[:5])}). Fix: {fix}.")
    return folder


def load(model: str, params_path: Path, task: str):
    """A loaded pyfunc of `task` for `--model` (alias, winner, URI or folder)."""
    import tempfile

    import mlflow

    from rnnops import predict
    from rnnops import tasks
    from rnnops.params.load import load_params

    params = load_params(params_path)
    if params.task != task:
        raise RnnopsError(f"{params_path} configures task {params.task}, not {task}. Fix: pass "
                          f"--params {task}/params.yaml.")
    if model in predict.ALIASES or model.startswith("@"):
        uri = predict.alias_uri(model, tasks.get(task).part("prepare").experiment_key(params))
        if predict.is_registered(uri):
            return predict.load_pyfunc(uri, hint=True)
        print(f"rnnops: no {uri.removeprefix('models:/')} in {mlflow.get_tracking_uri()}; using the "
              "evaluate stage's winner (evaluation/model)", file=sys.stderr)
        model = predict.WINNER
    if model == predict.WINNER:
        folder = winner_folder(params_path)
        copy = tempfile.TemporaryDirectory(prefix="rnnops-model-")
        from rnnops.tracking.manifest import copy_folder
        loaded = mlflow.pyfunc.load_model(str(copy_folder(folder, Path(copy.name) / "model")))
        loaded.workdir = copy
        return loaded
    return predict.load_pyfunc(model, folder=Path(model).is_dir())


def as_model_input(history, schema, path: str):
    """The columns the model's signature says are numbers, as numbers: a cell that is not one
    is an error naming its line (an empty cell becomes NaN, which the model reports itself)."""
    import pandas as pd

    history = history.copy()
    names = schema.input_names() if schema is not None else []
    missing = [c for c in names if c not in history.columns]
    if missing:
        raise DataError(f"{path}: column(s) {missing} missing; it has {list(map(str, history.columns))}. "
                        f"Fix: pass the columns {names}, oldest row first.")
    for column in names:
        kind = str(schema.input_types_dict()[column])
        if column not in history.columns or "double" not in kind and "float" not in kind:
            continue
        text = history[column].astype(str).str.strip()
        numbers = pd.to_numeric(text.where(text != "", None), errors="coerce")
        bad = numbers.isna() & (text != "") & ~text.str.lower().isin(["nan", "none", "null", "na"])
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise DataError(f"{path}: line {row + 2}: column '{column}' holds {history[column].iloc[row]!r}, "
                            "not a number. Fix: correct that cell.")
        history[column] = numbers.astype("float64")
    return history
