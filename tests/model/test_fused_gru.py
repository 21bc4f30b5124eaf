"""rnnops' GRU (lean CPU loop) against keras.layers.GRU: same weights -> same outputs and gradients,
with padding after, before and between tokens, a row of padding only, both directions."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from rnnops.models.fused_gru import GRU
from tests.model.test_fused_lstm import IDS  # padding after, before, between, only, none

# The test models get the padding mask as a call argument, which Keras warns about for a Model.
pytestmark = pytest.mark.filterwarnings("ignore:Layer .* does not support masking:UserWarning")


STACKS = {  # name -> layers over masked embeddings, given the GRU class to use
    "last_state": lambda gru: [gru(6)],
    "backwards": lambda gru: [gru(6, go_backwards=True)],
    "sequences": lambda gru: [gru(6, return_sequences=True)],  # padded steps repeat, as in Keras
    "sequences_backwards": lambda gru: [gru(6, return_sequences=True, go_backwards=True)],
    "bidirectional": lambda gru: [keras.layers.Bidirectional(gru(6))],
    "bidirectional_sequences": lambda gru: [keras.layers.Bidirectional(gru(6, return_sequences=True))],
    "stacked": lambda gru: [gru(6, return_sequences=True), gru(4, go_backwards=True)],
    "recurrent_dropout": lambda gru: [gru(6, recurrent_dropout=0.2)],  # Keras' own loop
    "reset_before": lambda gru: [gru(6, reset_after=False)],           # Keras' own loop
}


def _body(layers):
    """The layers as a model over embeddings [batch, time, 8], called with the padding mask."""
    x = inputs = keras.Input((None, 8))
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x)


class _WithState(keras.Model):
    """One GRU started from a given state [batch, 6]: its outputs and final state, side by side."""

    def __init__(self, gru):
        super().__init__()
        self.gru = gru

    def call(self, inputs, mask=None):
        out, h = self.gru(inputs[0], mask=mask[0], initial_state=inputs[1])
        return tf.concat([out, h], axis=-1)


def _outputs_and_gradients(body, mask=IDS != 0):
    out, grads = _outputs_and_gradients_tensors(body, mask)
    return np.asarray(out), [np.asarray(g) for g in grads]


def _outputs_and_gradients_tensors(body, mask=IDS != 0):
    rng = np.random.default_rng(0)  # unit scale, so the states are far from zero
    inputs = [tf.constant(rng.normal(size=(*IDS.shape, 8)), tf.float32)]
    masks = [None if mask is None else tf.constant(mask)]
    if isinstance(body, _WithState):  # a non-zero initial state
        inputs.append(tf.constant(rng.normal(size=(len(IDS), 6)) * 0.5, tf.float32))
        masks.append(None)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        out = body(inputs if len(inputs) == 2 else inputs[0], mask=masks if len(masks) == 2 else masks[0])
        # Weighted, so that every output (and state) gets its own gradient.
        loss = tf.reduce_sum(tf.square(out) * tf.range(1.0, 1.0 + out.shape[-1]))
    grads = tape.gradient(loss, [*inputs, *body.trainable_variables])  # inputs and weights
    return out, [tf.convert_to_tensor(g) for g in grads]


def _check(reference, fused, fused_expected=True, graph=False):
    fused.set_weights(reference.get_weights())
    grus = [layer for layer in fused._flatten_layers() if isinstance(layer, GRU)]
    assert grus and all(layer._fused() == fused_expected for layer in grus)
    out_ref, grads_ref = _outputs_and_gradients(reference)
    if graph:  # as in training: traced into a graph, where tf.while_loop is a real loop
        out, grads = tf.function(lambda: _outputs_and_gradients_tensors(fused))()
        out, grads = np.asarray(out), [np.asarray(g) for g in grads]
    else:
        out, grads = _outputs_and_gradients(fused)
    np.testing.assert_allclose(out, out_ref, rtol=1e-5, atol=1e-5)
    assert np.abs(out_ref).max() > 0.1  # a real signal, not two zero tensors
    assert not np.allclose(out_ref, _outputs_and_gradients(reference, mask=None)[0])  # mask used
    for g, g_ref in zip(grads, grads_ref, strict=True):
        assert np.abs(g_ref).max() > 0  # every weight takes part
        np.testing.assert_allclose(g, g_ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(STACKS))
def test_same_outputs_and_gradients_as_keras_gru(name):
    keras.utils.set_random_seed(0)
    reference = _body(STACKS[name](keras.layers.GRU))
    _check(reference, _body(STACKS[name](GRU)), name not in ("recurrent_dropout", "reset_before"))


@pytest.mark.parametrize("name", ["stacked", "bidirectional_sequences"])
def test_same_in_a_graph(name):
    keras.utils.set_random_seed(0)
    reference = _body(STACKS[name](keras.layers.GRU))
    _check(reference, _body(STACKS[name](GRU)), graph=True)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_initial_and_returned_state_match(go_backwards):
    keras.utils.set_random_seed(0)
    kwargs = dict(return_state=True, go_backwards=go_backwards)
    reference, fused = _WithState(keras.layers.GRU(6, **kwargs)), _WithState(GRU(6, **kwargs))
    reference.gru.build((None, None, 8))
    fused.gru.build((None, None, 8))
    _check(reference, fused)


def test_sequence_outputs_are_zero_at_padding_under_bidirectional():
    keras.utils.set_random_seed(0)
    body = _body([keras.layers.Bidirectional(GRU(6, return_sequences=True))])
    out = np.asarray(body(tf.ones((*IDS.shape, 8)), mask=tf.constant(IDS != 0)))
    assert not np.any(out * (IDS == 0)[:, :, np.newaxis])


def test_keras_file_round_trip(tmp_path):
    keras.utils.set_random_seed(0)
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(20, 8, mask_zero=True)(ids)
    model = keras.Model(ids, _body([keras.layers.Bidirectional(GRU(6, return_sequences=True)), GRU(4)])(x))
    model.save(tmp_path / "gru.keras")
    loaded = keras.models.load_model(tmp_path / "gru.keras", safe_mode=True)
    assert sum(isinstance(layer, GRU) for layer in loaded._flatten_layers()) == 3
    np.testing.assert_allclose(np.asarray(loaded(IDS)), np.asarray(model(IDS)), atol=1e-6)
