"""Decoding encoder-decoders (rnnops.tasks.seq2seq.decoding) against the Keras models it copies: the
incremental steps give the full model's next-token distributions (and attention) at every step, for
every variant and an ensemble; greedy equals the full-prefix loop; beam width 1 is greedy; a wider
beam scores at least as well; decoding stops at </s>, batches like one-by-one, never emits 0/1/2."""
import keras
import numpy as np
import pytest

from rnnops.models.bodies import DatasetSpec, build_model
from rnnops.models.seq2seq import attention_weights
from rnnops.params.architectures import ARCHITECTURES
from rnnops.tasks.seq2seq.decoding import Decoder, beam_search, greedy, naive_next_probabilities

SOURCE_V, TARGET_V, S, MAX_LEN = 30, 20, 7, 8
SPEC = DatasetSpec(vocab_size=SOURCE_V, num_classes=TARGET_V, max_len=S, target_len=MAX_LEN + 1)
SMALL = {"embedding_dim": 8, "units": 12, "attention_units": 8}
VARIANTS = {  # name -> (architecture, params, bias of </s>: a mix of ended and cut outputs)
    "lstm_bahdanau": ("seq2seq_rnn", {"attention": "bahdanau", **SMALL}, 1.0),
    "gru_luong_dot": ("seq2seq_rnn", {"cell": "gru", "attention": "luong_dot", **SMALL}, 0.5),
    "bilstm_2_layers_luong_general": ("seq2seq_rnn", {"bidirectional": True, "layers": 2, "attention": "luong_general",
                                                      "dense_units": 8, **SMALL}, 0.0),
    "gru_none": ("seq2seq_rnn", {"cell": "gru", "attention": "none", **SMALL}, 0.5),
    "transformer": ("seq2seq_transformer", {"blocks": 2, "heads": 2, "ff_dim": 16, "embedding_dim": 8}, 2.0),
}
pytestmark = pytest.mark.filterwarnings("ignore:You are using a softmax over axis")  # attention over 1 key
CASES = {name: ([name], [1.0]) for name in VARIANTS}
CASES["ensemble"] = (["lstm_bahdanau", "transformer"], [0.4, 0.6])


def _model(name, end_bias=None, bias=None):
    """Untrained, with unit-scale embeddings and a head scaled up (peaky distributions)."""
    arch, params, default_bias = VARIANTS[name]
    keras.utils.set_random_seed(0)
    model = build_model(arch, ARCHITECTURES[arch].model_validate(params), SPEC)
    for layer in model.layers:
        embedding = getattr(layer, "tokens", layer)  # TokenAndPositionEmbedding's token table
        if isinstance(embedding, keras.layers.Embedding):
            embedding.embeddings.assign(embedding.embeddings * 10)
    head = model.get_layer("next_token")
    head.kernel.assign(head.kernel * 6)
    b = np.zeros(TARGET_V, np.float32) if bias is None else np.asarray(bias, np.float32)
    b[3] += default_bias if end_bias is None else end_bias
    head.bias.assign(b)
    return model


def _sources(n=10, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.zeros((n, S), np.int32)
    for i in range(n):
        length = 1 + i % S
        ids[i, :length] = rng.integers(1, SOURCE_V, length)
    return ids


@pytest.fixture(scope="module")
def models():
    return {name: _model(name) for name in VARIANTS}


@pytest.fixture(scope="module")
def decoders(models):
    return {name: Decoder.from_keras(model) for name, model in models.items()}


def _case(case, models, decoders):
    names, weights = CASES[case]
    return [models[n] for n in names], [decoders[n] for n in names], weights


def _naive_mixture(models, weights, source, prefix):
    return sum(w * naive_next_probabilities(m, source, prefix) for m, w in zip(models, weights)) / sum(weights)


def _naive_greedy(models, weights, source):
    """The reference: every token from the full models over the whole prefix (all sources in one
    batch; a source that has ended is fed </s> from then on, which no earlier step reads)."""
    prefix, logp = np.full((len(source), 1), 2), np.zeros(len(source))
    finished, cut = np.zeros(len(source), bool), np.zeros(len(source), bool)
    for t in range(MAX_LEN + 1):
        probs = _naive_mixture(models, weights, source, prefix)
        probs[:, [0, 1, 2]] = 0.0
        token = probs.argmax(axis=1)
        going = ~finished & ~cut
        cut |= going & (token != 3) & (t == MAX_LEN)  # after MAX_LEN tokens only </s> is taken
        taken = going & ~cut
        logp[taken] += np.log(probs[taken, token[taken]])
        finished |= taken & (token == 3)
        prefix = np.concatenate([prefix, np.where(going, token, 3)[:, None]], axis=1)
    ids = [[int(x) for x in row[1:] if x != 3][:MAX_LEN] for row in prefix]
    return ids, logp, finished


def _naive_log_prob(models, weights, source_row, ids, finished):
    prefix = np.array([[2, *ids]])
    probs = [_naive_mixture(models, weights, source_row[None], prefix[:, :t + 1])[0]
             for t in range(len(ids) + finished)]
    return sum(np.log(p[token]) for p, token in zip(probs, [*ids, 3]))


@pytest.mark.parametrize("name", list(VARIANTS))
def test_steps_match_the_full_model(models, decoders, name):
    model, decoder = models[name], decoders[name]
    assert decoder.vocab_size == TARGET_V and decoder.has_attention == (name != "gru_none")
    source = _sources()
    rng = np.random.default_rng(1)
    prefix = np.full((len(source), 1), 2)
    state = decoder.encode(source)
    for t in range(MAX_LEN + 1):
        if t == 4:  # reorder and duplicate rows, as beams do
            rows = np.r_[np.arange(len(source))[::-1], 0, 0]
            state, source, prefix = Decoder.select(state, rows), source[rows], prefix[rows]
        probs, state, attention = decoder.step(state, prefix[:, -1])
        assert probs.dtype == np.float64 and probs.shape == (len(source), TARGET_V)
        np.testing.assert_allclose(probs, naive_next_probabilities(model, source, prefix), atol=1e-5)
        if decoder.has_attention:
            expected = attention_weights(model, source, prefix)[:, -1]
            np.testing.assert_allclose(attention, expected, atol=1e-5)
            assert np.all(attention[source == 0] == 0.0)
        else:
            assert attention is None
        prefix = np.concatenate([prefix, rng.integers(3, TARGET_V, (len(source), 1))], axis=1)


@pytest.mark.parametrize("case", ["lstm_bahdanau", "transformer", "ensemble"])
def test_greedy_equals_the_full_prefix_loop(models, decoders, case):
    members, steppers, weights = _case(case, models, decoders)
    source = _sources()
    decoded = greedy(steppers, weights, source, MAX_LEN, batch_size=4)
    ids, logp, finished = _naive_greedy(members, weights, source)
    assert decoded.ids == ids and list(decoded.finished) == list(finished)
    np.testing.assert_allclose(decoded.log_probs, logp, atol=1e-5)
    assert 0 < decoded.finished.sum() < len(source)  # the case covers both endings


def test_ensemble_of_one_model_twice_is_that_model(decoders):
    source = _sources()
    alone = greedy([decoders["gru_luong_dot"]], [1.0], source, MAX_LEN)
    twice = greedy([decoders["gru_luong_dot"]] * 2, [0.3, 0.7], source, MAX_LEN)
    assert twice.ids == alone.ids
    np.testing.assert_allclose(twice.scores, alone.scores, atol=1e-9)


@pytest.mark.parametrize("case", list(CASES))
def test_beam_width_1_is_greedy(models, decoders, case):
    _, steppers, weights = _case(case, models, decoders)
    source = _sources()
    for alpha in (0.0, 0.8):
        first = greedy(steppers, weights, source, MAX_LEN, length_penalty=alpha)
        beam = beam_search(steppers, weights, source, 1, MAX_LEN, length_penalty=alpha)
        assert beam.ids == first.ids
        assert list(beam.finished) == list(first.finished)
        np.testing.assert_allclose(beam.scores, first.scores, atol=1e-9)
        np.testing.assert_allclose(beam.log_probs, first.log_probs, atol=1e-9)


@pytest.mark.parametrize("case", ["lstm_bahdanau", "bilstm_2_layers_luong_general", "transformer", "ensemble"])
def test_beam_scores_at_least_greedy_and_rescores_exactly(models, decoders, case):
    members, steppers, weights = _case(case, models, decoders)
    source = _sources()
    first = greedy(steppers, weights, source, MAX_LEN)
    beam = beam_search(steppers, weights, source, 4, MAX_LEN, batch_size=3)
    assert np.all(beam.scores >= first.scores - 1e-6)  # the encoder (float32) batches differently
    assert np.any(beam.scores > first.scores + 1e-6)  # the search is wider than greedy
    for i in (0, 3, 6):  # the backpointers: the returned ids carry the returned score
        expected = _naive_log_prob(members, weights, source[i], beam.ids[i], beam.finished[i])
        np.testing.assert_allclose(beam.log_probs[i], expected, atol=1e-5)
    normalised = beam_search(steppers, weights, source, 4, MAX_LEN, length_penalty=1.0)
    lengths = np.array([len(ids) + f for ids, f in zip(normalised.ids, normalised.finished)])
    np.testing.assert_allclose(normalised.scores, normalised.log_probs / lengths, atol=1e-12)


@pytest.mark.parametrize("case", ["lstm_bahdanau", "transformer"])
def test_outputs_stop_at_end_token(models, decoders, case):
    _, steppers, weights = _case(case, models, decoders)
    source = _sources()
    real = (source != 0).sum(axis=1)
    for decoded in (greedy(steppers, weights, source, MAX_LEN), beam_search(steppers, weights, source, 3, MAX_LEN)):
        for ids, finished, attention, n in zip(decoded.ids, decoded.finished, decoded.attention, real):
            assert 3 not in ids and len(ids) <= MAX_LEN
            assert finished or len(ids) == MAX_LEN  # a cut output has used every step
            assert attention.shape == (len(ids) + finished, n)
            np.testing.assert_allclose(attention.sum(axis=1), 1.0, atol=1e-9)


def test_an_end_token_first_stops_at_once():
    decoder = Decoder.from_keras(_model("lstm_bahdanau", end_bias=50.0))
    source = _sources()
    for decoded in (greedy([decoder], [1.0], source, MAX_LEN), beam_search([decoder], [1.0], source, 3, MAX_LEN)):
        assert decoded.ids == [[]] * len(source) and decoded.finished.all()
        assert np.all(decoded.log_probs > -1e-6) and all(a.shape[0] == 1 for a in decoded.attention)


@pytest.mark.parametrize("case", ["bilstm_2_layers_luong_general", "transformer"])
def test_batches_decode_like_one_by_one(models, decoders, case):
    _, steppers, weights = _case(case, models, decoders)
    source = _sources()
    for search in (lambda b: greedy(steppers, weights, source, MAX_LEN, batch_size=b),
                   lambda b: beam_search(steppers, weights, source, 3, MAX_LEN, length_penalty=0.6, batch_size=b)):
        together, alone = search(4), search(1)
        assert together.ids == alone.ids
        np.testing.assert_allclose(together.scores, alone.scores, atol=1e-5)  # float32 encoder
        for a, b in zip(together.attention, alone.attention):
            np.testing.assert_allclose(a, b, atol=1e-5)


def test_never_emits_pad_unknown_or_start():
    bias = np.zeros(TARGET_V)
    bias[[0, 1, 2]] = 30.0  # the model wants them most
    decoders = [Decoder.from_keras(_model(n, end_bias=0.0, bias=bias)) for n in ("gru_none", "transformer")]
    source = _sources()
    for decoded in (greedy(decoders, [0.5, 0.5], source, MAX_LEN),
                    beam_search(decoders, [0.5, 0.5], source, 4, MAX_LEN)):
        emitted = {token for ids in decoded.ids for token in ids}
        assert emitted and not emitted & {0, 1, 2, 3}
        assert np.all(np.isfinite(decoded.scores))
