"""`rnnops forecast --history file.csv`: the next `horizon` values of a series from its history,
by the registry champion (default), challenger, the pulled evaluate-stage winner, or any model."""
from __future__ import annotations

import sys
from pathlib import Path

from rnnops.errors import DataError, RnnopsError


def read_history(path: str):
    """A CSV/TSV/Parquet file (gzip allowed), or '-' for CSV on stdin; cells as text."""
    import pandas as pd

    from rnnops.data.files import existing, parse_table

    if path == "-":
        return pd.read_csv(sys.stdin, dtype=str, keep_default_na=False)
    return parse_table(existing(path, "your history file", builtin=False), "auto", "utf-8")


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


def load(model: str, params_path: Path):
    """A loaded forecasting pyfunc for `--model` (alias, winner, URI or folder)."""
    import tempfile

    import mlflow

    from rnnops import predict
    from rnnops.params.load import load_params
    from rnnops.tasks.forecast.prepare import experiment_key

    params = load_params(params_path)
    if params.task != "forecast":
        raise RnnopsError(f"{params_path} configures task {params.task}, not forecast. Fix: pass "
                          "--params forecast/params.yaml.")
    if model in predict.ALIASES or model.startswith("@"):
        uri = predict.alias_uri(model, experiment_key(params))
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


def forecast_command(args) -> None:
    history = read_history(args.history)
    model = load(args.model, Path(args.params))
    history = as_model_input(history, model.metadata.get_input_schema(), args.history)
    try:
        out = model.predict(history)
    except Exception as exc:  # the pyfunc's own checks: too short, missing columns, NaN, gaps
        cause = exc if isinstance(exc, RnnopsError) else getattr(exc, "__cause__", None) or exc
        message = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        raise DataError(f"{args.history}: {message.removeprefix('error: ')}") from None
    print(out.to_json(orient="records") if args.json else out.to_csv(index=False), end="" if not args.json else "\n")
