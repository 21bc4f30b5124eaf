"""Classical peers of the trained regressors: the training mean, ridge regression (tabular: the
standardised features; text: TF-IDF words and bigrams) and gradient boosting (tabular only).

scikit-learn does the fitting. A fitted peer is stored and served as JSON only (no pickle/joblib):
mean and ridge keep their numbers (mean; coefficients, intercept, and for text the TF-IDF vocabulary
and idf weights) and predict from them; gradient boosting keeps its training rows and refits.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

PEERS = ("mean", "ridge", "gradient_boosting")
_TFIDF = {"ngram_range": [1, 2], "lowercase": True, "sublinear_tf": True, "norm": "l2",
          "smooth_idf": True, "use_idf": True}


def _kind(features, texts) -> str:
    if (features is None) == (texts is None):
        raise ValueError("give either features (tabular) or texts (text), not both or neither")
    return "tabular" if features is not None else "text"


def _rows(features) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be 2-D [rows, columns], got shape {x.shape}")
    return x


def _vectorizer(settings: dict, vocabulary: dict | None = None, max_features: int | None = None):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=tuple(settings["ngram_range"]), lowercase=settings["lowercase"],
                           sublinear_tf=settings["sublinear_tf"], norm=settings["norm"],
                           smooth_idf=settings["smooth_idf"], use_idf=settings["use_idf"],
                           max_features=max_features, vocabulary=vocabulary, dtype=np.float64)


def _boosting(state: dict):
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(max_iter=state["max_iter"], random_state=state["random_state"],
                                         early_stopping=False)


@dataclass
class Peer:
    name: str    # "mean" | "ridge" | "gradient_boosting"
    kind: str    # "tabular" | "text"
    state: dict  # JSON-serialisable fitted state (lists, floats, str)
    _cache: Any = field(default=None, init=False, repr=False, compare=False)  # rebuilt sklearn object

    def predict(self, features: np.ndarray | None = None, texts: Sequence[str] | None = None) -> np.ndarray:
        """float64 [n]: one prediction per feature row or text, in the target's units."""
        kind = _kind(features, texts)
        if kind != self.kind:
            raise ValueError(f"baseline {self.name} was fitted on {self.kind} inputs but got {kind} inputs")
        if kind == "tabular":
            x = _rows(features)
            if self.name != "mean" and x.shape[1] != self.state["n_features"]:
                raise ValueError(f"baseline {self.name} expects {self.state['n_features']} feature "
                                 f"columns, got {x.shape[1]}")
        n = len(features) if kind == "tabular" else len(texts)
        if self.name == "mean":
            return np.full(n, float(self.state["mean"]), dtype=np.float64)
        if self.name == "ridge":
            coef, intercept = np.asarray(self.state["coef"], dtype=np.float64), float(self.state["intercept"])
            if kind == "tabular":
                return x @ coef + intercept
            if self._cache is None:
                vec = _vectorizer(self.state["tfidf"], vocabulary=self.state["vocabulary"])
                vec.idf_ = np.asarray(self.state["idf"], dtype=np.float64)  # sklearn allows setting idf_
                self._cache = vec
            return np.asarray(self._cache.transform(list(texts)) @ coef, dtype=np.float64).ravel() + intercept
        if self.name == "gradient_boosting":
            if self._cache is None:
                # Trees are not JSON-friendly, so the state holds the training rows and settings and
                # the model is refitted here; with the fixed random_state and early stopping off the
                # refit is deterministic and predicts exactly as the original fit (same scikit-learn).
                self._cache = _boosting(self.state).fit(np.asarray(self.state["features"], dtype=np.float64),
                                                        np.asarray(self.state["y"], dtype=np.float64))
            return np.asarray(self._cache.predict(x), dtype=np.float64)
        raise ValueError(f"unknown baseline {self.name!r}")

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "state": self.state}

    @classmethod
    def from_json(cls, record: dict) -> "Peer":
        name, kind = str(record["name"]), str(record["kind"])
        if name not in PEERS or kind not in ("tabular", "text") or (name == "gradient_boosting"
                                                                    and kind == "text"):
            raise ValueError(f"not a regression baseline record: name {name!r}, kind {kind!r}")
        return cls(name=name, kind=kind, state=dict(record["state"]))


def fit_peer(name: str, options, features: np.ndarray | None, texts: Sequence[str] | None,
             y: np.ndarray, seed: int) -> Peer:
    """Fit baseline `name` (options: RegressionBaselines) on feature rows or texts and target y."""
    if name not in PEERS:
        raise ValueError(f"baselines.models: unknown model {name!r}. Fix: use some of {', '.join(PEERS)}")
    kind = _kind(features, texts)
    target = np.asarray(y, dtype=np.float64).ravel()
    n = len(features) if kind == "tabular" else len(texts)
    if n != len(target):
        raise ValueError(f"baseline {name}: {n} input rows but {len(target)} target values")
    if n == 0:
        raise ValueError(f"baseline {name}: no training rows")
    if not np.all(np.isfinite(target)):
        raise ValueError(f"baseline {name}: the target holds NaN or infinite values")
    if name == "gradient_boosting" and kind == "text":
        raise ValueError("baselines.models: gradient_boosting needs feature rows, not texts. "
                         "Fix: remove it (text regression has mean and ridge)")
    if name == "mean":
        return Peer(name, kind, {"mean": float(target.mean())})
    if name == "ridge":
        from sklearn.linear_model import Ridge

        ridge = Ridge(alpha=float(options.ridge_alpha))
        if kind == "tabular":
            x = _rows(features)
            ridge.fit(x, target)
            return Peer(name, kind, {"coef": [float(v) for v in ridge.coef_],
                                     "intercept": float(ridge.intercept_),
                                     "alpha": float(options.ridge_alpha), "n_features": int(x.shape[1])})
        settings = {**_TFIDF, "max_features": int(options.tfidf_max_features)}
        vec = _vectorizer(settings, max_features=settings["max_features"])
        ridge.fit(vec.fit_transform(list(texts)), target)
        return Peer(name, kind, {
            "tfidf": settings, "vocabulary": {str(t): int(i) for t, i in vec.vocabulary_.items()},
            "idf": [float(v) for v in vec.idf_], "coef": [float(v) for v in ridge.coef_],
            "intercept": float(ridge.intercept_), "alpha": float(options.ridge_alpha)})
    import sklearn

    x = _rows(features)
    state = {"max_iter": int(options.boosting_max_iter), "random_state": int(seed), "early_stopping": False,
             "n_features": int(x.shape[1]), "sklearn_version": sklearn.__version__,
             "features": x.tolist(), "y": target.tolist()}
    peer = Peer(name, kind, state)
    peer._cache = _boosting(state).fit(x, target)
    return peer


def out_of_fold(name: str, options, features: np.ndarray | None, texts: Sequence[str] | None,
                y: np.ndarray, folds: np.ndarray, seed: int) -> np.ndarray:
    """float64 [n]: row i predicted by the peer fitted on the rows of every other fold (never its own)."""
    kind = _kind(features, texts)
    folds = np.asarray(folds).ravel()
    target = np.asarray(y, dtype=np.float64).ravel()
    n = len(features) if kind == "tabular" else len(texts)
    if not len(folds) == len(target) == n:
        raise ValueError(f"out_of_fold: {n} input rows, {len(target)} targets and {len(folds)} fold ids")
    ids = np.unique(folds)
    if len(ids) < 2:
        raise ValueError("out_of_fold needs at least 2 folds (each fold is predicted from the others)")
    x = _rows(features) if kind == "tabular" else None
    out = np.full(n, np.nan, dtype=np.float64)
    for k in ids:
        held, train = np.flatnonzero(folds == k), np.flatnonzero(folds != k)
        if kind == "tabular":
            peer = fit_peer(name, options, x[train], None, target[train], seed)
            out[held] = peer.predict(x[held], None)
        else:
            peer = fit_peer(name, options, None, [texts[i] for i in train], target[train], seed)
            out[held] = peer.predict(None, [texts[i] for i in held])
    return out
