"""Held-out scores of a language model: the probability it gives each next token of a stream,
and bits per token (bits per character at the character level) and perplexity from those.

Every model, the n-gram peer and every ensemble is scored on the same positions (every token of
the split's stream after the first, document ends included), so their numbers sit in one table;
an ensemble's probability of a token is its members' weighted mean (a mixture), so ensembles are
scored from the members' stored probabilities without rerunning any model.
"""
from __future__ import annotations

import numpy as np


def window_plan(length: int, seq_len: int) -> list[tuple[int, int]]:
    """(window start, first scored position in the window) over `length` targets: windows of
    seq_len advance by half a window and score only positions not scored before, so every
    target is scored once with at least half a window of context (all of it in the first)."""
    if length <= seq_len:
        return [(0, 0)]
    hop = max(1, seq_len // 2)
    starts = list(range(0, length - seq_len + 1, hop))
    if starts[-1] + seq_len < length:
        starts.append(length - seq_len)
    plan, covered = [], 0
    for start in starts:
        plan.append((start, covered - start))
        covered = start + seq_len
    return plan


def token_probabilities(model, stream: np.ndarray, seq_len: int, batch_windows: int = 256) -> np.ndarray:
    """p(stream[i] | the tokens before it, up to seq_len of them) for i = 1..len(stream)-1 (float64)."""
    stream = np.asarray(stream, np.int32)
    inputs, targets = stream[:-1], stream[1:]
    width = min(seq_len, len(targets))
    plan = window_plan(len(targets), seq_len)
    out = np.empty(len(targets), np.float64)
    for first in range(0, len(plan), batch_windows):
        chunk = plan[first:first + batch_windows]
        x = np.stack([inputs[s:s + width] for s, _ in chunk])
        probs = np.asarray(model(x, training=False))  # [windows, width, vocab]
        for row, (start, skip) in enumerate(chunk):
            positions = np.arange(skip, width)
            out[start + skip:start + width] = probs[row, positions, targets[start + skip:start + width]]
    return out


def bits(probabilities: np.ndarray) -> float:
    """Mean cross-entropy in bits; a probability of 0 (a model that rules out what happened)
    counts as 1e-12 so one impossible token does not make the score infinite."""
    return float(-np.mean(np.log2(np.maximum(probabilities, 1e-12))))


def lm_scores(probabilities: np.ndarray) -> dict:
    """bits_per_token (at the character level: bits per character), perplexity, tokens scored."""
    b = bits(probabilities)
    return {"bits_per_token": b, "perplexity": float(2.0 ** b), "tokens": int(len(probabilities))}
