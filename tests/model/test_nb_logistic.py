"""nb_logistic (NBSVM's features, logistic regression): its sparse bag is MultiHot's, its ratios
follow the formula, the Keras model gives scikit-learn's probabilities, it reads only the
training split, and it trains through the one training loop like every body."""
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from rnnops.models import nb_logistic
from rnnops.models.bodies import DatasetSpec, build_model
from rnnops.models.keras_io import load_keras_model
from rnnops.models.layers import MultiHot
from rnnops.params.architectures import NBLogisticParams
from rnnops.training.fit import fit_model
from tests.model.test_training import synthetic, train_params


def padded(seed=0, n=60, vocab=40, max_len=12):
    rng = np.random.default_rng(seed)
    x = np.zeros((n, max_len), np.int32)
    for i in range(n):
        length = int(rng.integers(0, max_len + 1))  # some rows all padding
        start = int(rng.integers(0, max_len - length + 1))  # padding before, after, both sides
        x[i, start:start + length] = rng.integers(1, vocab, size=length)
    return x


@pytest.mark.parametrize("buckets", [0, 97])
def test_the_sparse_bag_is_multihots_output(buckets):
    x = padded()
    dense = np.asarray(MultiHot(40, buckets)(x))
    assert np.array_equal(nb_logistic.bag_matrix(x, 40, buckets).toarray(), dense)


def test_log_count_ratios_follow_the_formula():
    x = np.array([[2, 3, 0], [2, 0, 0], [3, 4, 0]], np.int32)  # tokens 2, 3 in class 1; 3, 4 in class 0
    y = np.array([1, 1, 0])
    bag = nb_logistic.bag_matrix(x, 5, 0)
    r = nb_logistic.log_count_ratios(bag, y, 2, alpha=1.0)
    p = 1 + np.array([0, 0, 2, 1, 0.0])  # class 1 document counts of ids 0..4
    q = 1 + np.array([0, 0, 0, 1, 1.0])
    assert r.shape == (5, 1)
    np.testing.assert_allclose(r[:, 0], np.log(p / p.sum()) - np.log(q / q.sum()))
    three = nb_logistic.log_count_ratios(bag, np.array([0, 1, 2]), 3, alpha=0.5)
    assert three.shape == (5, 3)  # each class against the rest


def test_the_keras_model_gives_scikit_learns_probabilities(tmp_path):
    x, y = synthetic(n=200, vocab=50, max_len=20)
    p = NBLogisticParams(bigram_buckets=64, C=0.5)
    model = build_model("nb_logistic", p, DatasetSpec(50, 2, 20))
    nb_logistic.fit(model, p, x, y, 2, seed=3)
    bag = nb_logistic.bag_matrix(x, 50, 64)
    r = nb_logistic.log_count_ratios(bag, y, 2, 1.0)[:, 0]
    expected = LogisticRegression(C=0.5, solver="liblinear", random_state=3).fit(bag.multiply(r).tocsr(), y)
    ours = np.asarray(model(x))[:, 0]
    np.testing.assert_allclose(ours, expected.predict_proba(bag.multiply(r).tocsr())[:, 1], atol=1e-5)
    path = tmp_path / "model.keras"
    model.save(path)
    np.testing.assert_array_equal(np.asarray(load_keras_model(path)(x)), np.asarray(model(x)))


def test_it_trains_through_the_training_loop_on_the_training_split_only():
    x, y = synthetic(n=300, vocab=50, max_len=20)
    arrays = {"train": (x[:200], y[:200]), "val": (x[200:250], y[200:250]), "test": (x[250:], y[250:])}
    p = NBLogisticParams(bigram_buckets=0)
    result = fit_model("nb_logistic", p, train_params(), DatasetSpec(50, 2, 20), arrays, 5, verbose=0)
    assert result.best_epoch == 1 and list(result.history.columns) == [
        "epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert result.metrics["val"]["accuracy"] == result.history["val_accuracy"][0] == 1.0  # token 7 decides
    assert result.predictions["test"].shape == (50, 2) and result.metrics["test"]["accuracy"] == 1.0
    flipped = {**arrays, "val": (x[200:250], 1 - y[200:250]), "test": (x[250:], 1 - y[250:])}
    again = fit_model("nb_logistic", p, train_params(), DatasetSpec(50, 2, 20), flipped, 5, verbose=0)
    for a, b in zip(result.model.get_weights(), again.model.get_weights()):  # val/test labels unread
        np.testing.assert_array_equal(a, b)
    assert again.metrics["test"]["accuracy"] == 0.0


def test_more_classes_get_one_regression_each_under_a_softmax():
    rng = np.random.default_rng(1)
    y = np.arange(90) % 3
    x = rng.integers(5, 30, size=(90, 10)).astype(np.int32)
    x[:, 0] = y + 1  # ids 1..3 name the class
    p = NBLogisticParams(bigram_buckets=0)
    model = build_model("nb_logistic", p, DatasetSpec(30, 3, 10))
    nb_logistic.fit(model, p, x, y, 3, seed=0)
    proba = np.asarray(model(x))
    assert model.layers[-1].get_weights()[0].shape == (30, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert (proba.argmax(axis=1) == y).all()


def test_a_hidden_layer_is_refused():
    with pytest.raises(ValueError, match="nb_logistic is a linear model: dense_units must be 0"):
        NBLogisticParams(dense_units=16)
