"""The reference notes' NumPy RNN: a forward pass written from h_t = tanh(W x_t + U h_{t-1} + b)
equals Keras' SimpleRNN with the same weights (every step, stacked layers, and rnnops' masked
simple_rnn body on padded input)."""
import keras
import numpy as np

from rnnops.models.bodies import DatasetSpec, build_model
from rnnops.params.architectures import ARCHITECTURES


def numpy_rnn(x: np.ndarray, W: np.ndarray, U: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x [time, in] -> h [time, units], from h_0 = 0. W [units, in], U [units, units], b [units]."""
    h, states = np.zeros(U.shape[0]), []
    for x_t in x:
        h = np.tanh(W @ x_t + U @ h + b)
        states.append(h)
    return np.stack(states)


def keras_weights(layer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keras keeps kernel [in, units] and recurrent_kernel [units, units] for x @ kernel: the
    formula's W and U are their transposes."""
    kernel, recurrent, bias = (np.asarray(w, np.float64) for w in layer.get_weights())
    return kernel.T, recurrent.T, bias


def test_numpy_forward_pass_equals_keras_simple_rnn_at_every_step():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 7, 5)).astype("float32")  # [batch, time, features]
    layer = keras.layers.SimpleRNN(4, return_sequences=True, bias_initializer="random_normal")
    out = np.asarray(layer(x))
    W, U, b = keras_weights(layer)
    assert W.shape == (4, 5) and U.shape == (4, 4) and np.abs(b).max() > 0
    for row in range(3):
        np.testing.assert_allclose(out[row], numpy_rnn(x[row].astype(np.float64), W, U, b), atol=1e-5)


def test_stacked_simple_rnns_feed_each_step_to_the_next_layer():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    first = keras.layers.SimpleRNN(5, return_sequences=True)
    second = keras.layers.SimpleRNN(2)  # return_sequences=False: the last step only
    out = np.asarray(second(first(x)))
    for row in range(2):
        hidden = numpy_rnn(x[row].astype(np.float64), *keras_weights(first))
        np.testing.assert_allclose(out[row], numpy_rnn(hidden, *keras_weights(second))[-1], atol=1e-5)


def test_rnnops_simple_rnn_body_reads_only_the_real_tokens():
    spec = DatasetSpec(vocab_size=20, num_classes=2, max_len=8)
    model = build_model("simple_rnn", ARCHITECTURES["simple_rnn"](embedding_dim=3, units=4, dropout=0.0), spec)
    ids = np.array([[5, 9, 2, 0, 0, 0], [0, 0, 7, 7, 3, 11]], dtype="int32")  # post- and pre-padded
    embedding = np.asarray(model.get_layer("embedding").embeddings, np.float64)
    rnn = next(layer for layer in model.layers if isinstance(layer, keras.layers.SimpleRNN))
    head = model.get_layer("probability")
    kernel, bias = (np.asarray(w, np.float64) for w in head.get_weights())
    for row in ids:
        h = numpy_rnn(embedding[row[row != 0]], *keras_weights(rnn))[-1]
        expected = 1 / (1 + np.exp(-(h @ kernel + bias)))
        np.testing.assert_allclose(np.asarray(model(row[None]))[0], expected, atol=1e-5)
