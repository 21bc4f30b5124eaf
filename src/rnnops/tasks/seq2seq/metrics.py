"""Scores of predicted target texts against references: exact match, character error rate, and
BLEU and chrF from sacrebleu (the standard implementations; never hand-written here)."""
from __future__ import annotations

import numpy as np

SCORES = ("exact_match", "cer", "chrf", "bleu")  # every metrics file has these keys
HIGHER_IS_BETTER = {"exact_match": True, "cer": False, "chrf": True, "bleu": True}


def edit_distances(predictions: list[str], references: list[str]) -> np.ndarray:
    """Levenshtein distance in characters, per pair."""
    from rapidfuzz.distance import Levenshtein

    return np.array([Levenshtein.distance(p, r) for p, r in zip(predictions, references)], dtype=np.int64)


def translation_scores(predictions: list[str], references: list[str], target_level: str) -> dict[str, float]:
    """exact_match (share of outputs equal to the reference), cer (character edits / reference
    characters, over the whole set), chrF and BLEU (corpus level, 0-100). BLEU tokenizes by
    characters when the targets are character sequences (an ISO date is one "word"), else 13a."""
    import sacrebleu

    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if not references:
        return {k: float("nan") for k in SCORES}
    exact = float(np.mean([p == r for p, r in zip(predictions, references)]))
    chars = sum(len(r) for r in references)
    cer = float(edit_distances(predictions, references).sum() / max(chars, 1))
    tokenize = "char" if target_level == "char" else "13a"
    bleu = sacrebleu.corpus_bleu(predictions, [references], tokenize=tokenize).score
    chrf = sacrebleu.corpus_chrf(predictions, [references]).score
    return {"exact_match": exact, "cer": cer, "chrf": float(chrf), "bleu": float(bleu)}


def by_group(predictions: list[str], references: list[str], groups, target_level: str) -> dict[str, dict]:
    """translation_scores per value of `groups` (source length bins, seen/held-out formats)."""
    groups = np.asarray(groups)
    out = {}
    for g in sorted(set(groups.tolist()), key=str):
        rows = np.flatnonzero(groups == g)
        out[str(g)] = {"pairs": int(len(rows)), **translation_scores(
            [predictions[i] for i in rows], [references[i] for i in rows], target_level)}
    return out


def length_bins(lengths, edges=(10, 15, 20, 25, 30)) -> list[str]:
    """Source lengths (tokens) as labels "<=10", "11-15", ..., ">30": exact match by length shows
    where a model without attention declines."""
    labels = []
    for n in lengths:
        lo = 0
        for e in edges:
            if n <= e:
                labels.append(f"{lo + 1:02d}-{e:02d}" if lo else f"01-{e:02d}")
                break
            lo = e
        else:
            labels.append(f">{edges[-1]}")
    return labels
