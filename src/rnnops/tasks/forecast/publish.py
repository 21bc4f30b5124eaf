"""The forecasting pyfunc's files: a member model or the evaluate stage's winner (trained models
and baselines with weights) logged to MLflow, registered, or saved to a folder (evaluation/model);
the files are rnnops.tracking.ensemble_pyfunc's."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from rnnops.tracking.ensemble_pyfunc import log_ensemble, save_ensemble

SERVING_MODULE = "rnnops.tasks.forecast.serving"


def history_example(prepared, rows: int) -> pd.DataFrame:
    """The last `rows` steps of the prepared series as a history (the pyfunc's input example)."""
    spec = prepared.spec
    frame = prepared.series[[spec["target"], *spec["inputs"]]].iloc[-rows:]
    times = [t.isoformat() for t in frame.index]
    return pd.DataFrame({spec["time_column"]: times, **{c: frame[c].to_numpy() for c in frame.columns}})


def _arguments(prepared):
    from rnnops.tracking.logged_models import pyfunc_from_code

    def arguments(artifacts: dict, baselines: dict) -> dict:
        rows = max([prepared.spec["window"], *(b.min_history for b in baselines.values())])
        extra = ("statsmodels",) if baselines else ()
        return pyfunc_from_code(SERVING_MODULE, artifacts, history_example(prepared, rows), extra)
    return arguments


def log_forecaster(weights: dict[str, float], model_dirs: dict[str, Path], baselines: dict, prepared,
                   name: str, registered_model_name: str | None = None):
    """Log the pyfunc on the active run (optionally registered); returns MLflow's ModelInfo."""
    return log_ensemble(weights, model_dirs, baselines, prepared.directory / "spec.json", "model.keras",
                        _arguments(prepared), name, registered_model_name)


def save_forecaster(weights: dict[str, float], model_dirs: dict[str, Path], baselines: dict, prepared,
                    folder: Path) -> dict[str, str]:
    """The same pyfunc saved to `folder`; returns {relative path: sha256} of its files."""
    return save_ensemble(weights, model_dirs, baselines, prepared.directory / "spec.json", "model.keras",
                         _arguments(prepared), folder)
