"""NumPy incremental decoding (rnnops.tasks.generation.decoding) against the Keras models it copies:
the same next-token distributions at every position, the same greedy text as the full-prefix loop,
and the sampling rules (seeds, temperature, top-k, top-p, banned ids, stopping)."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from rnnops.models.bodies import DatasetSpec, build_model
from rnnops.params.architectures import ARCHITECTURES
from rnnops.tasks.generation.decoding import (MixtureStep, Stepper, generate, generate_naive,
                                              sample_next)

V, T = 40, 24  # vocabulary, Transformer positions (and the length compared with Keras)
SPEC = DatasetSpec(vocab_size=V, num_classes=V, max_len=T, sequence=True)
SMALL = {"units": 16, "embedding_dim": 16}
BODIES = {
    "lstm": ("lstm", SMALL),
    "gru_2_layers": ("rnn", {"cell": "gru", "layers": 2, **SMALL}),
    "simple_rnn_one_hot": ("simple_rnn", {"one_hot": True, "units": 16}),
    "stacked_lstm": ("stacked_lstm", {"units": [16, 12], "embedding_dim": 16}),
    "transformer": ("transformer", {"blocks": 2, "embedding_dim": 16, "heads": 2, "ff_dim": 32}),
    "dense_head": ("rnn", {"cell": "simple_rnn", "layers": 2, "dense_units": 32, **SMALL}),
}
RECURRENT = [name for name in BODIES if name != "transformer"]


def _model(arch: str, params: dict, seed: int = 0):
    """Untrained, but with unit-scale embeddings (states far from zero) and a head scaled up, so
    distributions are peaky and greedy choices are clear-cut."""
    keras.utils.set_random_seed(seed)
    model = build_model(arch, ARCHITECTURES[arch].model_validate(params), SPEC)
    for layer in model.layers:
        embedding = getattr(layer, "tokens", layer)  # TokenAndPositionEmbedding's token table
        if isinstance(embedding, keras.layers.Embedding):
            embedding.embeddings.assign(embedding.embeddings * 20)
    head = model.layers[-1]
    head.kernel.assign(head.kernel * 8)
    return model


@pytest.fixture(scope="module")
def models():
    return {name: _model(arch, params) for name, (arch, params) in BODIES.items()}


class _Traced:
    """The Keras model as one graph for every prefix length, for `generate_naive`: called eagerly,
    GRU and SimpleRNN loop over time in Python (seconds per 60 tokens), rnnops' LSTM does not."""

    def __init__(self, model):
        self.forward = tf.function(lambda ids: model(ids, training=False),
                                   input_signature=[tf.TensorSpec([1, None], tf.int32)])

    def __call__(self, ids, training=False):
        return self.forward(ids)


def _keras_probs(model, ids):
    return np.asarray(model(np.array([ids], dtype="int32"), training=False))[0]


@pytest.mark.parametrize("name", list(BODIES))
def test_stepper_matches_keras_at_every_position(models, name):
    model = models[name]
    stepper = Stepper.from_keras(model)
    assert stepper.vocab_size == V
    assert stepper.max_len == (T if name == "transformer" else None)
    ids = np.random.default_rng(1).integers(1, V, T).tolist()
    state, steps = stepper.start(), []
    for token in ids:
        probs, state = stepper.step(state, token)
        assert probs.dtype == np.float64 and probs.shape == (V,)
        steps.append(probs)
    np.testing.assert_allclose(np.array(steps), _keras_probs(model, ids), atol=1e-5)


@pytest.mark.parametrize("name", RECURRENT)
def test_greedy_generate_equals_naive_loop(models, name):
    stepper = Stepper.from_keras(models[name])
    # end_id -1 never comes up: all 60 tokens are compared.
    fast = generate(stepper, [2, 7], 60, end_id=-1, greedy=True)
    assert len(fast) == 60
    assert fast == generate_naive(_Traced(models[name]), [2, 7], 60, end_id=-1)


def test_transformer_greedy_within_max_len_and_rolling_context(models):
    model = models["transformer"]
    stepper = Stepper.from_keras(model)
    new = T - 3  # prompt + new tokens stay within the trained positions
    assert generate(stepper, [2, 7], new, end_id=-1, greedy=True) == \
        generate_naive(model, [2, 7], new, end_id=-1, max_len=T)
    # Past max_len the cache is rebuilt from the last T // 2 tokens, positions from 0.
    ids = np.random.default_rng(2).integers(1, V, T + 5).tolist()
    state = stepper.start()
    for token in ids:
        probs, state = stepper.step(state, token)
    context = ids[T - T // 2:]  # rebuilt at token T + 1 from the T // 2 before it, then 5 more
    assert list(state[0]) == context
    np.testing.assert_allclose(probs, _keras_probs(model, context)[-1], atol=1e-5)


def test_state_is_not_mutated(models):
    for name in ("lstm", "transformer"):
        stepper = Stepper.from_keras(models[name])
        _, state = stepper.step(stepper.start(), 5)
        first, _ = stepper.step(state, 9)
        stepper.step(state, 11)  # a branch from the same state
        again, _ = stepper.step(state, 9)
        np.testing.assert_array_equal(first, again)


def test_sampling_is_reproducible_and_settings_reduce_to_greedy(models):
    stepper = Stepper.from_keras(models["lstm"])
    prompt, n = [2, 5], 40
    sampled = generate(stepper, prompt, n, end_id=-1, seed=3)
    assert sampled == generate(stepper, prompt, n, end_id=-1, seed=3)
    assert sampled != generate(stepper, prompt, n, end_id=-1, seed=4)
    greedy = generate(stepper, prompt, n, end_id=-1, greedy=True)
    assert generate(stepper, prompt, n, end_id=-1, temperature=1e-4) == greedy
    assert generate(stepper, prompt, n, end_id=-1, top_k=1) == greedy
    assert generate(stepper, prompt, n, end_id=-1, top_p=1e-9) == greedy


def test_banned_ids_never_sampled():
    rng = np.random.default_rng(0)
    probs = np.array([0.4, 0.4, 0.05, 0.05, 0.1])  # most of the mass on padding and unknown
    seen = {sample_next(probs, rng) for _ in range(2000)}
    assert seen == {2, 3, 4}
    assert sample_next(probs, rng, greedy=True) == 4
    hot = np.zeros(V)
    hot[1] = 1.0
    with pytest.raises(ValueError, match="no allowed token"):
        sample_next(hot, rng)


def test_top_k_keeps_exactly_k():
    rng = np.random.default_rng(0)
    probs = np.random.default_rng(5).dirichlet(np.ones(20))
    allowed = np.argsort(-np.where(np.arange(20) < 2, 0, probs))
    for k in (1, 3, 7):
        seen = {sample_next(probs, rng, top_k=k) for _ in range(3000)}
        assert seen == set(allowed[:k].tolist())


def test_top_p_keeps_the_nucleus():
    rng = np.random.default_rng(0)
    probs = np.array([0.0, 0.0, 0.1, 0.5, 0.05, 0.3, 0.05])
    for top_p, nucleus in [(0.3, {3}), (0.5, {3}), (0.75, {3, 5}), (0.8, {3, 5}), (0.85, {2, 3, 5}),
                           (1.0, {2, 3, 4, 5, 6})]:
        seen = {sample_next(probs, rng, top_p=top_p) for _ in range(2000)}
        assert seen == nucleus, top_p
    # The nucleus is taken after temperature: T = 0.5 squares the odds (0.25, 0.09, 0.01 ...).
    assert {sample_next(probs, rng, temperature=0.5, top_p=0.7) for _ in range(500)} == {3}


def test_generate_stops_at_end_id():
    class Script:  # token 5 three times, then the end marker
        vocab_size = 8

        def start(self):
            return 0

        def step(self, state, token):
            probs = np.zeros(self.vocab_size)
            probs[5 if state < 3 else 2] = 1.0  # after the prompt and two 5s: still 5; then the end
            return probs, state + 1

    assert generate(Script(), [2], 50) == [5, 5, 5]
    assert generate(Script(), [2], 2) == [5, 5]


def test_invalid_settings_raise():
    rng = np.random.default_rng(0)
    probs = np.full(5, 0.2)
    for settings, message in [({"temperature": 0}, "temperature"), ({"top_p": 0}, "top_p"),
                              ({"top_p": 1.5}, "top_p"), ({"top_k": -1}, "top_k")]:
        with pytest.raises(ValueError, match=message):
            sample_next(probs, rng, **settings)
        with pytest.raises(ValueError, match=message):
            generate(None, [2], 5, **settings)


def test_mixture_averages_member_distributions(models):
    first, second = Stepper.from_keras(models["lstm"]), Stepper.from_keras(models["transformer"])
    mixture = MixtureStep([(first, 0.3), (second, 0.7)])
    assert mixture.vocab_size == V
    s_mix, s1, s2 = mixture.start(), first.start(), second.start()
    for token in [2, 9, 4, 17, 3]:
        mixed, s_mix = mixture.step(s_mix, token)
        p1, s1 = first.step(s1, token)
        p2, s2 = second.step(s2, token)
        np.testing.assert_allclose(mixed, 0.3 * p1 + 0.7 * p2, atol=1e-12)
    with pytest.raises(ValueError, match="sum to 1"):
        MixtureStep([(first, 0.3), (second, 0.3)])


def test_unsupported_layer_is_named():
    model = build_model("rnn", ARCHITECTURES["rnn"].model_validate({"bidirectional": True, **SMALL}), SPEC)
    with pytest.raises(ValueError, match="Bidirectional"):
        Stepper.from_keras(model)
