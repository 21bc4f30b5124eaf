"""The encoder-decoder layers (rnnops.models.seq2seq), registered so `.keras` files reload with
safe_mode=True: the RNN decoder's attention over the encoder outputs, and the Transformer decoder
block. Both honour the padding masks Keras hands them (source padding gets exactly zero weight).
"""
from __future__ import annotations

import keras
from keras import layers, ops

from rnnops.models.layers import PACKAGE

KINDS = ("bahdanau", "luong_dot", "luong_general")


def _masked_softmax(scores, key_mask):
    """Softmax over the last axis (source positions); masked positions get exactly 0, and a row
    without any real key gets all zeros (not NaN)."""
    if key_mask is None:
        return ops.softmax(scores, axis=-1)
    key_mask = ops.cast(key_mask, "bool")
    while len(key_mask.shape) < len(scores.shape):
        key_mask = ops.expand_dims(key_mask, -2)  # [batch, source] -> [batch, 1, source]
    weights = ops.softmax(ops.where(key_mask, scores, ops.full_like(scores, -1e9)), axis=-1)
    return weights * ops.cast(key_mask, weights.dtype)


@keras.saving.register_keras_serializable(package=PACKAGE)
class Seq2SeqAttention(layers.Layer):
    """[query [batch, T, q], values [batch, S, v]] -> context [batch, T, v]: one context vector per
    decoder step, a weighted sum of the encoder outputs. Scores:
    - bahdanau (additive): v . tanh(W1 q + W2 v_s + b), `units` wide;
    - luong_dot: q . v_s (q and v of equal width);
    - luong_general: q . (W v_s).
    Weights: softmax over the source positions the values' mask keeps (padding: exactly 0).
    `return_attention_scores=True` returns (context, weights [batch, T, S])."""

    def __init__(self, kind: str = "bahdanau", units: int = 64, **kwargs):
        super().__init__(**kwargs)
        if kind not in KINDS:
            raise ValueError(f"attention kind {kind!r} is not one of {KINDS}")
        self.kind, self.units = kind, units
        self.supports_masking = True

    def build(self, input_shape):
        query_shape, values_shape = input_shape
        q, v = query_shape[-1], values_shape[-1]
        if self.kind == "bahdanau":
            self.w_query = self.add_weight(name="w_query", shape=(q, self.units))
            self.w_values = self.add_weight(name="w_values", shape=(v, self.units))
            self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
            self.score = self.add_weight(name="score", shape=(self.units,))
        elif self.kind == "luong_general":
            self.w_values = self.add_weight(name="w_values", shape=(v, q))
        elif q != v:
            raise ValueError(f"luong_dot needs query and values of one width, got {q} and {v}")
        super().build(input_shape)

    def keys(self, values):
        """The part of the score that depends on the source only (computed once per sentence)."""
        if self.kind == "luong_dot":
            return values
        keys = ops.matmul(values, self.w_values)
        return keys + self.bias if self.kind == "bahdanau" else keys

    def call(self, inputs, mask=None, return_attention_scores=False):
        query, values = inputs
        keys = self.keys(values)
        if self.kind == "bahdanau":  # [b, T, 1, units] + [b, 1, S, units] -> [b, T, S]
            hidden = ops.tanh(ops.expand_dims(ops.matmul(query, self.w_query), 2) + ops.expand_dims(keys, 1))
            scores = ops.tensordot(hidden, self.score, axes=1)
        else:
            scores = ops.matmul(query, ops.transpose(keys, (0, 2, 1)))
        weights = _masked_softmax(scores, None if mask is None else mask[1])
        context = ops.matmul(weights, values)
        return (context, weights) if return_attention_scores else context

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[0]  # the decoder steps' mask

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "units": self.units}


@keras.saving.register_keras_serializable(package=PACKAGE)
class TransformerDecoderBlock(layers.Layer):
    """Post-norm decoder block (as rnnops.models.layers.TransformerEncoder): causal self-attention
    over the target (padding keys masked), cross-attention to the encoder outputs (source padding
    masked), feed-forward; each with residual + LayerNorm. [x [b, T, dim], memory [b, S, dim]]."""

    def __init__(self, dim: int, heads: int, ff_dim: int, dropout: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.heads, self.ff_dim, self.dropout = dim, heads, ff_dim, dropout
        key_dim = max(1, dim // heads)
        self.self_attention = layers.MultiHeadAttention(heads, key_dim=key_dim, dropout=dropout)
        self.cross_attention = layers.MultiHeadAttention(heads, key_dim=key_dim, dropout=dropout)
        self.ff_in = layers.Dense(ff_dim, activation="relu")
        self.ff_out = layers.Dense(dim)
        self.norm1, self.norm2, self.norm3 = (layers.LayerNormalization() for _ in range(3))
        self.drop1, self.drop2, self.drop3 = (layers.Dropout(dropout) for _ in range(3))
        self.supports_masking = True

    def build(self, input_shape):
        x_shape, memory_shape = input_shape
        self.self_attention.build(x_shape, x_shape)
        self.cross_attention.build(x_shape, memory_shape)
        for norm in (self.norm1, self.norm2, self.norm3):
            norm.build(x_shape)
        self.ff_in.build(x_shape)
        self.ff_out.build((*x_shape[:-1], self.ff_dim))
        super().build(input_shape)

    def call(self, inputs, mask=None, training=False, return_attention_scores=False):
        x, memory = inputs
        target_mask, source_mask = (None, None) if mask is None else mask
        self_mask = None if target_mask is None else ops.expand_dims(ops.cast(target_mask, "bool"), 1)
        attended = self.self_attention(x, x, attention_mask=self_mask, use_causal_mask=True, training=training)
        x = self.norm1(x + self.drop1(attended, training=training))
        cross_mask = None
        if source_mask is not None:  # [b, 1, S] -> [b, T, S]: no step attends to source padding
            shape = (ops.shape(x)[0], ops.shape(x)[1], ops.shape(memory)[1])
            cross_mask = ops.broadcast_to(ops.expand_dims(ops.cast(source_mask, "bool"), 1), shape)
        attended = self.cross_attention(x, memory, attention_mask=cross_mask, training=training,
                                        return_attention_scores=return_attention_scores)
        if return_attention_scores:
            attended, scores = attended
        x = self.norm2(x + self.drop2(attended, training=training))
        x = self.norm3(x + self.drop3(self.ff_out(self.ff_in(x)), training=training))
        return (x, scores) if return_attention_scores else x  # scores: [b, heads, T, S]

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[0]

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "heads": self.heads, "ff_dim": self.ff_dim,
                "dropout": self.dropout}
