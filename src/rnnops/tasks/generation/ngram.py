"""Interpolated Kneser-Ney n-gram language model over integer token streams: the classical peer
of the character (or word) level language models.

Token ids: 0 is padding (never in a stream, probability 0), 1..vocab_size-1 are real tokens.
The model is Chen & Goodman's (1998) interpolated Kneser-Ney with one discount per order:

    p_k(w | h) = (max(c_k(h w) - D_k, 0) + D_k * N1+(h .) * p_{k-1}(w | h')) / c_k(h .)

where h' drops the first token of h, c_k is the raw count at the highest order and the
continuation count N1+(. h w) (distinct left neighbours) below it, c_k(h .) sums c_k over w, and
N1+(h .) counts the w with c_k(h w) > 0. p_0 is uniform over ids 1..vocab_size-1; a context with
c_k(h .) = 0 backs off with weight 1. Every p_k is therefore a proper distribution over the real
tokens for any context, including unseen contexts and tokens never seen in training.

Vectorised: an n-gram is one int64 key in base vocab_size (first token most significant), so a
level is a sorted key array with its counts; fitting is np.unique, scoring is np.searchsorted.
"""
from __future__ import annotations

import numpy as np

# D = n1 / (n1 + 2 n2) is kept strictly inside (0, 1): D = 0 (no singletons, e.g. a perfectly
# repeated text) would leave no mass for unseen tokens; D = 1 would make seen n-grams no more
# likely than the lower order says. Within the bounds every level sums to 1.
DISCOUNT_RANGE = (0.01, 0.99)
_ARRAYS = ("keys", "counts", "ctx_keys", "ctx_totals", "ctx_types")  # per level, in save files


def _tokens(stream, vocab_size: int, what: str, lowest: int) -> np.ndarray:
    s = np.asarray(stream)
    if s.ndim != 1:
        raise ValueError(f"{what} must be a 1-D array of token ids, got shape {s.shape}")
    if s.size == 0:
        return s.astype(np.int64)
    if not np.issubdtype(s.dtype, np.integer):
        raise ValueError(f"{what} must hold integer token ids, got dtype {s.dtype}")
    s = s.astype(np.int64, copy=False)
    if s.min() < lowest or s.max() >= vocab_size:
        raise ValueError(f"{what} holds ids outside {lowest}..{vocab_size - 1} (min {s.min()}, "
                         f"max {s.max()}); vocab_size={vocab_size} counts id 0 (padding)")
    return s


def _kgram_keys(s: np.ndarray, order: int, vocab_size: int):
    """For k = 1..order: (k, keys of the k-grams ending at positions k-1..len(s)-1)."""
    keys = s.copy()
    yield 1, keys
    for k in range(2, order + 1):
        # Prepending the token k-1 places earlier turns the (k-1)-gram ending at i into the k-gram.
        keys = s[:max(len(s) - k + 1, 0)] * vocab_size ** (k - 1) + keys[1:]
        yield k, keys


def _find(sorted_keys: np.ndarray, queries: np.ndarray):
    """Index of each query in sorted_keys (clipped) and whether it is there."""
    idx = np.searchsorted(sorted_keys, queries)
    idx = np.minimum(idx, max(len(sorted_keys) - 1, 0))
    found = sorted_keys[idx] == queries if len(sorted_keys) else np.zeros(len(queries), bool)
    return idx, found


class KneserNey:
    """Fitted tables per level k = 1..order (index k-1): sorted k-gram keys with their counts
    (raw at the top, continuation below), and per context (key // vocab_size) c_k(h .), N1+(h .)."""

    def __init__(self, order: int, vocab_size: int, discounts: np.ndarray, levels: list[dict]):
        self.order, self.vocab_size = int(order), int(vocab_size)
        self.discounts = np.asarray(discounts, dtype=np.float64)
        self.levels = levels

    @staticmethod
    def _check_sizes(order: int, vocab_size: int) -> None:
        if order < 1:
            raise ValueError(f"order must be at least 1, got {order}")
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be at least 2 (padding and one token), got {vocab_size}")
        if vocab_size ** order > np.iinfo(np.int64).max:  # Python ints: exact, no wrap-around
            raise ValueError(f"an order-{order} n-gram over vocab_size {vocab_size} does not fit an "
                             f"int64 key ({vocab_size}**{order} > 2**63-1): lower the order")

    @classmethod
    def fit(cls, stream: np.ndarray, order: int, vocab_size: int) -> "KneserNey":
        cls._check_sizes(order, vocab_size)
        s = _tokens(stream, vocab_size, "the training stream", lowest=1)
        # Distinct k-grams with raw counts; the level below the top needs only the types.
        grams = {k: np.unique(keys, return_counts=True)
                 for k, keys in _kgram_keys(s, order, vocab_size) if k > 1 or order == 1}
        discounts, levels = [], []
        for k in range(1, order + 1):
            if k == order:
                keys, counts = grams[k]
            else:  # continuation count: how many distinct tokens precede the k-gram
                keys, counts = np.unique(grams[k + 1][0] % vocab_size ** k, return_counts=True)
            n1, n2 = np.count_nonzero(counts == 1), np.count_nonzero(counts == 2)
            discounts.append(float(np.clip(n1 / (n1 + 2 * n2) if n1 else 0.0, *DISCOUNT_RANGE)))
            # keys are sorted, so their contexts (all but the last token) come in runs.
            ctx = keys // vocab_size
            starts = np.flatnonzero(np.r_[True, ctx[1:] != ctx[:-1]]) if len(ctx) else ctx
            levels.append({"keys": keys.astype(np.int64), "counts": counts.astype(np.int64),
                           "ctx_keys": ctx[starts],
                           "ctx_totals": np.add.reduceat(counts, starts).astype(np.int64)
                           if len(ctx) else np.zeros(0, np.int64),
                           "ctx_types": np.diff(np.r_[starts, len(ctx)]).astype(np.int64)})
        return cls(order, vocab_size, np.array(discounts), levels)

    def _lookup(self, k: int, keys: np.ndarray):
        """c_k(key), c_k(h .) and N1+(h .) of k-gram keys (h = key // vocab_size); 0 where unseen."""
        lv = self.levels[k - 1]
        # Searching in sorted order is cache-friendly (~5x faster on a million queries); the
        # contexts of sorted keys are sorted too.
        order = np.argsort(keys)
        sorted_keys = keys[order]
        found_values = []
        for queries, table, columns in ((sorted_keys, lv["keys"], ("counts",)),
                                        (sorted_keys // self.vocab_size, lv["ctx_keys"],
                                         ("ctx_totals", "ctx_types"))):
            idx, found = _find(table, queries)
            found_values += [np.where(found, lv[column][idx], 0) if len(table) else
                             np.zeros(len(keys), np.int64) for column in columns]
        out = [np.empty(len(keys), np.int64) for _ in found_values]
        for result, values in zip(out, found_values):
            result[order] = values  # back to stream order
        return out

    def token_probabilities(self, stream: np.ndarray) -> np.ndarray:
        """p(stream[i] | up to order-1 preceding tokens of stream) for i = 1..len(stream)-1 (float64, len n-1).
        Near the start the context is shorter (whatever precedes i)."""
        s = _tokens(stream, self.vocab_size, "the scored stream", lowest=0)
        if len(s) < 2:
            return np.zeros(0)
        # p[i-1] holds p_k(s[i] | ...) for the highest level k reached so far; level 0 is uniform.
        p = np.where(s[1:] > 0, 1.0 / (self.vocab_size - 1), 0.0)
        for k, keys in _kgram_keys(s, self.order, self.vocab_size):
            # keys[j] ends at position j+k-1; position 0 is never a target. A position with fewer
            # than k-1 tokens before it stops at a lower level, the same as distribution() does.
            keys, part = (keys[1:], p) if k == 1 else (keys, p[k - 2:])
            d = self.discounts[k - 1]
            count, total, types = self._lookup(k, keys)
            mixed = (np.maximum(count - d, 0.0) + d * types * part) / np.maximum(total, 1)
            part[:] = np.where(total > 0, mixed, part)  # unseen context: the lower level, whole
        return p

    def distribution(self, context) -> np.ndarray:
        """float64 [vocab_size]: the next-token distribution after `context` (a sequence of ids, only its
        last order-1 used); entry 0 is 0; sums to 1."""
        ctx = _tokens(context, self.vocab_size, "the context", lowest=0)
        ctx = ctx[len(ctx) - min(len(ctx), self.order - 1):]
        V = self.vocab_size
        p = np.full(V, 1.0 / (V - 1))
        p[0] = 0.0
        for k in range(1, len(ctx) + 2):
            h = 0  # key of the last k-1 context tokens, as a Python int (exact, below V**order)
            for token in ctx[len(ctx) - (k - 1):]:
                h = h * V + int(token)
            # h*V is a k-gram key whose context is h (its last token, padding, is never seen).
            total, types = (int(a[0]) for a in self._lookup(k, np.array([h * V], np.int64))[1:])
            if total == 0:
                continue
            lv, d = self.levels[k - 1], self.discounts[k - 1]
            # The k-grams "h w" are the keys in [h*V, h*V + V): one slice of the sorted keys.
            lo, hi = np.searchsorted(lv["keys"], [h * V, h * V + V])
            mixed = d * types * p
            mixed[lv["keys"][lo:hi] % V] += np.maximum(lv["counts"][lo:hi] - d, 0.0)
            p = mixed / total  # same arithmetic as token_probabilities, so the same floats
        return p

    def save(self, path) -> None:
        """A .npz (np.savez, no pickle; numpy adds .npz to a path without it)."""
        arrays = {f"{name}_{k}": lv[name] for k, lv in enumerate(self.levels, start=1) for name in _ARRAYS}
        np.savez(path, order=np.int64(self.order), vocab_size=np.int64(self.vocab_size),
                 discounts=self.discounts, **arrays)

    @classmethod
    def load(cls, path) -> "KneserNey":
        with np.load(path, allow_pickle=False) as data:
            order, vocab_size = int(data["order"]), int(data["vocab_size"])
            levels = [{name: data[f"{name}_{k}"] for name in _ARRAYS} for k in range(1, order + 1)]
            return cls(order, vocab_size, data["discounts"], levels)


def bits_per_token(probabilities: np.ndarray) -> float:
    """-mean(log2 p): the cross-entropy in bits (inf when a token got probability 0)."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.size == 0:
        raise ValueError("bits_per_token needs at least one probability")
    with np.errstate(divide="ignore"):
        return float(-np.mean(np.log2(p)))


def choose_order(train: np.ndarray, val: np.ndarray, orders: list[int], vocab_size: int
                 ) -> tuple[int, dict[int, float]]:
    """Fit each order on train, score val in bits per token: (the best order, {order: bits});
    ties go to the lower order (smaller model, same fit)."""
    if not orders:
        raise ValueError("choose_order needs at least one order")
    bits = {order: bits_per_token(KneserNey.fit(train, order, vocab_size).token_probabilities(val))
            for order in sorted(set(orders))}
    return min(bits, key=lambda order: (bits[order], order)), bits
