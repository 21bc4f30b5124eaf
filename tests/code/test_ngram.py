"""Interpolated Kneser-Ney n-gram model: hand-computed probabilities, a loop-by-loop reference,
proper distributions for any context, scoring == distribution, save/load, order choice, errors."""
from collections import Counter

import numpy as np
import pytest

from rnnops.tasks.generation import ngram
from rnnops.tasks.generation.ngram import KneserNey, bits_per_token, choose_order

V = 6  # ids 0 (padding), 1 (unknown), 2 (end of text), 3, 4, 5


def _reference(stream, order, vocab_size, context):
    """The textbook recursion with plain dicts and loops: the next-token distribution."""
    s = [int(t) for t in stream]

    def grams(k):
        return Counter(tuple(s[i:i + k]) for i in range(len(s) - k + 1))

    def counts(k):  # raw at the top, else N1+(. g): distinct (k+1)-grams ending in g
        return grams(k) if k == order else Counter(g[1:] for g in grams(k + 1))

    def discount(c):
        n1, n2 = sum(v == 1 for v in c.values()), sum(v == 2 for v in c.values())
        return min(max(n1 / (n1 + 2 * n2) if n1 else 0.0, ngram.DISCOUNT_RANGE[0]), ngram.DISCOUNT_RANGE[1])

    def p(k, h, w):
        if k == 0:
            return 1.0 / (vocab_size - 1) if w else 0.0
        c, lower = counts(k), p(k - 1, h[1:], w)
        total = sum(v for g, v in c.items() if g[:-1] == h)
        types = sum(1 for g in c if g[:-1] == h)
        if total == 0:
            return lower
        d = discount(c)
        return (max(c[h + (w,)] - d, 0) + d * types * lower) / total

    h = tuple(int(t) for t in context)[max(len(context) - (order - 1), 0):] if order > 1 else ()
    return np.array([p(len(h) + 1, h, w) for w in range(vocab_size)])


# Order 2 on A = 2 3 4 3 5 2 3 4 2 (the 2 in the middle separates two documents).
#   bigrams: 23 x2, 34 x2, 43, 35, 52, 42 -> counts of counts n1 = 4, n2 = 2: D2 = 4 / (4 + 2*2) = 1/2
#   contexts: "2" total 2, 1 type; "3" total 3, 2 types; "4" total 2, 2 types; "5" total 1, 1 type
#   unigram continuation N1+(. w) over the 6 bigram types: 3 <- {2,4}: 2; 4 <- {3}: 1; 5 <- {3}: 1;
#   2 <- {5,4}: 2; 1: 0. Total 6, 4 types, n1 = 2, n2 = 2: D1 = 2 / (2 + 4) = 1/3
#   p1(w) = max(N(w) - 1/3, 0)/6 + (1/3)*4/6 * 1/5  (the uniform over ids 1..5; 1/3*4/6/5 = 4/90)
#     p1(1) = 4/90; p1(2) = p1(3) = (5/3)/6 + 4/90 = 29/90; p1(4) = p1(5) = (2/3)/6 + 4/90 = 14/90
#   p2(w|h) = (max(c(hw) - 1/2, 0) + 1/2 * types(h) * p1(w)) / total(h)
A = [2, 3, 4, 3, 5, 2, 3, 4, 2]
ORDER2 = [
    ([], 4, 14 / 90),                              # empty context: p1
    ([3], 4, (1.5 + 0.5 * 2 * 14 / 90) / 3),       # = 1/2 + 14/270 = 149/270
    ([3], 1, (0.5 * 2 * 4 / 90) / 3),              # unseen token: 4/270 = 2/135
    ([5], 2, (0.5 + 0.5 * 1 * 29 / 90) / 1),       # = 119/180
    ([5], 3, 0.5 * 29 / 90),                       # = 29/180
    ([1], 3, 29 / 90),                             # unseen context: p1, weight 1
    ([4, 4, 3], 5, (0.5 + 0.5 * 2 * 14 / 90) / 3),  # only the last token counts at order 2
]

# Order 3 on B = 2 3 4 5 3 4 5 3 4.
#   trigrams (raw): 234, 345 x2, 453 x2, 534 x2 -> n1 = 1, n2 = 3: D3 = 1 / (1 + 6) = 1/7
#     contexts: "2 3" total 1, 1 type; "3 4", "4 5", "5 3" total 2, 1 type each
#   bigram continuation N1+(. v w) over trigram types {234, 345, 453, 534}: 34 <- {2,5}: 2;
#     45: 1; 53: 1 -> n1 = 2, n2 = 1: D2 = 2 / (2 + 2) = 1/2
#     contexts: "3" total 2, 1 type; "4" total 1, 1 type; "5" total 1, 1 type; "2" never (23 has
#     no left neighbour: it starts the stream), so it backs off with weight 1
#   unigram continuation over bigram types {23, 34, 45, 53}: 3 <- {2,5}: 2; 4: 1; 5: 1; 2, 1: 0
#     total 4, 3 types, n1 = 2, n2 = 1: D1 = 1/2
#   p1(w) = max(N(w) - 1/2, 0)/4 + (1/2)*3/4 * 1/5:  p1(1) = p1(2) = 3/40; p1(3) = 18/40;
#     p1(4) = p1(5) = 8/40
#   p2(4|3) = (3/2 + 1/2*1*p1(4)) / 2 = 4/5;   p2(5|4) = 1/2 + 1/2*8/40 = 3/5;
#   p2(3|4) = 1/2*18/40 = 9/40;   p2(3|5) = 1/2 + 9/40 = 29/40;   p2(1|4) = 1/2*3/40 = 3/80
#   p3(w|h) = (max(c(hw) - 1/7, 0) + 1/7 * 1 * p2(w|h')) / total(h)
B = [2, 3, 4, 5, 3, 4, 5, 3, 4]
ORDER3 = [
    ([3, 4], 5, (2 - 1 / 7 + 1 / 7 * 3 / 5) / 2),   # = 34/35
    ([3, 4], 3, (1 / 7 * 9 / 40) / 2),              # = 9/560
    ([3, 4], 1, (1 / 7 * 3 / 80) / 2),              # unseen token: 3/1120
    ([2, 3], 4, 1 - 1 / 7 + 1 / 7 * 4 / 5),         # = 34/35
    ([4, 5], 3, (2 - 1 / 7 + 1 / 7 * 29 / 40) / 2),  # = 549/560
    ([1, 3], 4, 4 / 5),                             # unseen "1 3": p2(4|3)
    ([4, 4], 5, 3 / 5),                             # unseen "4 4": p2(5|4)
    ([5, 2], 3, 18 / 40),                           # "5 2" unseen, "2" has no continuation: p1
    ([2], 3, 18 / 40),                              # a short context starts at level 2: "2" -> p1
    ([], 5, 8 / 40),
]


@pytest.mark.parametrize("stream, order, cases", [(A, 2, ORDER2), (B, 3, ORDER3)], ids=["order2", "order3"])
def test_hand_computed_probabilities(stream, order, cases):
    model = KneserNey.fit(np.array(stream), order, V)
    expected_discounts = {2: [1 / 3, 1 / 2], 3: [1 / 2, 1 / 2, 1 / 7]}[order]
    np.testing.assert_allclose(model.discounts, expected_discounts, rtol=1e-12)
    for context, token, p in cases:
        dist = model.distribution(context)
        assert dist[token] == pytest.approx(p, rel=1e-12), (context, token)
        np.testing.assert_allclose(dist, _reference(stream, order, V, context), rtol=1e-12, atol=1e-15)


def test_scores_of_the_hand_example():
    # p(3 | 2) = p1(3) (short context), then p3(4 | 2 3), p3(5 | 3 4), p3(3 | 4 5), ...
    probs = KneserNey.fit(np.array(B), 3, V).token_probabilities(np.array(B))
    np.testing.assert_allclose(probs[:4], [18 / 40, 34 / 35, 34 / 35, 549 / 560], rtol=1e-12)


@pytest.fixture(scope="module")
def random_stream():
    rng = np.random.default_rng(7)
    # ids 1..9 of a vocabulary of 12: ids 10 and 11 never occur in training.
    return np.r_[2, rng.choice(np.arange(1, 10), size=1500, p=np.r_[1, 2, 9, 8, 6, 5, 4, 3, 2] / 40)]


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_distribution_is_proper_for_any_context(order, random_stream):
    model = KneserNey.fit(random_stream, order, 12)
    rng = np.random.default_rng(order)
    contexts = [random_stream[i - n:i] for n in range(7) for i in rng.integers(7, len(random_stream), 15)]
    contexts += [rng.integers(0, 12, n) for n in range(7) for _ in range(15)]  # mostly unseen
    for context in contexts:
        dist = model.distribution(context)
        assert dist.dtype == np.float64 and dist.shape == (12,)
        assert dist[0] == 0.0 and (dist[1:] > 0).all()  # unseen tokens 10 and 11 too
        assert abs(dist.sum() - 1.0) < 1e-12


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_matches_the_loop_reference(order, random_stream):
    train, val = random_stream[:300], random_stream[300:400]
    model = KneserNey.fit(train, order, 12)
    for i in range(1, len(val), 9):
        context = val[max(0, i - 5):i]
        np.testing.assert_allclose(model.distribution(context), _reference(train, order, 12, context),
                                   rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("order", [1, 2, 3, 5, 8])
def test_token_probabilities_equal_distribution(order, random_stream):
    model = KneserNey.fit(random_stream[:1000], order, 12)
    stream = np.r_[2, np.random.default_rng(3).integers(1, 12, 300)]  # unseen n-grams and tokens
    probs = model.token_probabilities(stream)
    assert probs.dtype == np.float64 and probs.shape == (len(stream) - 1,)
    for i in range(1, len(stream)):
        assert probs[i - 1] == model.distribution(stream[max(0, i - order + 1):i])[stream[i]], i


def test_padding_scores_zero_and_bad_ids_are_rejected(random_stream):
    model = KneserNey.fit(random_stream, 3, 12)
    assert model.token_probabilities(np.array([2, 3, 0, 4]))[1] == 0.0
    assert bits_per_token(np.array([0.5, 0.0])) == np.inf
    with pytest.raises(ValueError, match="outside 0..11"):
        model.token_probabilities(np.array([2, 12]))
    with pytest.raises(ValueError, match="outside 1..11"):
        KneserNey.fit(np.array([2, 3, 0, 4]), 2, 12)


def test_word_level_vocabulary():
    rng = np.random.default_rng(0)
    stream = np.r_[2, rng.zipf(1.3, 50_000) % 19_999 + 1]
    model = KneserNey.fit(stream, 3, 20_000)
    assert abs(model.distribution(stream[-2:]).sum() - 1) < 1e-12
    assert bits_per_token(model.token_probabilities(stream[:5000])) < np.log2(19_999)


def test_save_load_round_trip(tmp_path, random_stream):
    model = KneserNey.fit(random_stream, 4, 12)
    model.save(tmp_path / "kn.npz")
    loaded = KneserNey.load(tmp_path / "kn.npz")
    assert (loaded.order, loaded.vocab_size) == (4, 12)
    np.testing.assert_array_equal(loaded.discounts, model.discounts)
    np.testing.assert_array_equal(loaded.token_probabilities(random_stream), model.token_probabilities(random_stream))
    np.testing.assert_array_equal(loaded.distribution([1, 11, 3]), model.distribution([1, 11, 3]))


def test_bits_per_token():
    assert bits_per_token(np.array([0.5, 0.25])) == pytest.approx(1.5)
    with pytest.raises(ValueError):
        bits_per_token(np.array([]))


def test_choose_order_picks_the_lowest_validation_bits():
    # After 3 the next token is 4, 6 or 8; the token before the 3 decides which: order 3 needed.
    pattern = np.array([3, 4, 5, 3, 6, 7, 3, 8, 2])
    rng = np.random.default_rng(0)
    noisy = lambda n: np.where(rng.random(9 * n) < 0.02, rng.integers(3, 9, 9 * n), np.tile(pattern, n))
    train, val = np.r_[2, noisy(300)], np.r_[2, noisy(50)]
    best, bits = choose_order(train, val, [4, 1, 2, 3], vocab_size=10)
    assert sorted(bits) == [1, 2, 3, 4]
    assert best == min(bits, key=bits.get) and best >= 3
    assert bits[1] > bits[2] > bits[3]


def test_choose_order_ties_go_to_the_lower_order(monkeypatch):
    monkeypatch.setattr(ngram, "bits_per_token", lambda p: 1.0)
    stream = np.array([2, 3, 4, 3, 4, 2])
    assert choose_order(stream, stream, [3, 2, 4], vocab_size=5) == (2, {2: 1.0, 3: 1.0, 4: 1.0})


def test_overflowing_keys_are_refused():
    stream = np.array([2, 3, 4, 5])
    with pytest.raises(ValueError, match=r"order-5 n-gram over vocab_size 20000.*lower the order"):
        KneserNey.fit(stream, 5, 20_000)
    with pytest.raises(ValueError, match="lower the order"):
        choose_order(stream, stream, [2, 9], vocab_size=200)
    KneserNey.fit(stream, 8, 200)  # 200**8 < 2**63: fine
