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
        "loss": float(log_loss(y, _clipped(proba), labels=labels)),
    }


def _clipped(proba: np.ndarray) -> np.ndarray:
    """Probabilities kept off 0 (a log of 0 is infinite) and summing to one again, as log_loss
    checks (clipping alone made scikit-learn warn "y_prob values do not sum to one")."""
    clipped = np.clip(np.asarray(proba, dtype=np.float64), 1e-7, 1.0)
    return clipped / clipped.sum(axis=1, keepdims=True)


def confusion(y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    return confusion_matrix(y, proba.argmax(axis=1), labels=np.arange(proba.shape[1]))


def evaluation_metrics(y: np.ndarray, proba: np.ndarray, labels: list[str]) -> dict:
    """Everything the evaluate stage reports for one model: accuracy, macro-F1, log loss,
    ROC-AUC (binary, or macro one-vs-rest), per-class precision/recall/F1 and the confusion matrix."""
    from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

    classes = np.arange(proba.shape[1])
    precision, recall, f1, support = precision_recall_fscore_support(
        y, proba.argmax(axis=1), labels=classes, zero_division=0)
    try:
        auc = float(roc_auc_score(y, proba[:, 1]) if len(classes) == 2 else
                    roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=classes))
    except ValueError:  # a class absent from y: AUC is undefined
        auc = None
    return {
        **classification_metrics(y, proba), "roc_auc": auc,
        "per_class": {name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                      for name, p, r, f, s in zip(labels, precision, recall, f1, support)},
        "confusion": confusion(y, proba).tolist(),
    }
