"""The classical peer: a translation memory. Each source gets the target of the most similar
training source (cosine of character 1-4-gram TF-IDF vectors, scikit-learn), the way translation
tools reuse past work. Fitted on the training pairs only; it never produces a target it has not
seen, which is what the neural models must beat on held-out dates and formats."""
from __future__ import annotations

import numpy as np


class TranslationMemory:
    def __init__(self, sources: list[str], targets: list[str], lowercase: bool = False):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.targets = list(targets)
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), lowercase=lowercase,
                                          sublinear_tf=True, dtype=np.float32)
        self.matrix = self.vectorizer.fit_transform(sources)  # rows are L2-normalised

    def nearest(self, sources: list[str], batch: int = 2048) -> np.ndarray:
        """Index of the most similar training source for each source (ties: the first)."""
        out = np.empty(len(sources), dtype=np.int64)
        for start in range(0, len(sources), batch):
            q = self.vectorizer.transform(sources[start:start + batch])
            out[start:start + batch] = np.asarray((q @ self.matrix.T).argmax(axis=1)).ravel()
        return out

    def translate(self, sources: list[str]) -> list[str]:
        return [self.targets[i] for i in self.nearest(sources)]
