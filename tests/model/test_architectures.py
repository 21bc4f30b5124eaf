"""Every registered architecture: builds for binary and multi-class data, trains a step, outputs
probabilities, survives a safe_mode save/reload, ignores padding (masking works), and gives finite
probabilities for a text without tokens ("", "   ", all padding)."""
import numpy as np
import pytest

from rnnops.models.bodies import DatasetSpec, build_model
from rnnops.tasks import TASKS
from rnnops.params.architectures import ARCHITECTURES
from rnnops.params.schema import TrainParams
from rnnops.data.batches import as_class_probabilities
from rnnops.models.keras_io import load_keras_model
from rnnops.models.text_model import text_model
from rnnops.training.fit import compile_model, set_determinism
from tests.conftest import default_params

TEXT_SPEC = {"max_len": 40, "truncation": "post", "padding": "post", "lowercase": True,
             "strip_html": True, "strip_punctuation": True}
VOCABULARY = [f"w{i}" for i in range(2, 60)]  # ids 2..59; 0 is padding, 1 out-of-vocabulary
SMALL = {"embedding_dim": 8, "units": 8, "attention_units": 4, "heads": 2, "ff_dim": 8,
         "hidden_units": [8, 4], "dense_units": 4, "bigram_buckets": 16}


def small_params(name):
    fields = ARCHITECTURES[name].model_fields
    values = {k: v for k, v in SMALL.items() if k in fields}
    if name == "stacked_lstm":
        values["units"] = [8, 4]
    if name == "nb_logistic":  # a linear model: no hidden Dense
        values.pop("dense_units")
    return ARCHITECTURES[name](**values)


# Every body with a softmax head; the sigmoid head (two classes) is the same _head code for
# every body, so it is checked on one body of each kind of pooling.
CASES = [(name, 4) for name in sorted(TASKS["text_classification"].bodies)] + \
    [(name, 2) for name in ("lstm", "bigru", "lstm_attention", "transformer", "multihot_dense")]


@pytest.mark.parametrize("name,num_classes", CASES)
def test_architecture_contract(name, num_classes, tmp_path):
    set_determinism(0)
    spec = DatasetSpec(vocab_size=60, num_classes=num_classes, max_len=40)
    model = build_model(name, small_params(name), spec)
    compile_model(model, spec, TrainParams.model_validate(default_params()["train"]))
    rng = np.random.default_rng(0)
    x = np.zeros((6, 20), dtype=np.int32)
    lengths = [20, 15, 9, 3, 1, 12]
    for i, n in enumerate(lengths):
        x[i, :n] = rng.integers(1, 60, size=n)
    y = (np.arange(6) % num_classes).astype("float32" if num_classes == 2 else "int32")
    logs = model.train_on_batch(x, y.reshape(-1, 1) if num_classes == 2 else y, return_dict=True)
    assert np.isfinite(logs["loss"])

    out = model.predict(x, verbose=0)
    assert out.shape == (6, 1 if num_classes == 2 else num_classes)
    proba = as_class_probabilities(out, num_classes)
    assert np.all(proba >= 0) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    if num_classes > 2:
        assert np.allclose(out.sum(axis=1), 1.0, atol=1e-5)  # softmax head

    padded_40 = np.pad(x, ((0, 0), (0, 20)))                                 # more padding after
    pre_padded = np.stack([np.pad(r[r != 0], (40 - n, 0)) for r, n in zip(x, lengths)])  # before
    np.testing.assert_allclose(model.predict(padded_40, verbose=0), out, atol=1e-5)
    np.testing.assert_allclose(model.predict(pre_padded, verbose=0), out, atol=1e-5)

    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = load_keras_model(path)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), out)

    # No tokens at all: a masked mean or a recurrence over zero real steps must not give NaN.
    blank = as_class_probabilities(model.predict(np.zeros((2, 20), np.int32), verbose=0), num_classes)
    assert np.all(np.isfinite(blank)) and np.allclose(blank.sum(axis=1), 1.0, atol=1e-6)
    texts = np.array(["", "   ", "\t \n", "w2 w3 w7"], dtype=object)
    wrapped = text_model(model, TEXT_SPEC, VOCABULARY)
    text_proba = as_class_probabilities(wrapped.predict(texts, verbose=0), num_classes)
    assert np.all(np.isfinite(text_proba)) and np.allclose(text_proba.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(text_proba[:3], np.repeat(blank[:1], 3, axis=0), atol=1e-6)
    ids = np.pad(np.array([[2, 3, 7]], np.int32), ((0, 0), (0, 37)))
    np.testing.assert_allclose(text_proba[3], as_class_probabilities(model.predict(ids, verbose=0),
                                                                     num_classes)[0], atol=1e-6)


def test_multihot_bag_holds_words_and_hashed_word_pairs():
    from rnnops.models.layers import MultiHot

    bag = MultiHot(10, bigram_buckets=7)(np.array([[3, 4, 9, 0, 0], [0, 0, 3, 4, 9]], dtype="int32"))
    bag = np.asarray(bag)
    pairs = {10 + (3 * 1_000_003 + 4) % 7, 10 + (4 * 1_000_003 + 9) % 7}
    assert set(np.flatnonzero(bag[0])) == {3, 4, 9} | pairs  # no pair with padding, no pad slot
    np.testing.assert_array_equal(bag[0], bag[1])              # padding side plays no part


def test_only_keras_files_are_loaded(tmp_path):
    (tmp_path / "model.h5").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="only .keras model files"):
        load_keras_model(tmp_path / "model.h5")


def test_masked_mean_pooling_equals_keras_average_and_is_zero_without_tokens():
    """The transformer's pooling: GlobalAveragePooling1D's exact result for rows with tokens
    (models trained before the change answer the same), zeros instead of 0/0 for a row without."""
    import keras

    from rnnops.models.layers import MaskedMeanPooling

    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    mask = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], dtype=bool)
    ours = np.asarray(MaskedMeanPooling()(x, mask=mask))
    keras_mean = np.asarray(keras.layers.GlobalAveragePooling1D()(x[:2], mask=mask[:2]))
    np.testing.assert_array_equal(ours[:2], keras_mean)
    np.testing.assert_array_equal(ours[2], np.zeros(4, "float32"))
    np.testing.assert_allclose(ours[0], x[0, :2].mean(axis=0), rtol=1e-6)
