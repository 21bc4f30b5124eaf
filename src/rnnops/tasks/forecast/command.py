"""`rnnops forecast --history file.csv`: the next `horizon` values of a series from its history,
by the registry champion (default), challenger, the pulled evaluate-stage winner, or any model."""
from __future__ import annotations

import sys
from pathlib import Path

from rnnops.errors import DataError, RnnopsError
from rnnops.task_model import as_model_input, load


def read_history(path: str):
    """A CSV/TSV/Parquet file (gzip allowed), or '-' for CSV on stdin; cells as text."""
    import pandas as pd

    from rnnops.data.files import existing, parse_table

    if path == "-":
        return pd.read_csv(sys.stdin, dtype=str, keep_default_na=False)
    return parse_table(existing(path, "your history file", builtin=False), "auto", "utf-8")


def forecast_command(args) -> None:
    history = read_history(args.history)
    model = load(args.model, Path(args.params), "forecast")
    history = as_model_input(history, model.metadata.get_input_schema(), args.history)
    try:
        out = model.predict(history)
    except Exception as exc:  # the pyfunc's own checks: too short, missing columns, NaN, gaps
        cause = exc if isinstance(exc, RnnopsError) else getattr(exc, "__cause__", None) or exc
        message = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        raise DataError(f"{args.history}: {message.removeprefix('error: ')}") from None
    print(out.to_json(orient="records") if args.json else out.to_csv(index=False), end="" if not args.json else "\n")
