"""The encoder-decoder bodies (rnnops.models.seq2seq): every variant builds with the contract's
inputs and output, trains a step, survives a safe_mode save/reload, gives attention weights that
sum to 1 over the real source tokens (exactly 0 on padding), ignores padding on both sides, and is
causal in target_in (a teacher-forcing leak would let step t see the tokens after it)."""
import keras
import numpy as np
import pytest

import rnnops.models.seq2seq_layers  # noqa: F401 - registers the layers for load_keras_model
from rnnops.models.bodies import BODIES, DatasetSpec, build_model
from rnnops.models.keras_io import load_keras_model, save_keras
from rnnops.models.seq2seq import attention_weights
from rnnops.params.architectures import ARCHITECTURES

SOURCE_V, TARGET_V, S, T = 30, 20, 7, 6
SPEC = DatasetSpec(vocab_size=SOURCE_V, num_classes=TARGET_V, max_len=S, target_len=T)
SMALL = {"embedding_dim": 8, "units": 8, "attention_units": 8}
VARIANTS = {f"{cell}_{attention}": ("seq2seq_rnn", {"cell": cell, "attention": attention, **SMALL})
            for cell in ("lstm", "gru") for attention in ("none", "bahdanau", "luong_dot", "luong_general")}
VARIANTS.update({
    "bilstm_bahdanau": ("seq2seq_rnn", {"bidirectional": True, "attention": "bahdanau", **SMALL}),
    "bigru_2_layers_luong_general": ("seq2seq_rnn", {"cell": "gru", "bidirectional": True, "layers": 2,
                                                     "attention": "luong_general", "dense_units": 8, **SMALL}),
    "lstm_2_layers_luong_dot": ("seq2seq_rnn", {"layers": 2, "attention": "luong_dot", **SMALL}),
    "transformer": ("seq2seq_transformer", {"blocks": 2, "heads": 2, "ff_dim": 16, "embedding_dim": 8}),
})
WITH_ATTENTION = [name for name, (_, p) in VARIANTS.items() if p.get("attention", "x") != "none"]
SOURCE_LENGTHS, TARGET_LENGTHS = [7, 5, 3, 1, 6], [6, 2, 4, 1, 5]  # target: <s> + tokens


def _batch():
    rng = np.random.default_rng(0)
    source = np.zeros((5, S), np.int32)
    target_in = np.zeros((5, T), np.int32)
    target_out = np.zeros((5, T), np.int32)
    for i, (n, m) in enumerate(zip(SOURCE_LENGTHS, TARGET_LENGTHS)):
        source[i, :n] = rng.integers(1, SOURCE_V, n)
        tokens = rng.integers(4, TARGET_V, m - 1)
        target_in[i, :m] = [2, *tokens]
        target_out[i, :m] = [*tokens, 3]
    return source, target_in, target_out


@pytest.fixture(scope="module")
def models():
    cache = {}

    def get(name):
        if name not in cache:
            keras.utils.set_random_seed(0)
            arch, params = VARIANTS[name]
            cache[name] = build_model(arch, ARCHITECTURES[arch].model_validate(params), SPEC)
        return cache[name]
    return get


def _run(model, source, target_in):
    return np.asarray(model([source, target_in], training=False))


def test_registered():
    assert {"seq2seq_rnn", "seq2seq_transformer"} <= set(BODIES)
    with pytest.raises(ValueError, match="target_len"):
        build_model("seq2seq_rnn", ARCHITECTURES["seq2seq_rnn"](), DatasetSpec(30, 20, 7))


@pytest.mark.parametrize("name", list(VARIANTS))
def test_contract_train_save_reload(models, name, tmp_path):
    model = models(name)
    source, target_in, target_out = _batch()
    assert [t.name for t in model.inputs] == ["source", "target_in"]
    assert model.output.name.startswith("next_token") or model.layers[-1].name == "next_token"
    out = _run(model, source, target_in)
    assert out.shape == (5, T, TARGET_V) and out.dtype == np.float32
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, atol=1e-5)

    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", run_eagerly=True)
    before = [np.array(w) for w in model.trainable_weights]
    logs = model.train_on_batch({"source": source, "target_in": target_in}, target_out, return_dict=True)
    assert np.isfinite(logs["loss"])
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert sum(not np.array_equal(b, np.array(w)) for b, w in zip(before, model.trainable_weights)) > len(before) // 2

    path = tmp_path / f"{name}.keras"
    save_keras(model, path)
    reloaded = load_keras_model(path)
    np.testing.assert_array_equal(_run(reloaded, source, target_in), _run(model, source, target_in))
    assert [layer.name for layer in reloaded.layers] == [layer.name for layer in model.layers]


@pytest.mark.parametrize("name", WITH_ATTENTION)
def test_attention_weights_cover_real_source_tokens_only(models, name):
    source, target_in, _ = _batch()
    weights = attention_weights(models(name), source, target_in)
    assert weights.shape == (5, T, S)
    real = source != 0
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-5)
    assert np.all(weights[np.broadcast_to(~real[:, None, :], weights.shape)] == 0.0)  # exactly 0
    assert np.all(weights[np.broadcast_to(real[:, None, :], weights.shape)] > 0.0)


def test_no_attention_weights_without_attention(models):
    source, target_in, _ = _batch()
    assert attention_weights(models("lstm_none"), source, target_in) is None


@pytest.mark.parametrize("name", list(VARIANTS))
def test_padding_invariance(models, name):
    model = models(name)
    source, target_in, _ = _batch()
    out = _run(model, source, target_in)
    more_source = _run(model, np.pad(source, ((0, 0), (0, 4))), target_in)
    np.testing.assert_allclose(more_source, out, atol=1e-6)
    more_target = _run(model, source, np.pad(target_in, ((0, 0), (0, 3))))[:, :T]
    real = target_in != 0  # only real steps are read: padded ones are masked out of the loss
    np.testing.assert_allclose(more_target[real], out[real], atol=1e-6)
    alone = _run(model, source[2:3, :SOURCE_LENGTHS[2]], target_in[2:3, :TARGET_LENGTHS[2]])  # no padding at all
    np.testing.assert_allclose(alone[0], out[2, :TARGET_LENGTHS[2]], atol=1e-6)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_causal_in_target(models, name):
    model = models(name)
    source, _, _ = _batch()
    rng = np.random.default_rng(1)
    target_in = np.concatenate([np.full((5, 1), 2), rng.integers(4, TARGET_V, (5, T - 1))], axis=1).astype(np.int32)
    out = _run(model, source, target_in)
    for t in (0, 2, 4):
        changed = target_in.copy()
        changed[:, t + 1:] = rng.integers(4, TARGET_V, (5, T - t - 1))
        changed[:, t + 1:] = np.where(changed[:, t + 1:] == target_in[:, t + 1:], 3, changed[:, t + 1:])
        other = _run(model, source, changed)
        np.testing.assert_allclose(other[:, :t + 1], out[:, :t + 1], atol=1e-6)
        assert np.abs(other[:, t + 1:] - out[:, t + 1:]).max() > 1e-5  # later steps do read it
