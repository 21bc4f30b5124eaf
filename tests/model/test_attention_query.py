"""lstm_attention's `query` option: the query-free scorer (none, the default) versus Bahdanau
attention whose query is the LSTM's state after the last real token (final_state)."""
import keras
import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from rnnops.errors import ParamsError
from rnnops.models.bodies import DatasetSpec, build_model
from rnnops.models.keras_io import load_keras_model
from rnnops.models.layers import LSTM, AdditiveAttentionPooling
from rnnops.params.architectures import AttentionParams
from rnnops.params.load import load_params
from rnnops.params.schema import TrainParams
from rnnops.training.fit import compile_model, set_determinism
from tests.conftest import default_params

SPEC = DatasetSpec(vocab_size=60, num_classes=2, max_len=40)
LENGTHS = [9, 4, 1, 7]


def small(query: str) -> AttentionParams:
    return AttentionParams(embedding_dim=8, units=8, attention_units=6, dropout=0.0, query=query)


def batch(padding: str = "post", width: int = 12) -> np.ndarray:
    rng = np.random.default_rng(3)
    x = np.zeros((len(LENGTHS), width), np.int32)
    for i, n in enumerate(LENGTHS):
        tokens = rng.integers(2, 60, size=n)
        if padding == "post":
            x[i, :n] = tokens
        else:
            x[i, width - n:] = tokens
    return x


def model_for(query: str, seed: int = 0):
    set_determinism(seed)
    model = build_model("lstm_attention", small(query), SPEC)
    compile_model(model, SPEC, TrainParams.model_validate(default_params()["train"]))
    return model


def attention_parts(model, x: np.ndarray):
    """(unnormalised scores, weights) [batch, time] of the model's attention layer for ids x."""
    layer = model.get_layer("attention")
    lstm = next(l for l in model.layers if isinstance(l, LSTM))
    outputs = keras.Model(model.inputs, lstm.output)([x])  # states, or [states, final h, final c]
    inputs = outputs if layer.query == "none" else outputs[:2]
    mask = x != 0
    return np.asarray(layer.scores(inputs, mask)), np.asarray(layer.attention_weights(inputs, mask))


def test_final_state_query_builds_trains_and_reloads_identically(tmp_path):
    model = model_for("final_state")
    layer = model.get_layer("attention")
    assert layer.query == "final_state" and layer.get_config()["query"] == "final_state"
    assert [w.name for w in layer.weights] == ["W", "b", "v", "U"]
    x, y = batch(), np.array([[1], [0], [1], [0]], "float32")
    before = [np.array(w) for w in layer.weights]
    logs = model.train_on_batch(x, y, return_dict=True)
    assert np.isfinite(logs["loss"])
    assert any(not np.array_equal(b, np.array(w)) for b, w in zip(before, layer.weights))  # U, W... learn
    out = model.predict(x, verbose=0)
    assert out.shape == (4, 1) and np.all((out > 0) & (out < 1))

    path = tmp_path / "lstm_attention_query.keras"
    model.save(path)
    reloaded = load_keras_model(path)  # safe_mode=True
    assert reloaded.get_layer("attention").query == "final_state"
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), out)


@pytest.mark.parametrize("query", ["none", "final_state"])
def test_attention_weights_sum_to_one_over_real_tokens_and_ignore_padding(query):
    model = model_for(query)
    post = batch("post")
    pre = batch("pre")
    scores, weights = attention_parts(model, post)
    assert np.all(weights[post == 0] == 0)
    assert np.all(weights[post != 0] > 0)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    assert np.all(scores[post == 0] == -1e9)

    # The same texts padded before, or with more padding: the same weights on the same tokens and
    # the same prediction (the final state is the state after the last real token either way).
    _, pre_weights = attention_parts(model, pre)
    wider = np.pad(post, ((0, 0), (0, 10)))
    _, wide_weights = attention_parts(model, wider)
    for i, n in enumerate(LENGTHS):
        np.testing.assert_allclose(pre_weights[i, -n:], weights[i, :n], atol=1e-6)
        np.testing.assert_allclose(wide_weights[i, :n], weights[i, :n], atol=1e-6)
    if query == "final_state":  # the query is the state after each row's last real token
        lstm = next(l for l in model.layers if isinstance(l, LSTM))
        for x, last in ((post, [n - 1 for n in LENGTHS]), (pre, [post.shape[1] - 1] * len(LENGTHS))):
            states, final, _ = (np.asarray(t) for t in keras.Model(model.inputs, lstm.output)([x]))
            np.testing.assert_allclose(final, states[np.arange(len(LENGTHS)), last], atol=1e-6)
    out = model.predict(post, verbose=0)
    np.testing.assert_allclose(model.predict(pre, verbose=0), out, atol=1e-5)
    np.testing.assert_allclose(model.predict(wider, verbose=0), out, atol=1e-5)

    # No tokens at all: finite, a probability.
    blank = model.predict(np.zeros((2, 6), np.int32), verbose=0)
    assert np.all(np.isfinite(blank)) and np.all((blank >= 0) & (blank <= 1))


def scaled(model):
    """The model with its embedding and attention weights drawn at unit scale: at Keras' small
    initial scale tanh is nearly linear, so the query's term v . tanh(.. + U q) is almost the same
    shift for every step and barely moves the softmax; trained scorers leave that regime."""
    rng = np.random.default_rng(7)
    for name in ("embedding", "attention"):
        layer = model.get_layer(name)
        layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()])
    return model


def test_the_query_makes_earlier_weights_depend_on_the_final_token():
    x = np.array([[5, 9, 14, 22, 31, 0, 0], [5, 9, 14, 22, 47, 0, 0]], np.int32)  # only the last token differs
    earlier = slice(0, 4)

    scores, weights = attention_parts(scaled(model_for("none")), x)
    # Query-free: a step's score reads only its own (causal) LSTM output, blind to a later token;
    # only the normalisation moves.
    np.testing.assert_allclose(scores[0, earlier], scores[1, earlier], atol=1e-6)
    relative = weights[:, earlier] / weights[:, earlier].sum(axis=1, keepdims=True)
    np.testing.assert_allclose(relative[0], relative[1], atol=1e-6)

    scores, weights = attention_parts(scaled(model_for("final_state")), x)
    # With the final state as query, every step's score changes with the last token, and so does
    # the way attention is shared among the earlier steps.
    assert np.all(np.abs(scores[0, earlier] - scores[1, earlier]) > 1e-6)
    relative = weights[:, earlier] / weights[:, earlier].sum(axis=1, keepdims=True)
    assert np.abs(relative[0] - relative[1]).max() > 1e-3


def test_default_params_give_the_old_layer_and_old_configs_load():
    assert AttentionParams().query == "none"
    assert default_params()["models"]["lstm_attention"].get("query") is None  # params.yaml unchanged
    model = model_for("none")
    layer = model.get_layer("attention")
    config = layer.get_config()
    assert "query" not in config  # exactly the config (and file) written before the option existed
    assert set(config) == {"name", "trainable", "dtype", "units"} and config["units"] == 6
    assert [w.name for w in layer.weights] == ["W", "b", "v"]

    old = AdditiveAttentionPooling.from_config({"name": "attention", "units": 6})  # an old config
    assert old.query == "none"
    states = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    old.build(states.shape)
    old.set_weights(layer.get_weights())
    np.testing.assert_array_equal(np.asarray(old(states, mask=mask)), np.asarray(layer(states, mask=mask)))


def test_query_values_are_checked(tmp_path):
    with pytest.raises(ValidationError, match="query"):
        AttentionParams(query="bogus")
    with pytest.raises(ValueError, match="query must be one of"):
        AdditiveAttentionPooling(4, query="bogus")
    raw = default_params()
    raw["models"] = {"lstm_attention": {**raw["models"]["lstm_attention"], "query": "bogus"}}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ParamsError, match=r"models\.lstm_attention\.query"):
        load_params(path)
    raw["models"]["lstm_attention"]["query"] = "final_state"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert load_params(path).model("lstm_attention")[1].query == "final_state"
