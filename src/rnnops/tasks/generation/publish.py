"""The generation pyfunc's files: one trained model or the evaluate stage's winner (language
models and the n-gram peer with weights) logged to MLflow, registered, or saved to a folder.

Files: spec.json and vocabulary.json (the prepared data's), ensemble.json (members: kind `keras`
with the window it was trained with, or `ngram`; weight; artifact) and one artifact per member
(a `.keras` file, or the n-gram's `.npz`: arrays only, read with allow_pickle=False).
"""
from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

SERVING_MODULE = "rnnops.tasks.generation.serving"
NGRAM = "ngram"
# The pyfunc's per-request params and their defaults (its signature's params schema).
OPTIONS = {"max_tokens": 200, "temperature": 1.0, "top_k": 0, "top_p": 1.0, "greedy": False, "seed": 0}


@contextlib.contextmanager
def _artifacts(weights: dict[str, float], model_dirs: dict[str, Path], ngram_path: Path | None, prepared):
    artifacts = {"spec": str(prepared.directory / "spec.json"),
                 "vocabulary": str(prepared.directory / "vocabulary.json")}
    members = []
    for i, (name, weight) in enumerate(weights.items()):
        key = f"member_{i}"
        if name == NGRAM:
            artifacts[key] = str(ngram_path)
            members.append({"name": name, "kind": "ngram", "weight": weight, "artifact": key})
        else:
            artifacts[key] = str(model_dirs[name] / "model.keras")
            seq_len = json.loads((model_dirs[name] / "lm.json").read_text())["seq_len"]
            members.append({"name": name, "kind": "keras", "weight": weight, "artifact": key, "seq_len": seq_len})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ensemble.json"
        path.write_text(json.dumps({"members": members}, indent=2))
        artifacts["ensemble"] = str(path)
        yield artifacts


def _arguments(artifacts: dict) -> dict:
    import pandas as pd

    from rnnops.tracking.logged_models import pyfunc_from_code

    # (input, params): MLflow infers the params schema, so `params` in a request is accepted
    return pyfunc_from_code(SERVING_MODULE, artifacts, (pd.DataFrame({"prompt": ["I love ", ""]}), OPTIONS))


def log_generator(weights: dict[str, float], model_dirs: dict[str, Path], ngram_path: Path | None, prepared,
                  name: str, registered_model_name: str | None = None):
    """Log on the active run (optionally registered); returns MLflow's ModelInfo."""
    from rnnops.tracking.logged_models import log_pyfunc

    with _artifacts(weights, model_dirs, ngram_path, prepared) as artifacts:
        return log_pyfunc(_arguments(artifacts), name, registered_model_name)


def save_generator(weights: dict[str, float], model_dirs: dict[str, Path], ngram_path: Path | None, prepared,
                   folder: Path) -> dict[str, str]:
    """The same pyfunc saved to `folder`; returns {relative path: sha256} of its files."""
    import mlflow

    from rnnops.tracking.manifest import file_digests

    with _artifacts(weights, model_dirs, ngram_path, prepared) as artifacts:
        mlflow.pyfunc.save_model(str(folder), **_arguments(artifacts))
    return file_digests(folder)
