"""NBSVM's features with logistic regression (Wang & Manning 2012): the classical peer of the text
classifiers, fitted by scikit-learn and kept as a Keras model.

The features are multihot_dense's: the binary bag of token ids and hashed word pairs
(`rnnops.models.layers.MultiHot`). Each is scaled by its naive-Bayes log-count ratio on the
training split, r = log((p / |p|_1) / (q / |q|_1)) with p, q = alpha + the feature's document
counts in the class and in the rest; a logistic regression is fitted on x * r. For two classes
that is one regression; for more, one per class against the rest (each with its own r), whose
logits the softmax head normalises. Since w . (x * r) = (w * r) . x, the fitted model is a linear
layer on the bag: MultiHot -> Dense with kernel w * r, saved and served like every other model
(a .keras file, loaded with safe_mode). Only the training split is read.
"""
from __future__ import annotations

import numpy as np

from rnnops.params.architectures import NBLogisticParams


def bag_matrix(x: np.ndarray, vocab_size: int, bigram_buckets: int):
    """Token ids [n, time] (0 = padding) -> the binary bag [n, vocab_size + bigram_buckets] as a
    SciPy CSR matrix: exactly `MultiHot`'s output (a test checks it), without a dense row."""
    from scipy import sparse

    from rnnops.models.layers import PAIR_HASH

    width = vocab_size + bigram_buckets
    chunks = []
    for start in range(0, max(len(x), 1), 4096):  # a chunk at a time: IMDB's ids x 2 would be GBs
        ids = x[start:start + 4096].astype(np.int64)
        if bigram_buckets:
            left, right = ids[:, :-1], ids[:, 1:]
            pairs = np.where((left > 0) & (right > 0), (left * PAIR_HASH + right) % bigram_buckets + vocab_size, 0)
            ids = np.concatenate([ids, pairs], axis=1)
        rows = np.repeat(np.arange(len(ids)), ids.shape[1])
        cols = ids.ravel()
        real = cols > 0  # padding (and a pair that touches it) is no feature
        chunks.append(sparse.csr_matrix((np.ones(int(real.sum()), np.float32), (rows[real], cols[real])),
                                        shape=(len(ids), width)))
    bag = sparse.vstack(chunks, format="csr")
    bag.sum_duplicates()
    bag.data[:] = 1.0  # present or not, however often
    return bag


def log_count_ratios(bag, y: np.ndarray, num_classes: int, alpha: float) -> np.ndarray:
    """[features, 1] for two classes (class 1 against class 0), else [features, classes] (each
    class against the rest): log((p / |p|_1) / (q / |q|_1)), p and q smoothed by alpha."""
    columns = [1] if num_classes == 2 else range(num_classes)
    ratios = []
    for k in columns:
        p = alpha + np.asarray(bag[y == k].sum(axis=0), dtype=np.float64).ravel()
        q = alpha + np.asarray(bag[y != k].sum(axis=0), dtype=np.float64).ravel()
        ratios.append(np.log(p / p.sum()) - np.log(q / q.sum()))
    return np.stack(ratios, axis=1)


def fit(model, p: NBLogisticParams, x: np.ndarray, y: np.ndarray, num_classes: int, seed: int,
        class_weight: str = "none") -> None:
    """Fit the regression(s) on the training split and write w * r and the intercepts into the
    model's output layer (the body `nb_logistic` in rnnops.models.bodies)."""
    from sklearn.linear_model import LogisticRegression

    vocab_size = model.get_layer("bag").vocab_size
    bag = bag_matrix(x, vocab_size, p.bigram_buckets)
    ratios = log_count_ratios(bag, y, num_classes, p.alpha)
    kernel = np.zeros(ratios.shape, np.float32)
    bias = np.zeros(ratios.shape[1], np.float32)
    for j in range(ratios.shape[1]):
        target = y if num_classes == 2 else (y == j).astype(np.int64)
        # liblinear: exact for L2 on sparse rows; seeded, so the same seed gives the same weights
        regression = LogisticRegression(C=p.C, solver="liblinear", max_iter=1000, random_state=seed,
                                        class_weight=None if class_weight == "none" else "balanced")
        regression.fit(bag.multiply(ratios[:, j]).tocsr(), target)
        kernel[:, j] = regression.coef_[0] * ratios[:, j]
        bias[j] = regression.intercept_[0]
    head = model.layers[-1]  # `probability` (sigmoid) or `probabilities` (softmax)
    head.set_weights([kernel, bias])
