"""The forecasting pyfunc's files: a member model or the evaluate stage's winner (trained models
and baselines with weights) logged to MLflow, registered, or saved to a folder (evaluation/model)."""
from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

import pandas as pd

SERVING_MODULE = "rnnops.tasks.forecast.serving"


def history_example(prepared, rows: int) -> pd.DataFrame:
    """The last `rows` steps of the prepared series as a history (the pyfunc's input example)."""
    spec = prepared.spec
    frame = prepared.series[[spec["target"], *spec["inputs"]]].iloc[-rows:]
    times = [t.isoformat() for t in frame.index]
    return pd.DataFrame({spec["time_column"]: times, **{c: frame[c].to_numpy() for c in frame.columns}})


@contextlib.contextmanager
def _artifacts(weights: dict[str, float], model_dirs: dict[str, Path], baselines: dict, prepared):
    """spec.json, ensemble.json (members: kind, weight, and a keras artifact or the baseline's
    fitted parameters) and member_<i> (each trained member's model.keras)."""
    artifacts = {"spec": str(prepared.directory / "spec.json")}
    members = []
    for i, (name, weight) in enumerate(weights.items()):
        if name in baselines:
            members.append({"name": name, "kind": "baseline", "weight": weight,
                            "baseline": baselines[name].to_json()})
        else:
            artifacts[f"member_{i}"] = str(model_dirs[name] / "model.keras")
            members.append({"name": name, "kind": "keras", "weight": weight, "artifact": f"member_{i}"})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ensemble.json"
        path.write_text(json.dumps({"members": members}, indent=2))
        artifacts["ensemble"] = str(path)
        yield artifacts


def _arguments(artifacts: dict, prepared, baselines: dict):
    from rnnops.tracking.logged_models import pyfunc_from_code

    rows = max([prepared.spec["window"], *(b.min_history for b in baselines.values())])
    extra = ("statsmodels",) if baselines else ()
    return pyfunc_from_code(SERVING_MODULE, artifacts, history_example(prepared, rows), extra)


def log_forecaster(weights: dict[str, float], model_dirs: dict[str, Path], baselines: dict, prepared,
                   name: str, registered_model_name: str | None = None):
    """Log the pyfunc on the active run (optionally registered); returns MLflow's ModelInfo."""
    from rnnops.tracking.logged_models import log_pyfunc

    used = {k: v for k, v in baselines.items() if k in weights}
    with _artifacts(weights, model_dirs, used, prepared) as artifacts:
        return log_pyfunc(_arguments(artifacts, prepared, used), name, registered_model_name)


def save_forecaster(weights: dict[str, float], model_dirs: dict[str, Path], baselines: dict, prepared,
                    folder: Path) -> dict[str, str]:
    """The same pyfunc saved to `folder`; returns {relative path: sha256} of its files."""
    import mlflow

    from rnnops.tracking.manifest import file_digests

    used = {k: v for k, v in baselines.items() if k in weights}
    with _artifacts(weights, model_dirs, used, prepared) as artifacts:
        mlflow.pyfunc.save_model(str(folder), **_arguments(artifacts, prepared, used))
    return file_digests(folder)
