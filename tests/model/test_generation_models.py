"""Every body the generation task allows, as a language model through the shared loop: trains on
windows of a token stream (every position's next token), gives a distribution over the
vocabulary at every step, reloads with safe_mode=True to identical outputs; causal models' output
at step t does not depend on later tokens; an n-gram-predictable stream is learned."""
import numpy as np
import pytest

from rnnops.models.bodies import DatasetSpec, build_model
from rnnops.models.keras_io import load_keras_model
from rnnops.params.architectures import ARCHITECTURES
from rnnops.tasks import TASKS
from rnnops.tasks.generation.params import GenerationTrainParams
from rnnops.tasks.generation.scoring import bits, token_probabilities
from rnnops.training.fit import fit_model

VOCAB, SEQ = 12, 16
SMALL = {"units": 16, "embedding_dim": 8, "heads": 2, "ff_dim": 16}


def train_params(epochs=1, seq_len=SEQ, learning_rate=0.01):
    return GenerationTrainParams(seq_len=seq_len, epochs=epochs, batch_size=16, optimizer="adam",
                                 learning_rate=learning_rate, clipnorm=1.0,
                                 early_stopping={"monitor": "val_loss", "patience": 5},
                                 reduce_lr={"factor": 0.5, "patience": 5, "min_lr": 0.0001})


def small_params(name, **extra):
    fields = ARCHITECTURES[name].model_fields
    values = {k: v for k, v in SMALL.items() if k in fields}
    if name == "stacked_lstm":
        values["units"] = [16, 8]
    return ARCHITECTURES[name](**{**values, **extra})


def cyclic_stream(length, rng):
    """<eot> then a repeated 4-token pattern with 10% noise: the next token is predictable."""
    pattern = np.array([3, 7, 5, 9])
    stream = np.tile(pattern, length // 4 + 1)[:length]
    noise = rng.random(length) < 0.1
    stream[noise] = rng.integers(3, VOCAB, noise.sum())
    return np.concatenate([[2], stream]).astype(np.int32)


CASES = [(name, {}) for name in sorted(TASKS["generation"].bodies)] + [
    ("rnn", {"cell": "gru", "layers": 2}), ("rnn", {"cell": "simple_rnn", "layers": 2}), ("lstm", {"one_hot": True})]


@pytest.mark.parametrize("name,extra", CASES, ids=[f"{n}{'-' + '-'.join(map(str, e.values())) if e else ''}"
                                                   for n, e in CASES])
def test_generation_body_contract(name, extra, tmp_path):
    rng = np.random.default_rng(0)
    arrays = {s: (cyclic_stream(n, rng), None) for s, n in (("train", 400), ("val", 80), ("test", 80))}
    spec = DatasetSpec(vocab_size=VOCAB, num_classes=VOCAB, max_len=SEQ, sequence=True)
    result = fit_model(name, small_params(name, **extra), train_params(), spec, arrays, seed=0,
                       evaluate_splits=("val",), verbose=0)
    assert set(result.metrics["val"]) == {"loss", "accuracy"} and np.isfinite(result.metrics["val"]["loss"])
    x = arrays["test"][0][None, :SEQ]
    out = np.asarray(result.model(x, training=False))
    assert out.shape == (1, SEQ, VOCAB)
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-5)          # a distribution at every step
    changed = x.copy()
    changed[0, SEQ // 2:] = 4                                        # later tokens change ...
    early = np.asarray(result.model(changed, training=False))[0, :SEQ // 2]
    np.testing.assert_allclose(early, out[0, :SEQ // 2], atol=1e-6)  # ... earlier steps do not (causal)
    path = tmp_path / f"{name}.keras"
    result.model.save(path)
    np.testing.assert_array_equal(np.asarray(load_keras_model(path)(x, training=False)), out)  # safe_mode=True


def test_a_predictable_stream_is_learned():
    """A GRU trained for a few epochs on the cyclic stream scores far below the uniform 3.46 bits
    and close to the noise floor (about 0.7 bits for 10% noise over 9 tokens)."""
    rng = np.random.default_rng(1)
    arrays = {s: (cyclic_stream(n, rng), None) for s, n in (("train", 3000), ("val", 300), ("test", 300))}
    spec = DatasetSpec(vocab_size=VOCAB, num_classes=VOCAB, max_len=SEQ, sequence=True)
    result = fit_model("gru", small_params("gru"), train_params(epochs=8, learning_rate=0.02), spec, arrays,
                       seed=0, evaluate_splits=("val",), verbose=0)
    test_bits = bits(token_probabilities(result.model, arrays["test"][0], SEQ))
    assert test_bits < 1.2, test_bits


def test_a_word_level_model_trains_samples_words_and_is_scored_in_perplexity(tmp_path):
    """Word level through the task's own train part: a vocabulary of words and punctuation, samples
    decoded as words joined by spaces, scores as bits per word and perplexity = 2 ** bits."""
    import yaml

    from rnnops.params.load import load_params
    from rnnops.tasks.generation import prepare, train
    from tests.conftest import REPO

    words = ["the cat sat on the mat .", "a dog ran to the park !", "the bird sang in the tree .",
             "my cat likes the warm sun .", "the dog and the cat play ."]
    (tmp_path / "corpus.txt").write_text("\n".join(words * 12) + "\n", encoding="utf-8")
    params = yaml.safe_load((REPO / "generation" / "params.yaml").read_text())
    params["data"].update({"source": "txt", "path": str(tmp_path / "corpus.txt"), "level": "word", "min_count": 1,
                           "vocab_size": 100, "subsample": None})
    params["train"].update({"seq_len": 8, "epochs": 2, "batch_size": 8})
    params["tune"]["space"] = {"train.seq_len": {"type": "categorical", "choices": [4, 8]}}
    params["models"] = {"gru": {"architecture": "rnn", "cell": "gru", "units": 16, "embedding_dim": 8}}
    params["sampling"].update({"prompts": ["the cat"], "temperatures": [1.0], "max_tokens": 6})
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    loaded = load_params(path)
    prepared = prepare.prepare(loaded).data
    assert prepared.vocabulary.tokens[3:] and "cat" in prepared.vocabulary.tokens and "." in prepared.vocabulary.tokens
    result = train.train(loaded, "gru", prepared)
    scores = train.scores(result)
    assert scores["test"]["perplexity"] == pytest.approx(2 ** scores["test"]["bits_per_token"], rel=1e-4)
    assert len(result.predictions["test"]) == len(prepared.streams["test"]) - 1
    sample = result.samples[0]["text"]
    assert sample == "" or all(token in prepared.vocabulary.tokens for token in sample.split(" "))
