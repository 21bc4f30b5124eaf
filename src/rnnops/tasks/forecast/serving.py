"""MLflow pyfunc of the forecasting task, logged as code (no pickle): a history in, the next
`horizon` timestamps and values out, in the series' units.

Input: one DataFrame (JSON `dataframe_split` / `dataframe_records` over HTTP) with the time column
and the value columns the model was trained on, oldest first, at least `window` rows (a baseline
member may need more: seasonal naive one season, ETS five). Output: one row per future step, the
time column (ISO text) and the target column.

Members are trained Keras models (`.keras`, loaded with safe_mode=True), which read the last
`window` steps scaled with the stored training statistics, and classical baselines, which filter
their stored parameters (JSON) over the whole history; an ensemble is their weighted mean.
"""
from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


class Forecaster(PythonModel):
    def load_context(self, context):
        from rnnops.models.keras_io import load_keras_model
        from rnnops.tasks.forecast.baselines import Fitted

        self.spec = json.loads(Path(context.artifacts["spec"]).read_text())
        members = json.loads(Path(context.artifacts["ensemble"]).read_text())["members"]
        self.members = [(load_keras_model(context.artifacts[m["artifact"]]) if m["kind"] == "keras"
                         else Fitted.from_json(m["baseline"]), m["weight"]) for m in members]

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return forecast(self.members, self.spec, model_input)


def forecast(members: list, spec: dict, history: pd.DataFrame) -> pd.DataFrame:
    """The weighted forecast of `members` [(keras model | baselines.Fitted, weight)] from `history`."""
    from rnnops.errors import DataError
    from rnnops.tasks.forecast.baselines import Fitted, forecast_from_history
    from rnnops.tasks.forecast.windows import Scaler, grid_positions, window_from_history

    x, future, target = window_from_history(history, spec)
    first = int(grid_positions(future[:1], spec["anchor"], spec["frequency"])[0])
    steps = np.arange(first - len(target), first, dtype=np.int64)  # the history's grid positions
    scaler = Scaler.from_json(spec["scaler"])
    values = np.zeros(spec["horizon"])
    for member, weight in members:
        if isinstance(member, Fitted):
            if len(target) < member.min_history:
                raise DataError(f"history: {len(target)} rows, but the {member.name} member of this model "
                                f"needs {member.min_history}. Fix: pass at least the last "
                                f"{member.min_history} time steps.")
            values = values + weight * forecast_from_history(member, target, steps, spec["horizon"])
        else:
            scaled = np.asarray(member(x, training=False), dtype=np.float64)[0]
            values = values + weight * scaler.target_to_units(scaled, spec["target"])
    return pd.DataFrame({spec["time_column"]: [t.isoformat() for t in future], spec["target"]: values})


PYFUNC = Forecaster  # the pyfunc class of the forecasting task (rnnops.tasks)
mlflow.models.set_model(Forecaster())
