"""Logging Keras models to MLflow (MLflow 3 `name=` API) with a signature and an input example.

`mlflow.keras.log_model(..., input_example=...)` in MLflow 3.17 writes the example before it
creates the model folder and fails (mlflow/mlflow#16183). This module is the keras flavor with
that folder created first: the saved model is exactly `mlflow.keras.save_model`'s.
"""
from __future__ import annotations

import os
import sys

import mlflow.keras
from mlflow.models import Model, infer_signature


def save_model(model, path, **kwargs):
    os.makedirs(path, exist_ok=True)  # the one fix: the folder exists before the example is saved
    return mlflow.keras.save_model(model, path, **kwargs)


def log_keras_model(model, name: str, example):
    """Log `model` under the active run as `name`; returns MLflow's ModelInfo (model_uri, ...)."""
    signature = infer_signature(example, model.predict(example, verbose=0))
    return Model.log(artifact_path=None, name=name, flavor=sys.modules[__name__], flavor_name="mlflow.keras",
                     model=model, signature=signature, input_example=example)


def log_text_model(text_model_path, labels_path, name: str = "text_model", example=None):
    """Log the end-to-end classifier as a pyfunc model from code (rnnops/serving.py)."""
    from pathlib import Path

    import mlflow

    code = Path(__file__).with_name("serving.py")
    return mlflow.pyfunc.log_model(
        name=name, python_model=str(code),
        artifacts={"text_model": str(text_model_path), "labels": str(labels_path)},
        input_example=example or ["what a wonderful film", "a dull, lifeless plot"])
