"""Classification metrics from class probabilities (scikit-learn does the arithmetic)."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, log_loss


def classification_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    labels = np.arange(proba.shape[1])
    predicted = proba.argmax(axis=1)
    return {
        "accuracy": float(accuracy_score(y, predicted)),
        "macro_f1": float(f1_score(y, predicted, labels=labels, average="macro", zero_division=0)),
        "loss": float(log_loss(y, np.clip(proba, 1e-7, 1.0), labels=labels)),
    }


def confusion(y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    return confusion_matrix(y, proba.argmax(axis=1), labels=np.arange(proba.shape[1]))
