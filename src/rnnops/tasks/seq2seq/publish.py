"""The seq2seq pyfunc's files: one trained model or the evaluate stage's winner (members with
weights, their step distributions averaged inside the beam) logged to MLflow, registered, or
saved to a folder.

Files: spec.json and vocabulary.json (the prepared data's), ensemble.json (members: name,
weight, artifact; the decoding defaults) and one `.keras` file per member.
"""
from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

SERVING_MODULE = "rnnops.tasks.seq2seq.serving"


def options(decoding) -> dict:
    """The pyfunc's per-request params and their defaults (its signature's params schema):
    the pipeline's decoding params; max_len 0 = the data's maximum target length."""
    return {"beam_width": int(decoding.beam_width), "length_penalty": float(decoding.length_penalty),
            "max_len": int(decoding.max_len or 0), "attention": False}


@contextlib.contextmanager
def _artifacts(weights: dict[str, float], model_dirs: dict[str, Path], prepared):
    artifacts = {"spec": str(prepared.directory / "spec.json"),
                 "vocabulary": str(prepared.directory / "vocabulary.json")}
    members = []
    for i, (name, weight) in enumerate(weights.items()):
        artifacts[f"member_{i}"] = str(model_dirs[name] / "model.keras")
        members.append({"name": name, "weight": weight, "artifact": f"member_{i}"})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ensemble.json"
        path.write_text(json.dumps({"members": members}, indent=2))
        artifacts["ensemble"] = str(path)
        yield artifacts


def _arguments(artifacts: dict, decoding) -> dict:
    import pandas as pd

    from rnnops.tracking.logged_models import pyfunc_from_code

    # (input, params): MLflow infers the params schema, so `params` in a request is accepted
    return pyfunc_from_code(SERVING_MODULE, artifacts, (pd.DataFrame({"source": ["3 mars 1998", "March 3, 1998"]}),
                                                        options(decoding)))


def log_translator(weights: dict[str, float], model_dirs: dict[str, Path], prepared, name: str, decoding,
                   registered_model_name: str | None = None):
    """Log on the active run (optionally registered); returns MLflow's ModelInfo."""
    from rnnops.tracking.logged_models import log_pyfunc

    with _artifacts(weights, model_dirs, prepared) as artifacts:
        return log_pyfunc(_arguments(artifacts, decoding), name, registered_model_name)


def save_translator(weights: dict[str, float], model_dirs: dict[str, Path], prepared, folder: Path,
                    decoding) -> dict[str, str]:
    """The same pyfunc saved to `folder`; returns {relative path: sha256} of its files."""
    import mlflow

    from rnnops.tracking.manifest import file_digests

    with _artifacts(weights, model_dirs, prepared) as artifacts:
        mlflow.pyfunc.save_model(str(folder), **_arguments(artifacts, decoding))
    return file_digests(folder)
