"""The files of a task's ensemble pyfunc (forecasting, regression): spec.json (the prepared
data's), ensemble.json (members: kind `keras` or `baseline`, weight, and the Keras artifact or the
baseline's fitted state as JSON) and member_<i> (each trained member's .keras file); logged to
MLflow (optionally registered) or saved to a folder. The task's serving module reads them; the
task supplies the pyfunc's arguments (its serving module, input example)."""
from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path
from typing import Callable


@contextlib.contextmanager
def _artifacts(weights: dict[str, float], model_dirs: dict[str, Path], baselines: dict, spec_path: Path,
               keras_file: str):
    artifacts = {"spec": str(spec_path)}
    members = []
    for i, (name, weight) in enumerate(weights.items()):
        if name in baselines:
            members.append({"name": name, "kind": "baseline", "weight": weight,
                            "baseline": baselines[name].to_json()})
        else:
            artifacts[f"member_{i}"] = str(model_dirs[name] / keras_file)
            members.append({"name": name, "kind": "keras", "weight": weight, "artifact": f"member_{i}"})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ensemble.json"
        path.write_text(json.dumps({"members": members}, indent=2))
        artifacts["ensemble"] = str(path)
        yield artifacts


def log_ensemble(weights: dict[str, float], model_dirs: dict[str, Path], baselines: dict, spec_path: Path,
                 keras_file: str, arguments: Callable[[dict, dict], dict], name: str,
                 registered_model_name: str | None = None):
    """Log on the active run (optionally registered); `arguments(artifacts, used baselines)` gives
    mlflow.pyfunc's arguments. Returns MLflow's ModelInfo."""
    from rnnops.tracking.logged_models import log_pyfunc

    used = {k: v for k, v in baselines.items() if k in weights}
    with _artifacts(weights, model_dirs, used, spec_path, keras_file) as artifacts:
        return log_pyfunc(arguments(artifacts, used), name, registered_model_name)


def save_ensemble(weights: dict[str, float], model_dirs: dict[str, Path], baselines: dict, spec_path: Path,
                  keras_file: str, arguments: Callable[[dict, dict], dict], folder: Path) -> dict[str, str]:
    """The same pyfunc saved to `folder`; returns {relative path: sha256} of its files."""
    import mlflow

    from rnnops.tracking.manifest import file_digests

    used = {k: v for k, v in baselines.items() if k in weights}
    with _artifacts(weights, model_dirs, used, spec_path, keras_file) as artifacts:
        mlflow.pyfunc.save_model(str(folder), **arguments(artifacts, used))
    return file_digests(folder)
