"""Ensembles of trained models, chosen on the validation split only.

- soft voting: the mean of every member's class probabilities;
- greedy forward selection with replacement (Caruana et al. 2004, "Ensemble selection from
  libraries of models"): start from the best member, repeatedly add the member (possibly again)
  whose addition gives the best validation score, keep the best prefix. Repeats become weights.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from rnnops.project import higher_is_better
from rnnops.scoring.metrics import classification_metrics


@dataclass(frozen=True)
class Ensemble:
    name: str
    weights: dict[str, float]  # member -> weight, summing to 1

    def combine(self, proba: dict[str, np.ndarray]) -> np.ndarray:
        return sum(w * proba[m] for m, w in self.weights.items())


def score(y: np.ndarray, proba: np.ndarray, metric: str) -> float:
    """Higher is better: accuracy, macro-F1, or negative log loss."""
    values = classification_metrics(y, proba)
    return values[metric] if higher_is_better(metric) else -values[metric]


def soft_vote(members: list[str]) -> Ensemble:
    return Ensemble("soft_vote", {m: 1.0 / len(members) for m in members})


def greedy_selection(y_val: np.ndarray, val_proba: dict[str, np.ndarray], metric: str,
                     max_size: int, score_fn: Callable[[np.ndarray, np.ndarray], float] | None = None) -> Ensemble:
    """Caruana's forward selection with replacement on validation predictions only: class
    probabilities scored by `metric`, or any predictions scored by `score_fn` (higher is better;
    forecasts pass minus their error).

    Ties go to the member listed first (the given order), so the result is deterministic.
    """
    rate = score_fn or (lambda y, p: score(y, p, metric))
    names = list(val_proba)
    counts = dict.fromkeys(names, 0)
    first = max(names, key=lambda m: rate(y_val, val_proba[m]))
    counts[first] = 1
    total = val_proba[first].copy()
    best_score, best_counts = rate(y_val, total), dict(counts)
    for size in range(2, max_size + 1):
        candidates = [(rate(y_val, (total + val_proba[m]) / size), -i, m)
                      for i, m in enumerate(names)]
        value, _, chosen = max(candidates)
        counts[chosen] += 1
        total += val_proba[chosen]
        if value > best_score:
            best_score, best_counts = value, dict(counts)
    used = sum(best_counts.values())
    return Ensemble("greedy", {m: c / used for m, c in best_counts.items() if c})
