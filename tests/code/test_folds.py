"""K-fold assignment (rnnops.data.splits): folds partition the training rows exactly, stratified
folds keep the class shares, the seed fixes them, and impossible settings are clear errors."""
import numpy as np
import pytest

from rnnops.data.splits import assign_folds, selection_labels, training_rows
from rnnops.errors import DataError
from rnnops.training.folds import fold_arrays, summarise


def test_folds_partition_the_rows_exactly_and_are_seeded():
    folds = assign_folds(np.zeros(103), 4, seed=7, stratified=False)
    assert sorted(np.bincount(folds).tolist()) == [25, 26, 26, 26]     # every row in exactly one fold
    held_out = [set(np.flatnonzero(folds == k)) for k in range(4)]
    assert set().union(*held_out) == set(range(103)) and sum(map(len, held_out)) == 103
    assert np.array_equal(folds, assign_folds(np.zeros(103), 4, seed=7, stratified=False))
    assert not np.array_equal(folds, assign_folds(np.zeros(103), 4, seed=8, stratified=False))
    assert not np.array_equal(folds, np.repeat(np.arange(4), [26, 26, 26, 25]))   # shuffled, not blocks


def test_stratified_folds_keep_each_class_share():
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    folds = assign_folds(y, 5, seed=1, stratified=True)
    for k in range(5):
        assert np.bincount(y[folds == k], minlength=3).tolist() == [12, 6, 2]


def test_fold_arrays_never_train_on_the_held_out_rows():
    x = np.arange(40, dtype=np.float32).reshape(20, 1, 2)
    y = np.arange(20, dtype=np.float32)
    folds = assign_folds(y, 4, seed=3, stratified=False)
    test = (np.zeros((3, 1, 2)), np.zeros(3))
    for k in range(4):
        parts = fold_arrays({"test": test}, x, y, folds, k)
        assert set(parts["val"][1]) == set(y[folds == k])
        assert set(parts["train"][1]).isdisjoint(parts["val"][1])
        assert len(parts["train"][1]) + len(parts["val"][1]) == 20 and parts["test"] is test


def test_training_rows_are_train_then_val_and_select_the_labels():
    arrays = {"train": (np.array([[1], [2]]), np.array([10, 20])), "val": (np.array([[3]]), np.array([30]))}
    x, y = training_rows(arrays)
    assert x.tolist() == [[1], [2], [3]] and y.tolist() == [10, 20, 30]
    assert selection_labels(arrays, 1).tolist() == [30] and selection_labels(arrays, 3).tolist() == [10, 20, 30]


def test_summary_is_mean_and_population_std():
    per_fold = [{"mae": 2.0}, {"mae": 4.0}]
    assert summarise(per_fold, ("mae",)) == {"mae": {"mean": 3.0, "std": 1.0}}


def test_more_folds_than_rows_or_than_a_class_holds_is_an_error():
    with pytest.raises(DataError, match=r"train\.folds is 5 but the prepared data has only 4 training rows.*Fix: lower train\.folds"):
        assign_folds(np.zeros(4), 5, seed=0, stratified=False)
    with pytest.raises(DataError, match=r"a class has only 2 training rows.*Fix: lower train\.folds"):
        assign_folds(np.array([0] * 20 + [1] * 2), 3, seed=0, stratified=True)
