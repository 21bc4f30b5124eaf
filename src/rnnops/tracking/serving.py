"""MLflow pyfunc model, logged as code (no pickle): raw texts in, label + class probabilities out.

`mlflow models serve -m <uri>` answers POST /invocations {"inputs": ["some review", ...]} with
one row per text: the predicted label and a probability per class. The Keras model inside is the
end-to-end `.keras` file (tokenizer included), loaded with safe_mode=True; an ensemble is several
of them with weights, its probabilities the weighted mean.
"""
from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class TextClassifier(PythonModel):
    def load_context(self, context):
        from rnnops.models.keras_io import load_keras_model

        self.labels = json.loads(Path(context.artifacts["labels"]).read_text())
        # One model, or an ensemble: {"members": {artifact name: weight}} (weights sum to 1).
        members = {"text_model": 1.0}
        if "ensemble" in context.artifacts:
            members = json.loads(Path(context.artifacts["ensemble"]).read_text())["members"]
        self.members = [(load_keras_model(context.artifacts[name]), weight) for name, weight in members.items()]

    def predict(self, context, model_input: list[str], params=None) -> pd.DataFrame:
        import numpy as np

        from rnnops.data.batches import as_class_probabilities, labelled

        texts = np.array(["" if t is None else str(t) for t in model_input], dtype=object)
        if len(texts) == 0:
            return pd.DataFrame(columns=["label", *self.labels])
        proba = sum(weight * as_class_probabilities(model.predict(texts, verbose=0), len(self.labels))
                    for model, weight in self.members)
        return labelled(proba, self.labels)


mlflow.models.set_model(TextClassifier())
