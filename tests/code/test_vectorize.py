"""Tokenization: standardization, train-only vocabulary, OOV, truncation and padding sides."""
import numpy as np
import pytest

from rnnops.data import vectorize
from rnnops.params.schema import DataParams
from tests.conftest import default_params


def params(**overrides):
    return DataParams.model_validate({**default_params()["data"], **overrides})


def tokens(texts, **overrides):
    return [[t.decode() for t in row] for row in vectorize.tokenize(np.array(texts, dtype=object), params(**overrides)).to_list()]


def test_standardization_lowercases_strips_html_and_punctuation():
    assert tokens(["Great film!<br /><br />I LOVED it, didn't you?", "ÉCOLE Ünïcode"]) == [
        ["great", "film", "i", "loved", "it", "didnt", "you"], ["école", "ünïcode"]]
    assert tokens(["Keep <b>Case</b>!"], lowercase=False, strip_html=False, strip_punctuation=False) \
        == [["Keep", "<b>Case</b>!"]]


def test_vocabulary_from_train_only_by_frequency_then_token():
    train = vectorize.tokenize(np.array(["b a a c", "b a d"], dtype=object), params())
    vocab = vectorize.build_vocabulary(train, vocab_size=5)
    assert vocab == ["a", "b", "c"]  # 3 = 5 - padding - OOV; ties (c, d) broken by token
    test = vectorize.tokenize(np.array(["a zebra d"], dtype=object), params())
    ids = vectorize.lookup(test, vocab).to_list()
    assert ids == [[2, vectorize.OOV_ID, vectorize.OOV_ID]]  # never 0: 0 is padding only


@pytest.mark.parametrize("truncation, padding, expected", [
    ("post", "post", [[1, 2, 3], [4, 0, 0], [0, 0, 0]]),
    ("pre", "post", [[2, 3, 9], [4, 0, 0], [0, 0, 0]]),
    ("post", "pre", [[1, 2, 3], [0, 0, 4], [0, 0, 0]]),
    ("pre", "pre", [[2, 3, 9], [0, 0, 4], [0, 0, 0]]),
])
def test_pad_ragged_sides(truncation, padding, expected):
    flat = np.array([1, 2, 3, 9, 4])
    out = vectorize.pad_ragged(flat, np.array([4, 1, 0]), 3, truncation, padding)
    assert out.dtype == np.int32 and out.tolist() == expected
