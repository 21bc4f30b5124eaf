"""rnnops' LSTM (fused CPU loop) against keras.layers.LSTM: same weights -> same outputs and
gradients, with padding after, before and between tokens, a row of padding only, both directions."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from rnnops.models.layers import LSTM

IDS = np.array([[5, 7, 9, 11, 13, 15, 17, 0, 0, 0],     # padding after
                [0, 0, 0, 4, 6, 8, 10, 12, 14, 16],     # padding before
                [3, 0, 0, 5, 7, 0, 9, 11, 13, 15],      # padding between
                [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],         # padding only
                [2, 4, 6, 8, 10, 12, 14, 16, 18, 19]],  # no padding
               dtype="int32")

STACKS = {  # name -> layers over masked embeddings, given the LSTM class to use
    "last_state": lambda lstm: [lstm(6)],
    "backwards": lambda lstm: [lstm(6, go_backwards=True)],
    "bidirectional": lambda lstm: [keras.layers.Bidirectional(lstm(6))],
    "stacked": lambda lstm: [lstm(6, return_sequences=True), lstm(4)],
    "bidirectional_stacked": lambda lstm: [keras.layers.Bidirectional(lstm(6, return_sequences=True)),
                                           lstm(4)],
    "recurrent_dropout": lambda lstm: [lstm(6, recurrent_dropout=0.2)],  # Keras' own loop
}


def _model(layers):
    ids = keras.Input((None,), dtype="int32")
    # Unit-scale embeddings, so the states are far from zero and a difference would show.
    embed = keras.initializers.RandomNormal(stddev=1.0)
    x = keras.layers.Embedding(20, 8, mask_zero=True, embeddings_initializer=embed)(ids)
    for layer in layers:
        x = layer(x)
    return keras.Model(ids, x)


def _outputs_and_gradients(model):
    with tf.GradientTape() as tape:
        out = model(IDS)
        loss = tf.reduce_sum(tf.square(out))
    grads = tape.gradient(loss, model.trainable_variables)
    return np.asarray(out), [np.asarray(tf.convert_to_tensor(g)) for g in grads]


@pytest.mark.parametrize("name", sorted(STACKS))
def test_same_outputs_and_gradients_as_keras_lstm(name):
    keras.utils.set_random_seed(0)
    reference = _model(STACKS[name](keras.layers.LSTM))
    fused = _model(STACKS[name](LSTM))
    fused.set_weights(reference.get_weights())
    lstms = [layer for layer in fused._flatten_layers() if isinstance(layer, LSTM)]
    assert lstms and all(layer._fused() == (name != "recurrent_dropout") for layer in lstms)

    out_ref, grads_ref = _outputs_and_gradients(reference)
    out, grads = _outputs_and_gradients(fused)
    np.testing.assert_allclose(out, out_ref, rtol=1e-5, atol=1e-6)
    assert np.abs(out_ref).max() > 0.1  # a real signal, not two zero tensors
    for g, g_ref in zip(grads, grads_ref, strict=True):
        np.testing.assert_allclose(g, g_ref, rtol=1e-5, atol=1e-6)


def test_sequence_outputs_match_at_real_steps_and_are_zero_at_padding():
    keras.utils.set_random_seed(0)
    reference = _model([keras.layers.LSTM(6, return_sequences=True)])
    fused = _model([LSTM(6, return_sequences=True)])
    fused.set_weights(reference.get_weights())
    real = (IDS != 0)[:, :, np.newaxis]
    out = np.asarray(fused(IDS))
    np.testing.assert_allclose(out * real, np.asarray(reference(IDS)) * real, atol=1e-6)
    assert not np.any(out * ~real)
