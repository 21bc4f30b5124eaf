"""The training loop's optional behaviours: no early stopping / plateau (the last epoch's weights),
a keras.optimizers.schedules schedule stepped over exactly the fit's batches, TensorBoard logs in
MLflow, batch normalisation in the head, and skip_top read the same in prepare and in the model."""
import math

import numpy as np
import pytest

from rnnops.data import vectorize
from rnnops.data.batches import batches_per_epoch, training_dataset
from rnnops.params.architectures import ARCHITECTURES
from rnnops.params.schema import DataParams
from rnnops.training.fit import fit_model
from rnnops.models.bodies import DatasetSpec
from tests.conftest import default_params
from tests.model.test_training import synthetic, train_params


@pytest.mark.parametrize("buckets", [1, 4, 16])
def test_batches_per_epoch_counts_the_bucketed_batches(buckets):
    x, y = synthetic(n=203)
    batches = sum(1 for _ in training_dataset(x, y, 2, batch_size=16, buckets=buckets, seed=0))
    assert batches_per_epoch(x, 16, buckets) == batches


def test_cosine_schedule_without_early_stopping_keeps_every_epoch(tmp_path):
    import mlflow

    x, y = synthetic(n=500)
    arrays = {"train": (x[:300], y[:300]), "val": (x[300:400], y[300:400]), "test": (x[400:], y[400:])}
    train = train_params(epochs=3, batch_size=32, learning_rate=0.01, early_stopping=None, reduce_lr=None,
                         lr_schedule={"type": "cosine_decay", "alpha": 0.1}, tensorboard=True)
    params = ARCHITECTURES["gru"](embedding_dim=8, units=8, dropout=0.0, dense_units=8, batch_norm=True)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = mlflow.create_experiment("options", artifact_location=(tmp_path / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        result = fit_model("gru", params, train, DatasetSpec(50, 2, 30), arrays, 7, verbose=0)
    assert len(result.history) == 3 and result.best_epoch == 3  # no early stopping: the last epoch is kept
    assert result.metrics["val"]["loss"] == pytest.approx(result.history["val_loss"].iloc[-1], abs=1e-4)
    steps = batches_per_epoch(x[:300], 32, train.length_buckets) * 3
    expected = [0.01 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * e / 3))) for e in (1, 2, 3)]
    np.testing.assert_allclose(result.history["learning_rate"], expected, rtol=1e-5)
    assert steps > 3 and expected[-1] == pytest.approx(0.001)  # cosine ends at alpha x rate
    norms = [layer.name for layer in result.model.layers if "norm" in layer.name]
    assert norms == ["head_norm", "hidden_norm"]
    client = mlflow.MlflowClient()
    logged = {f.path for f in client.list_artifacts(run.info.run_id, "tensorboard")}
    assert logged == {"tensorboard/train", "tensorboard/validation"}
    events = client.list_artifacts(run.info.run_id, "tensorboard/train")
    assert len(events) == 1 and events[0].path.split("/")[-1].startswith("events.out.tfevents.")
    assert [m.value for m in client.get_metric_history(run.info.run_id, "learning_rate")] == \
        pytest.approx(expected, rel=1e-5)


def test_exponential_schedule_decays_per_epoch():
    x, y = synthetic(n=300)
    arrays = {"train": (x[:200], y[:200]), "val": (x[200:250], y[200:250]), "test": (x[250:], y[250:])}
    train = train_params(epochs=2, batch_size=64, learning_rate=0.004, reduce_lr=None,
                         early_stopping={"monitor": "val_loss", "patience": 5},
                         lr_schedule={"type": "exponential_decay", "decay_rate": 0.5})
    params = ARCHITECTURES["simple_rnn"](embedding_dim=4, units=4)
    result = fit_model("simple_rnn", params, train, DatasetSpec(50, 2, 30), arrays, 3, verbose=0)
    np.testing.assert_allclose(result.history["learning_rate"], [0.002, 0.001], rtol=1e-5)


def test_skip_top_is_read_the_same_by_prepare_and_the_text_model():
    from rnnops.models.text_model import TextToIds

    data = DataParams.model_validate({**default_params()["data"], "max_len": 8, "skip_top": 2})
    texts = np.array(["the film the end", "a film is a film", "the unknown zyx"], dtype=object)
    tokens = vectorize.tokenize(texts, data)
    vocab = vectorize.build_vocabulary(tokens, vocab_size=8)
    assert vocab[:2] == ["film", "the"]  # most frequent first (ties by token)
    ids = vectorize.lookup(tokens, vocab)
    flat = vectorize.skip_most_frequent(ids.flat_values.numpy(), data.skip_top)
    expected = vectorize.pad_ragged(flat, ids.row_lengths().numpy(), 8, "post", "post")
    assert expected[0].tolist() == [1, 1, 1, vocab.index("end") + 2, 0, 0, 0, 0]  # the, film, the -> OOV
    layer = TextToIds(vocab, 8, "post", "post", True, True, True, skip_top=2)
    np.testing.assert_array_equal(layer(texts).numpy(), expected)
    assert layer.get_config()["skip_top"] == 2 and "skip_top" not in TextToIds(vocab, 8, "post", "post",
                                                                                True, True, True).get_config()
