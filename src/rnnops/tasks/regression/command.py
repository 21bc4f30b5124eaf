"""`rnnops predict --params regression/params.yaml`: numbers from feature rows (`--file rows.csv`,
the feature columns the model was trained on) or texts (arguments, `--file` with one per line, or
stdin), by the registry champion (default), challenger, the pulled evaluate-stage winner, or any
model URI or folder."""
from __future__ import annotations

import sys
from pathlib import Path

from rnnops.errors import DataError, RnnopsError
from rnnops.task_model import as_model_input, load


def read_rows(path: str):
    """Feature rows: a CSV/TSV/Parquet file (gzip ok), or '-' for CSV on stdin."""
    import pandas as pd

    from rnnops.data.files import existing, parse_table

    if path == "-":
        return pd.read_csv(sys.stdin, dtype=str, keep_default_na=False)
    return parse_table(existing(path, "your feature rows", builtin=False), "auto", "utf-8")


def model_input(args, text_inputs: bool):
    if text_inputs:
        from rnnops.predict import read_texts

        return read_texts(args.texts, args.file, sys.stdin)
    if args.texts or not args.file:
        raise DataError("this model reads feature rows, not texts. Fix: pass --file rows.csv (a header "
                        "with the feature columns, one row per prediction; '-' reads CSV from stdin).")
    return read_rows(args.file)


def predict_command(args) -> None:
    model = load(args.model, Path(args.params), "regression")
    schema = model.metadata.get_input_schema()
    text_inputs = schema is not None and len(schema.input_names()) == 1 and \
        "string" in str(schema.input_types()[0]).lower()
    inputs = model_input(args, text_inputs)
    if text_inputs:
        import pandas as pd

        inputs = pd.DataFrame({schema.input_names()[0]: inputs})
    else:  # cells as numbers where the model's schema says so (a bad cell names its line)
        inputs = as_model_input(inputs, schema, args.file)
    try:
        out = model.predict(inputs)
    except Exception as exc:  # the pyfunc's own checks: missing or non-numeric features
        cause = exc if isinstance(exc, RnnopsError) else getattr(exc, "__cause__", None) or exc
        message = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        raise DataError(f"{args.file or 'input'}: {message.removeprefix('error: ')}") from None
    if text_inputs:
        out.insert(0, "text", inputs.iloc[:, 0].to_numpy())
    print(out.to_json(orient="records") if args.json else out.to_csv(index=False), end="" if not args.json else "\n")
