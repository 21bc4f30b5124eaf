"""The regression pyfunc's files: one trained model or the evaluate stage's winner (trained models
and peers with weights) logged to MLflow, registered, or saved to a folder; the files are
rnnops.tracking.ensemble_pyfunc's."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from rnnops.tracking.ensemble_pyfunc import log_ensemble, save_ensemble

SERVING_MODULE = "rnnops.tasks.regression.serving"


def keras_file(prepared) -> str:
    """The member file the pyfunc loads: the raw-text model for texts, the row model otherwise."""
    return "text_model.keras" if prepared.text else "model.keras"


def input_example(prepared, rows: int = 3):
    if prepared.text:
        return pd.DataFrame({prepared.spec["text_column"]: prepared.raw["val"][:rows]})
    return pd.DataFrame(prepared.raw["val"][:rows], columns=prepared.spec["features"])


def _arguments(prepared):
    from rnnops.tracking.logged_models import pyfunc_from_code

    return lambda artifacts, peers: pyfunc_from_code(SERVING_MODULE, artifacts, input_example(prepared))


def log_regressor(weights: dict[str, float], model_dirs: dict[str, Path], peers: dict, prepared, name: str,
                  registered_model_name: str | None = None):
    """Log the pyfunc on the active run (optionally registered); returns MLflow's ModelInfo."""
    return log_ensemble(weights, model_dirs, peers, prepared.directory / "spec.json", keras_file(prepared),
                        _arguments(prepared), name, registered_model_name)


def save_regressor(weights: dict[str, float], model_dirs: dict[str, Path], peers: dict, prepared,
                   folder: Path) -> dict[str, str]:
    """The same pyfunc saved to `folder`; returns {relative path: sha256} of its files."""
    return save_ensemble(weights, model_dirs, peers, prepared.directory / "spec.json", keras_file(prepared),
                         _arguments(prepared), folder)
