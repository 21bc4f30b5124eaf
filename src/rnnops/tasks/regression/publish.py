"""The regression pyfunc's files: one trained model or the evaluate stage's winner (trained
models and peers with weights) logged to MLflow, registered, or saved to a folder."""
from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

import pandas as pd

SERVING_MODULE = "rnnops.tasks.regression.serving"


def keras_file(prepared) -> str:
    """The member file the pyfunc loads: the raw-text model for texts, the row model otherwise."""
    return "text_model.keras" if prepared.text else "model.keras"


def input_example(prepared, rows: int = 3):
    if prepared.text:
        return pd.DataFrame({prepared.spec["text_column"]: prepared.raw["val"][:rows]})
    return pd.DataFrame(prepared.raw["val"][:rows], columns=prepared.spec["features"])


@contextlib.contextmanager
def _artifacts(weights: dict[str, float], model_dirs: dict[str, Path], peers: dict, prepared):
    artifacts = {"spec": str(prepared.directory / "spec.json")}
    members = []
    for i, (name, weight) in enumerate(weights.items()):
        if name in peers:
            members.append({"name": name, "kind": "peer", "weight": weight, "peer": peers[name].to_json()})
        else:
            artifacts[f"member_{i}"] = str(model_dirs[name] / keras_file(prepared))
            members.append({"name": name, "kind": "keras", "weight": weight, "artifact": f"member_{i}"})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ensemble.json"
        path.write_text(json.dumps({"members": members}, indent=2))
        artifacts["ensemble"] = str(path)
        yield artifacts


def _arguments(artifacts: dict, prepared, peers: dict):
    from rnnops.tracking.logged_models import pyfunc_from_code

    return pyfunc_from_code(SERVING_MODULE, artifacts, input_example(prepared))  # sklearn: always pinned


def log_regressor(weights: dict[str, float], model_dirs: dict[str, Path], peers: dict, prepared, name: str,
                  registered_model_name: str | None = None):
    """Log the pyfunc on the active run (optionally registered); returns MLflow's ModelInfo."""
    from rnnops.tracking.logged_models import log_pyfunc

    used = {k: v for k, v in peers.items() if k in weights}
    with _artifacts(weights, model_dirs, used, prepared) as artifacts:
        return log_pyfunc(_arguments(artifacts, prepared, used), name, registered_model_name)


def save_regressor(weights: dict[str, float], model_dirs: dict[str, Path], peers: dict, prepared,
                   folder: Path) -> dict[str, str]:
    """The same pyfunc saved to `folder`; returns {relative path: sha256} of its files."""
    import mlflow

    from rnnops.tracking.manifest import file_digests

    used = {k: v for k, v in peers.items() if k in weights}
    with _artifacts(weights, model_dirs, used, prepared) as artifacts:
        mlflow.pyfunc.save_model(str(folder), **_arguments(artifacts, prepared, used))
    return file_digests(folder)
