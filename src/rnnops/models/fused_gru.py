"""Keras' GRU with a leaner CPU loop: the counterpart of `rnnops.models.layers.LSTM` for GRU.

TensorFlow has no whole-sequence GRU kernel (`GRUBlockCell` is a single step, and of the
reset-before variant, not Keras' default `reset_after=True`), so the loop stays a `tf.while_loop`,
cut down to what the recurrence needs:
- no select per step for the mask: a padded step's update gate is driven to exactly 1 through an
  extra input column, so the state passes through unchanged, as in Keras' masked loop, wherever
  the padding sits (no reordering of the steps either);
- the input projection x.W + b of all steps is one matmul before the loop, which only does h.U;
- a hand-written gradient: the loop saves the gates, the backward coefficients are whole-sequence
  ops, the backward loop carries dh with one matmul per step, and the weight gradients are single
  matmuls after it (TF's automatic while_loop gradient pushes and pops every intermediate).
Outputs and gradients equal keras.layers.GRU's to float rounding (tests/model/test_fused_gru.py).
What it does not cover (dropout inside the layer, reset_after=False, other activations, unroll, no
bias) and GPUs (cuDNN) fall back to Keras' own loop.
"""
from __future__ import annotations

import keras
import tensorflow as tf


_SKIP = 1e4  # a padded step's update-gate input: sigmoid(>= 17) is exactly 1.0 in float32 and below


def _make_loop(sequences: bool):
    """The GRU over x [time, batch, in + 2] (inputs, a column of ones, a column of 1 where padded)
    with w [in + 2, 3 units] (kernel, input bias, _SKIP into z; columns in the order candidate, z,
    r), from h0 [batch, units], with recurrent kernel u [units, 3 units] and bias b [3 units] (z,
    r, candidate, as Keras): every step's state [time, batch, units] (`sequences`) or the last one.
    The input bias is a row of w, so its gradient comes out of w's matmul (a separate BiasAdd and
    its gradient cost more here)."""

    @tf.custom_gradient
    def gru(x, w, h0, u, b):
        steps, batch, units = tf.shape(x)[0], tf.shape(x)[1], h0.shape[-1]
        flat_x = tf.reshape(x, [steps * batch, -1])
        xw = tf.reshape(tf.matmul(flat_x, w), [steps, batch, 3 * units])  # all steps at once

        def step(t, h, *saved):
            x_t, rec = xw[t], tf.matmul(h, u) + b
            zr = tf.sigmoid(x_t[:, units:] + rec[:, :2 * units])
            z, r, rec_h = zr[:, :units], zr[:, units:], rec[:, 2 * units:]
            hh = tf.tanh(x_t[:, :units] + r * rec_h)
            h = z * h + (1 - z) * hh  # Keras' form: exactly h when z is 1 (a padded step)
            return (t + 1, h, *(a.write(t, v) for a, v in zip(saved, (zr, rec_h, hh, h))))

        arrays = lambda *widths: [tf.TensorArray(x.dtype, size=steps, element_shape=[h0.shape[0], n])  # noqa: E731
                                  for n in widths]
        _, last, *saved = tf.while_loop(lambda t, *_: t < steps, step,
                                        (0, h0, *arrays(2 * units, units, units, units)))
        zr, rec_h, hh, hs = (a.stack() for a in saved)  # kept for the gradient

        def grad(dh_out):
            # Each step's coefficients in whole-sequence ops (cheaper than inside the loop):
            # d pre-activations of the candidate (its x part), z, r, d(r * rec_h), dh_prev's own
            # part, each = dh * coefficient.
            z, r = zr[..., :units], zr[..., units:]
            h_prev = tf.concat([h0[tf.newaxis], hs[:-1]], axis=0)
            not_z = 1 - z
            d_cand = not_z * (1 - hh * hh)
            coef = tf.concat([d_cand, (h_prev - hh) * (z * not_z), d_cand * rec_h * (r * (1 - r)),
                              d_cand * r, z], axis=2)
            # dh_prev = [dh * coef] . back: one matmul per step carries dh back.
            back = tf.concat([tf.zeros_like(u[:, :units]), tf.transpose(u),
                              tf.eye(units, dtype=u.dtype)], 0)

            def back_step(t, carry, d_x, d_rec):
                dh = carry + dh_out[t] if sequences else carry
                d = tf.tile(dh, [1, 5]) * coef[t]
                return (t - 1, tf.matmul(d, back), d_x.write(t, d[:, :3 * units]),
                        d_rec.write(t, d[:, units:4 * units]))

            start = tf.zeros_like(h0) if sequences else dh_out
            _, dh0, d_x, d_rec = tf.while_loop(lambda t, *_: t >= 0, back_step,
                                               (steps - 1, start, *arrays(3 * units, 3 * units)))
            d_x = tf.reshape(d_x.stack(), [steps * batch, 3 * units])  # d (x.w): candidate, z, r
            d_rec = tf.reshape(d_rec.stack(), [steps * batch, 3 * units])  # d (h.u + b): z, r, cand.
            d_w = tf.matmul(flat_x, d_x, transpose_a=True)
            d_u = tf.matmul(tf.reshape(h_prev, [-1, units]), d_rec, transpose_a=True)
            return (tf.reshape(tf.matmul(d_x, w, transpose_b=True), tf.shape(x)), d_w, dh0, d_u,
                    tf.reduce_sum(d_rec, axis=0))

        return (hs if sequences else last), grad

    return gru


_LOOPS = {sequences: _make_loop(sequences) for sequences in (False, True)}


def fused_gru(inputs, h0, mask, kernel, recurrent_kernel, bias, return_sequences, go_backwards,
              zero_output_for_mask=False):
    """Keras' masked GRU loop (reset_after) on batch-major inputs [batch, time, in]; returns Keras'
    inner-loop triple (last output, outputs, [h])."""
    if go_backwards:  # Keras reads (and returns) a backward layer's steps last-to-first
        inputs = tf.reverse(inputs, [1])
        mask = None if mask is None else tf.reverse(mask, [1])
    dtype, units = inputs.dtype, h0.shape[-1]  # variables stay float32 under mixed precision
    b_in, b_rec = tf.unstack(tf.cast(bias, dtype))
    x = tf.transpose(inputs, [1, 0, 2])  # time-major
    real = tf.ones_like(x[..., :1]) if mask is None else tf.cast(tf.transpose(mask), dtype)[..., tf.newaxis]
    # A padded step gets an update gate of exactly 1: the state passes through unchanged, as in
    # Keras' masked loop, without a select per step (and so does the gradient).
    skip = tf.concat([tf.zeros([units], dtype), tf.fill([units], tf.constant(_SKIP, dtype)),
                      tf.zeros([units], dtype)], 0)
    w = tf.concat([tf.cast(kernel, dtype), b_in[tf.newaxis]], axis=0)
    w = tf.concat([tf.concat([w[:, 2 * units:], w[:, :2 * units]], 1), skip[tf.newaxis]], 0)
    x = tf.concat([x, tf.ones_like(real), 1 - real], axis=2)
    h = _LOOPS[return_sequences](x, w, h0, tf.cast(recurrent_kernel, dtype), b_rec)

    if mask is None:
        last = h[-1] if return_sequences else h
        return last, (tf.transpose(h, [1, 0, 2]) if return_sequences else last[:, tf.newaxis]), [last]
    mask = tf.cast(mask, tf.bool)
    state = h[-1] if return_sequences else h  # a row of padding only keeps its initial state
    # Keras' output is 0 until a row's first real step (or at every padded one with
    # zero_output_for_mask, which Bidirectional sets).
    last = tf.where(tf.reduce_any(mask, axis=1, keepdims=True), state, tf.zeros_like(state))
    if not return_sequences:
        return last, last[:, tf.newaxis], [state]
    keep = mask if zero_output_for_mask else tf.cumsum(tf.cast(mask, tf.int32), axis=1) > 0
    outputs = tf.where(keep[:, :, tf.newaxis], tf.transpose(h, [1, 0, 2]), tf.zeros_like(h[0])[:, tf.newaxis])
    return last, outputs, [state]


def lean_loop_applies(layer) -> bool:
    """Whether rnnops' CPU loop may replace Keras' for this LSTM or GRU layer: TensorFlow, no
    dropout inside the layer, bias, Keras' default activations, no unroll, cuDNN not forced, and
    no GPU (there cuDNN is faster)."""
    return (keras.backend.backend() == "tensorflow" and not layer.dropout
            and not layer.recurrent_dropout and not layer.unroll and layer.use_bias
            and layer.use_cudnn != True  # noqa: E712 - use_cudnn is True, False or "auto"
            and layer.activation is keras.activations.tanh
            and layer.recurrent_activation is keras.activations.sigmoid
            and not tf.config.list_logical_devices("GPU"))


@keras.saving.register_keras_serializable(package="rnnops")
class GRU(keras.layers.GRU):
    """keras.layers.GRU with the lean CPU loop above; a drop-in (same arguments and weights)."""

    def _fused(self) -> bool:
        return self.cell.reset_after and lean_loop_applies(self)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not self._fused():
            return super().inner_loop(sequences, initial_state, mask, training=training)
        if isinstance(initial_state, (list, tuple)):
            initial_state = initial_state[0]
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        cell = self.cell
        return fused_gru(sequences, initial_state, mask, cell.kernel.value, cell.recurrent_kernel.value,
                         cell.bias.value, self.return_sequences, self.go_backwards,
                         self.zero_output_for_mask)
