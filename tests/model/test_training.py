"""The training loop and input pipeline: bucketed batches, order-preserving prediction,
end-to-end text model equal to the prepare stage, and seed determinism."""
import numpy as np
import pytest

from rnnops.data import vectorize
from rnnops.models.bodies import DatasetSpec, build_model
from rnnops.params.architectures import ARCHITECTURES
from rnnops.params.schema import DataParams, TrainParams
from rnnops.data.batches import bucket_boundaries, predict_proba, training_dataset
from rnnops.models.keras_io import load_keras_model, save_keras
from rnnops.training.fit import fit_model
from tests.conftest import default_params


def synthetic(n=400, vocab=50, max_len=30, seed=0):
    """Class 1 documents contain token 7; class 0 never do. Lengths vary from 1 to max_len."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, max_len), dtype=np.int32)
    y = (np.arange(n) % 2).astype(np.int32)
    for i in range(n):
        length = rng.integers(1, max_len + 1)
        tokens = rng.integers(8, vocab, size=length)
        if y[i]:
            tokens[rng.integers(0, length)] = 7
        x[i, :length] = tokens
    return x, y


def train_params(**overrides):
    return TrainParams.model_validate({**default_params()["train"], **overrides})


def test_bucketed_batches_are_padded_to_their_own_longest():
    x, y = synthetic()
    ds = training_dataset(x, y, 2, batch_size=32, buckets=4, seed=1)
    widths, labels, tokens = [], [], 0
    for batch_x, batch_y in ds:
        batch_x = batch_x.numpy()
        widths.append(batch_x.shape[1])
        assert (batch_x != 0).sum(axis=1).max() == batch_x.shape[1]  # no all-pad column
        labels += batch_y.numpy().ravel().tolist()
        tokens += int((batch_x != 0).sum())
    assert sorted(labels) == sorted(y.tolist()) and tokens == int((x != 0).sum())
    assert min(widths) < x.shape[1]  # short documents got short batches
    # boundaries at the quartiles of the lengths 1..8 (2.75, 4.5, 6.25): a batch holds lengths < b
    assert bucket_boundaries(np.arange(1, 9), 4) == [3, 5, 7]
    assert bucket_boundaries(np.arange(1, 9), 1) == []


def test_predict_proba_keeps_the_input_order():
    x, _ = synthetic(n=100)
    spec = DatasetSpec(50, 3, 30)
    model = build_model("gru", ARCHITECTURES["gru"](embedding_dim=4, units=4), spec)
    np.testing.assert_allclose(predict_proba(model, x, 3, batch_size=16),
                               model.predict(x, verbose=0), atol=1e-5)


def test_fit_learns_restores_the_best_epoch_and_is_deterministic(tmp_path):
    x, y = synthetic(n=600)
    arrays = {"train": (x[:400], y[:400]), "val": (x[400:500], y[400:500]), "test": (x[500:], y[500:])}
    spec = DatasetSpec(50, 2, 30)
    params = ARCHITECTURES["lstm"](embedding_dim=8, units=8, dropout=0.0)
    train = train_params(epochs=4, batch_size=32, learning_rate=0.01)
    first = fit_model("lstm", params, train, spec, arrays, 123)
    second = fit_model("lstm", params, train, spec, arrays, 123)
    assert first.metrics == second.metrics
    np.testing.assert_array_equal(first.predictions["test"], second.predictions["test"])
    assert first.history.drop(columns="learning_rate").equals(second.history.drop(columns="learning_rate"))
    assert first.metrics["test"]["accuracy"] > 0.8  # token 7 is learnable
    assert list(first.history.columns) == ["epoch", "accuracy", "learning_rate", "loss",
                                           "val_accuracy", "val_loss"]
    assert first.history["epoch"].tolist() == list(range(len(first.history)))
    best = int(first.history["val_loss"].idxmin())
    assert first.best_epoch == best + 1
    # the returned model holds the best epoch's weights (restored in memory), not the last's
    assert first.metrics["val"]["loss"] == pytest.approx(first.history["val_loss"][best], abs=1e-4)
    save_keras(first.model, tmp_path / "model.keras")  # the one write, atomic
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]
    reloaded = load_keras_model(tmp_path / "model.keras")
    assert reloaded.count_params() == first.params_count
    np.testing.assert_array_equal(predict_proba(reloaded, arrays["test"][0], 2), first.predictions["test"])


@pytest.mark.parametrize("truncation, padding", [("post", "post"), ("pre", "pre"), ("pre", "post")])
def test_text_model_tokenizes_exactly_like_prepare(truncation, padding):
    from rnnops.models.text_model import TextToIds

    data = DataParams.model_validate({**default_params()["data"], "max_len": 6,
                                      "truncation": truncation, "padding": padding})
    texts = np.array(["A great film!<br /><br />Loved it, really loved it.", "Awful.", "",
                      "unknown words zyx only", "ÉCOLE café <b>bold</b> end"], dtype=object)
    tokens = vectorize.tokenize(texts, data)
    vocab = vectorize.build_vocabulary(tokens, vocab_size=12)
    ids = vectorize.lookup(tokens, vocab)
    expected = vectorize.pad_ragged(ids.flat_values.numpy(), ids.row_lengths().numpy(), 6,
                                    truncation, padding)
    layer = TextToIds(vocab, 6, truncation, padding, True, True, True)
    np.testing.assert_array_equal(layer(texts).numpy(), expected)
