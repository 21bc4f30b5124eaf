"""Regression baselines: exact agreement with scikit-learn fitted directly; JSON round trips
(json.dumps/json.loads) predict the same; out-of-fold predictions never see their own fold."""
import json

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline

from rnnops.tasks.regression.baselines import Peer, fit_peer, out_of_fold
from rnnops.tasks.regression.params import RegressionBaselines

OPTS = RegressionBaselines(models=["mean", "ridge", "gradient_boosting"], ridge_alpha=0.7,
                           tfidf_max_features=100, boosting_max_iter=30)
SEED = 7


def _json(peer: Peer) -> Peer:
    return Peer.from_json(json.loads(json.dumps(peer.to_json())))


@pytest.fixture(scope="module")
def diabetes():
    x, y = load_diabetes(return_X_y=True)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x[:300], y[:300], x[300:], y[300:]


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(0)
    good, bad = ["great", "superb", "lovely", "moving"], ["awful", "boring", "dull", "terrible"]
    filler = ["film", "plot", "actors", "scene", "story", "music", "ending", "camera"]
    texts, y = [], []
    for _ in range(70):
        g, b = int(rng.integers(0, 3)), int(rng.integers(0, 3))
        words = list(rng.choice(good, g)) + list(rng.choice(bad, b)) + list(rng.choice(filler, 4))
        rng.shuffle(words)
        texts.append(("The " if rng.random() < 0.5 else "") + " ".join(words) + ".")
        y.append(5.0 + 2.0 * g - 1.5 * b + rng.normal(0, 0.3))
    return texts[:60], np.array(y[:60]), texts[60:] + ["an unseen superb zebra", "nothing known here"]


def _tfidf():
    return TfidfVectorizer(ngram_range=(1, 2), max_features=OPTS.tfidf_max_features, lowercase=True,
                           sublinear_tf=True, dtype=np.float64)


def test_mean(diabetes):
    x, y, xt, _ = diabetes
    peer = fit_peer("mean", OPTS, x, None, y, SEED)
    assert peer.kind == "tabular"
    for p in (peer, _json(peer)):
        np.testing.assert_array_equal(p.predict(xt, None), np.full(len(xt), y.mean()))
    text_peer = fit_peer("mean", OPTS, None, ["a text", "another"], np.array([1.0, 4.0]), SEED)
    np.testing.assert_array_equal(_json(text_peer).predict(None, ["x", "y", "z"]), [2.5, 2.5, 2.5])


def test_tabular_ridge_equals_sklearn(diabetes):
    x, y, xt, _ = diabetes
    expected = Ridge(alpha=OPTS.ridge_alpha).fit(x, y).predict(xt)
    peer = fit_peer("ridge", OPTS, x, None, y, SEED)
    for p in (peer, _json(peer)):
        out = p.predict(xt, None)
        assert out.dtype == np.float64 and out.shape == (len(xt),)
        np.testing.assert_allclose(out, expected, rtol=1e-10)


def test_gradient_boosting_round_trip_equals_sklearn(diabetes):
    x, y, xt, _ = diabetes
    direct = HistGradientBoostingRegressor(max_iter=OPTS.boosting_max_iter, random_state=SEED,
                                           early_stopping=False).fit(x, y)
    peer = fit_peer("gradient_boosting", OPTS, x, None, y, SEED)
    np.testing.assert_allclose(peer.predict(xt, None), direct.predict(xt), rtol=1e-10)
    for p in (Peer.from_json(peer.to_json()), _json(peer)):
        np.testing.assert_allclose(p.predict(xt, None), direct.predict(xt), rtol=1e-10)
        first = p._cache
        np.testing.assert_allclose(p.predict(x[:5], None), direct.predict(x[:5]), rtol=1e-10)
        assert p._cache is first  # refitted once, then reused


def test_text_ridge_equals_sklearn_pipeline(corpus):
    texts, y, unseen = corpus
    pipe = make_pipeline(_tfidf(), Ridge(alpha=OPTS.ridge_alpha)).fit(texts, y)
    peer = fit_peer("ridge", OPTS, None, texts, y, SEED)
    assert peer.kind == "text"
    assert len(peer.state["vocabulary"]) == OPTS.tfidf_max_features
    for p in (peer, _json(peer)):
        for batch in (texts, unseen):
            np.testing.assert_allclose(p.predict(None, batch), pipe.predict(batch), rtol=1e-9, atol=1e-9)
    # the words carry the signal: a superb review beats an awful one
    a, b = peer.predict(None, ["superb lovely film", "awful boring film"])
    assert a > b


def test_out_of_fold_equals_manual_folds(diabetes, corpus):
    x, y, _, _ = diabetes
    folds = np.arange(len(y)) % 4
    for name in ("mean", "ridge", "gradient_boosting"):
        oof = out_of_fold(name, OPTS, x, None, y, folds, SEED)
        manual = np.empty(len(y))
        for k in range(4):
            tr, te = folds != k, folds == k
            if name == "mean":
                manual[te] = y[tr].mean()
            elif name == "ridge":
                manual[te] = Ridge(alpha=OPTS.ridge_alpha).fit(x[tr], y[tr]).predict(x[te])
            else:
                manual[te] = HistGradientBoostingRegressor(max_iter=OPTS.boosting_max_iter, random_state=SEED,
                                                           early_stopping=False).fit(x[tr], y[tr]).predict(x[te])
        np.testing.assert_allclose(oof, manual, rtol=1e-10)
    texts, ty, _ = corpus
    tfolds = np.array([2, 0, 1] * 20)
    oof = out_of_fold("ridge", OPTS, None, texts, ty, tfolds, SEED)
    manual = np.empty(len(ty))
    for k in (0, 1, 2):
        tr, te = np.flatnonzero(tfolds != k), np.flatnonzero(tfolds == k)
        pipe = make_pipeline(_tfidf(), Ridge(alpha=OPTS.ridge_alpha))
        pipe.fit([texts[i] for i in tr], ty[tr])
        manual[te] = pipe.predict([texts[i] for i in te])
    np.testing.assert_allclose(oof, manual, rtol=1e-9, atol=1e-9)


def test_out_of_fold_never_uses_own_fold():
    n, i = 30, 11
    y = np.arange(n, dtype=np.float64)
    y[i] = 1e9  # a huge outlier: any leak of row i into its own prediction shows
    folds = np.array([5, 1, 3] * 10)  # arbitrary fold ids
    x = np.zeros((n, 2))
    oof = out_of_fold("mean", OPTS, x, None, y, folds, SEED)
    others = folds != folds[i]
    assert oof[i] == y[others].mean()
    assert oof[i] < n  # nowhere near the outlier
    # rows of the other folds do see the outlier through their training rows
    assert np.all(oof[others] > 1e7)


def test_gradient_boosting_refuses_texts(corpus):
    texts, y, _ = corpus
    with pytest.raises(ValueError, match="gradient_boosting needs feature rows.*Fix: remove it"):
        fit_peer("gradient_boosting", OPTS, None, texts, y, SEED)
    with pytest.raises(ValueError, match="gradient_boosting needs feature rows"):
        out_of_fold("gradient_boosting", OPTS, None, texts, y, np.arange(len(y)) % 3, SEED)


def test_to_json_is_plain_json(diabetes, corpus):
    x, y, _, _ = diabetes
    texts, ty, _ = corpus
    peers = [fit_peer(n, OPTS, x, None, y, SEED) for n in ("mean", "ridge", "gradient_boosting")]
    peers.append(fit_peer("ridge", OPTS, None, texts, ty, SEED))
    for peer in peers:
        record = peer.to_json()
        assert set(record) == {"name", "kind", "state"}
        assert json.loads(json.dumps(record)) == record


def test_input_errors(diabetes):
    x, y, _, _ = diabetes
    with pytest.raises(ValueError, match="unknown model"):
        fit_peer("lasso", OPTS, x, None, y, SEED)
    with pytest.raises(ValueError, match="not both or neither"):
        fit_peer("mean", OPTS, x, ["t"] * len(y), y, SEED)
    peer = fit_peer("ridge", OPTS, x, None, y, SEED)
    with pytest.raises(ValueError, match="tabular inputs but got text"):
        peer.predict(None, ["a text"])
    with pytest.raises(ValueError, match="at least 2 folds"):
        out_of_fold("mean", OPTS, x, None, y, np.zeros(len(y)), SEED)
