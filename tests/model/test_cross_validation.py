"""K-fold through the one training loop (rnnops.training.folds) on a small real fit: out-of-fold
predictions come from the fold model that never saw the row, the refit trains for the folds' mean
best epoch on every training row, the fold average is one loadable .keras model."""
import numpy as np
import pytest

from rnnops.models.bodies import DatasetSpec
from rnnops.models.keras_io import load_keras_model, save_keras
from rnnops.params.architectures import DenseParams
from rnnops.tasks.regression.params import RegressionTrainParams
from rnnops.training.fit import predict
from rnnops.training.folds import cross_validate, run_folds
from rnnops.data.splits import training_rows

SPEC = DatasetSpec(vocab_size=0, num_classes=0, max_len=1, features=3, outputs=1)


def scorer(split, y, prediction):
    error = np.asarray(y, np.float64).reshape(-1) - np.asarray(prediction).reshape(-1)
    return {"mae": float(np.abs(error).mean()), "loss": float((error ** 2).mean())}


def data(rows=90, test=20, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows + test, 1, 3)).astype(np.float32)
    y = (x[:, 0] @ np.array([1.0, -2.0, 0.5]) + rng.normal(scale=0.1, size=rows + test)).astype(np.float32)
    return {"train": (x[:70], y[:70]), "val": (x[70:rows], y[70:rows]), "test": (x[rows:], y[rows:])}


def train_params(**overrides):
    return RegressionTrainParams.model_validate({
        "epochs": 6, "batch_size": 16, "optimizer": "adam", "learning_rate": 0.01, "clipnorm": None,
        "early_stopping": {"monitor": "val_loss", "patience": 3},
        "reduce_lr": {"factor": 0.5, "patience": 2, "min_lr": 0.0001}, "folds": 3, **overrides})


def test_out_of_fold_predictions_come_from_the_model_that_never_saw_the_row():
    arrays = data()
    folds, results, oof = run_folds("dense", DenseParams(hidden_units=[8]), train_params(), SPEC, arrays, 1,
                                    scorer, verbose=0, track=False)
    x, _ = training_rows(arrays)
    assert oof.shape == (90, 1) and sorted(np.bincount(folds).tolist()) == [30, 30, 30]
    for k, result in enumerate(results):
        held = folds == k
        np.testing.assert_allclose(oof[held], predict(result.model, x[held], SPEC), rtol=0, atol=1e-6)
        assert result.metrics["val"]["mae"] == pytest.approx(scorer("val", training_rows(arrays)[1][held], oof[held])["mae"])
        assert set(result.predictions) == {"val"}                        # test untouched per fold


def test_refit_trains_the_mean_best_epoch_on_every_training_row():
    result = cross_validate("dense", DenseParams(hidden_units=[8]), train_params(), SPEC, data(), 1, scorer,
                            score_keys=("mae",), verbose=0)
    cv = result.cross_validation
    assert [f["rows"] for f in cv.per_fold] == [30, 30, 30] and cv.fold_model == "refit"
    assert result.best_epoch == round(np.mean([f["best_epoch"] for f in cv.per_fold]))
    assert result.predictions["val"].shape == (90, 1) and result.predictions["test"].shape == (20, 1)
    assert cv.summary["mae"]["mean"] == pytest.approx(np.mean([f["mae"] for f in cv.per_fold]))


def test_the_fold_average_is_one_model_saved_and_loaded_safely(tmp_path):
    params = train_params(fold_model="average")
    arrays = data()
    result = cross_validate("dense", DenseParams(hidden_units=[8]), params, SPEC, arrays, 1, scorer,
                            score_keys=("mae",), verbose=0)
    _, members, _ = run_folds("dense", DenseParams(hidden_units=[8]), params, SPEC, arrays, 1, scorer,
                              verbose=0, track=False)
    expected = np.mean([predict(m.model, arrays["test"][0], SPEC) for m in members], axis=0)
    np.testing.assert_allclose(result.predictions["test"], expected, atol=1e-5)   # same seeds: same folds
    save_keras(result.model, tmp_path / "model.keras")
    loaded = load_keras_model(tmp_path / "model.keras")
    np.testing.assert_allclose(predict(loaded, arrays["test"][0], SPEC), result.predictions["test"], atol=1e-6)
