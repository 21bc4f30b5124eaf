"""Logging Keras models to MLflow (MLflow 3 `name=` API) with a signature and an input example.

`mlflow.keras.log_model(..., input_example=...)` in MLflow 3.17 writes the example before it
creates the model folder and fails (mlflow/mlflow#16183). This module is the keras flavor with
that folder created first: the saved model is exactly `mlflow.keras.save_model`'s.

Every model logged here gets a manifest in the tracking store (rnnops.tracking.manifest): the
sha256 of each of its files, which `rnnops predict` checks before it loads a model.
"""
from __future__ import annotations

import os
import sys

import mlflow.keras
from mlflow.models import Model, infer_signature

from rnnops.tracking import manifest

# The pyfunc logged as code (models-from-code: MLflow runs this file to build the model). Named,
# not imported: importing it here would register its model object in this process.
SERVING_MODULE = "rnnops.tracking.serving"


def save_model(model, path, validate_serving_input=True, **kwargs):
    os.makedirs(path, exist_ok=True)  # the one fix: the folder exists before the example is saved
    return mlflow.keras.save_model(model, path, **kwargs)


def requirements(extra: tuple[str, ...] = ()) -> list[str]:
    """The serving requirements, pinned to what is installed. Given explicitly because MLflow's
    inference starts a subprocess that imports the model (about 5 s per model)."""
    from importlib.metadata import PackageNotFoundError, version

    try:  # the `cpu` extra; the `gpu` extra installs `tensorflow` (with CUDA) instead
        tensorflow = f"tensorflow-cpu=={version('tensorflow-cpu')}"
    except PackageNotFoundError:
        tensorflow = f"tensorflow=={version('tensorflow')}"
    packages = ("keras", "mlflow", "numpy", "pandas", "scikit-learn", *extra)
    return [tensorflow, *(f"{name}=={version(name)}" for name in packages)]


def log_keras_model(model, name: str, example):
    """Log `model` under the active run as `name`; returns MLflow's ModelInfo (model_uri, ...).

    Models with rnnops layers (LSTM, attention, transformer, multi-hot) need `import rnnops.models.layers`
    before `mlflow.keras.load_model`, which registers them; the text model below does not.
    """
    signature = infer_signature(example, model.predict(example, verbose=0))
    info = Model.log(artifact_path=None, name=name, flavor=sys.modules[__name__], flavor_name="mlflow.keras",
                     model=model, signature=signature, input_example=example,
                     pip_requirements=requirements(),
                     # MLflow's check of the example calls model.predict with a progress bar;
                     # the signature above was inferred from that very prediction already.
                     validate_serving_input=False)
    manifest.record(info)
    return info


def log_text_model(text_model_path, labels_path, name: str = "text_model", example=None):
    """Log the end-to-end classifier as a pyfunc model from code (rnnops/serving.py)."""
    return log_raw_text_model({"text_model": str(text_model_path), "labels": str(labels_path)}, name, example)


def log_raw_text_model(artifacts: dict[str, str], name: str, example=None, registered_model_name=None):
    """A raw-text pyfunc from code (rnnops/serving.py) over `artifacts`: labels plus one text
    model, or an ensemble (see serving.TextClassifier); optionally registered, after its
    manifest is recorded (so no registered version lacks one)."""
    return log_pyfunc(_raw_text_model(artifacts, example), name, registered_model_name)


def save_raw_text_model(artifacts: dict[str, str], path, example=None) -> None:
    """The same pyfunc saved to the folder `path`, outside any tracking store: what
    `mlflow models serve -m <folder>` serves in a clone whose store does not have it."""
    import mlflow

    mlflow.pyfunc.save_model(str(path), **_raw_text_model(artifacts, example))


def _raw_text_model(artifacts: dict[str, str], example=None) -> dict:
    """mlflow.pyfunc's arguments for the raw-text model from code over `artifacts`."""
    return pyfunc_from_code(SERVING_MODULE, artifacts,
                            example or ["what a wonderful film", "a dull, lifeless plot"])


def pyfunc_from_code(module: str, artifacts: dict[str, str], example, extra_requirements=()) -> dict:
    """mlflow.pyfunc's arguments for a task's pyfunc logged as code (`module` calls
    mlflow.models.set_model) over `artifacts`."""
    from importlib.util import find_spec
    from pathlib import Path

    package = Path(__file__).parents[1]
    # code_paths ships the rnnops package inside the model: a fresh environment with the pinned
    # requirements can serve it without installing this project.
    return {"python_model": find_spec(module).origin, "code_paths": [str(package)],
            "artifacts": artifacts, "pip_requirements": requirements(tuple(extra_requirements)),
            "input_example": example}


def log_pyfunc(arguments: dict, name: str, registered_model_name=None):
    """Log a pyfunc (arguments from `pyfunc_from_code`) with its manifest; optionally registered."""
    import mlflow

    info = mlflow.pyfunc.log_model(name=name, **arguments)
    manifest.record(info)
    if registered_model_name is not None:
        info.registered_model_version = mlflow.register_model(info.model_uri, registered_model_name).version
    return info
