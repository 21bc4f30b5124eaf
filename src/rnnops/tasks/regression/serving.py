"""MLflow pyfunc of the regression task, logged as code (no pickle): feature rows or texts in,
one number per row out, in the target's units.

Input: a DataFrame (JSON `dataframe_split` / `dataframe_records` over HTTP) with the feature
columns the model was trained on (tabular), or a text column / a list of strings (text). Output:
a DataFrame with one column, the target's name.

Members are trained Keras models (`.keras`, loaded with safe_mode=True: standardised rows or the
raw-text model in, the scaled target out) and classical peers rebuilt from JSON; an ensemble is
their weighted mean.
"""
from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


class Regressor(PythonModel):
    def load_context(self, context):
        from rnnops.models.keras_io import load_keras_model
        from rnnops.tasks.regression.baselines import Peer

        self.spec = json.loads(Path(context.artifacts["spec"]).read_text())
        members = json.loads(Path(context.artifacts["ensemble"]).read_text())["members"]
        self.members = [(load_keras_model(context.artifacts[m["artifact"]]) if m["kind"] == "keras"
                         else Peer.from_json(m["baseline"]), m["weight"]) for m in members]

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return pd.DataFrame({self.spec["target"]: predict_values(self.members, self.spec, model_input)})


def model_inputs(spec: dict, model_input) -> tuple[np.ndarray | None, list[str] | None]:
    """(standardised feature rows [n, f], None) or (None, texts) from what a caller sends."""
    from rnnops.errors import DataError
    from rnnops.tasks.regression.prepared import standardise

    if spec["inputs"] == "text":
        if isinstance(model_input, pd.DataFrame):
            column = spec["text_column"] if spec["text_column"] in model_input.columns else model_input.columns[0]
            texts = model_input[column]
        else:
            texts = model_input
        return None, [str(t) for t in texts]
    frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
    missing = [c for c in spec["features"] if c not in frame.columns]
    if missing:
        raise DataError(f"feature column(s) {missing} missing; the model reads {spec['features']}. "
                        "Fix: send every feature column (extra columns are ignored).")
    values = frame[spec["features"]].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(f"row {row + 1}: feature '{spec['features'][col]}' is "
                        f"{frame[spec['features'][col]].iloc[row]!r}, not a finite number. Fix: correct it.")
    return standardise(values, spec["scaler"]), None


def predict_values(members: list, spec: dict, model_input) -> np.ndarray:
    """The weighted prediction of `members` [(keras model | baselines.Peer, weight)]."""
    from rnnops.tasks.regression.baselines import Peer

    features, texts = model_inputs(spec, model_input)
    n = len(texts) if texts is not None else len(features)
    values = np.zeros(n)
    scale = spec["target_scale"]
    for member, weight in members:
        if isinstance(member, Peer):
            values = values + weight * member.predict(features, texts)
            continue
        if texts is not None:  # the raw-text model: strings in
            import tensorflow as tf

            x = tf.constant(texts, dtype=tf.string)
        else:
            x = features.astype(np.float32)[:, None, :]  # [rows, 1 step, features]
        scaled = np.asarray(member.predict(x, batch_size=256, verbose=0), np.float64).reshape(n, -1)[:, 0]
        values = values + weight * (scaled * scale["std"] + scale["mean"])
    return values


PYFUNC = Regressor  # the pyfunc class of the regression task (rnnops.tasks)
mlflow.models.set_model(Regressor())
