"""Custom Keras layers, registered as serializable so `.keras` files reload with safe_mode=True.

All of them honour the padding mask (token id 0), so a model's output for a sequence does not
depend on how much padding surrounds it or on which side it sits. `LSTM` is Keras' LSTM with a
fused CPU loop (see its section).
"""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers, ops

PACKAGE = "rnnops"


@keras.saving.register_keras_serializable(package=PACKAGE)
class TokenAndPositionEmbedding(layers.Layer):
    """Token embedding (mask_zero) + learned position embedding.

    Positions count real tokens only (cumsum of the mask), so a sequence gets the same position
    ids whether it is padded before or after, to 20 or to 40.
    """

    def __init__(self, vocab_size: int, max_len: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.max_len, self.dim = vocab_size, max_len, dim
        self.tokens = layers.Embedding(vocab_size, dim, mask_zero=True)
        self.positions = layers.Embedding(max_len, dim)

    def build(self, input_shape):
        self.tokens.build(input_shape)
        self.positions.build(input_shape)
        super().build(input_shape)

    def call(self, ids):
        mask = ops.cast(ops.not_equal(ids, 0), "int32")
        positions = ops.clip(ops.cumsum(mask, axis=-1) - 1, 0, self.max_len - 1)  # [batch, time]
        return self.tokens(ids) + self.positions(positions)

    def compute_mask(self, ids, mask=None):
        return ops.not_equal(ids, 0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.dim)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "max_len": self.max_len,
                "dim": self.dim}


@keras.saving.register_keras_serializable(package=PACKAGE)
class CenterOnLast(layers.Layer):
    """[batch, window, features] minus each row's last step: a window seen relative to its latest
    values, so a trending series looks the same at every level (the levels of a test period above
    anything in training are no longer out of range)."""

    def call(self, steps):
        return steps - steps[:, -1:, :]


@keras.saving.register_keras_serializable(package=PACKAGE)
class AddLastValue(layers.Layer):
    """[change [batch, horizon], window [batch, window, features]] -> change + the window's last
    target value (feature 0): the head forecasts the change; an all-zero head is the naive forecast."""

    def call(self, inputs):
        change, steps = inputs
        return change + steps[:, -1:, 0]


@keras.saving.register_keras_serializable(package=PACKAGE)
class StepAndPositionEmbedding(layers.Layer):
    """Numeric steps [batch, window, features] -> Dense projection to `dim` + learned position
    embedding (the numeric counterpart of TokenAndPositionEmbedding; no padding, no mask)."""

    def __init__(self, max_len: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.max_len, self.dim = max_len, dim
        self.project = layers.Dense(dim)
        self.positions = layers.Embedding(max_len, dim)

    def build(self, input_shape):
        self.project.build(input_shape)
        self.positions.build((None, self.max_len))
        super().build(input_shape)

    def call(self, steps):
        return self.project(steps) + self.positions(ops.arange(self.max_len))[None]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.dim)

    def get_config(self):
        return {**super().get_config(), "max_len": self.max_len, "dim": self.dim}


@keras.saving.register_keras_serializable(package=PACKAGE)
class TransformerEncoder(layers.Layer):
    """Post-norm encoder block: self-attention and feed-forward, each with residual + LayerNorm."""

    def __init__(self, dim: int, heads: int, ff_dim: int, dropout: float = 0.1, causal: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.heads, self.ff_dim, self.dropout = dim, heads, ff_dim, dropout
        self.causal = causal  # a decoder (language model): no step attends to a later one
        self.attention = layers.MultiHeadAttention(heads, key_dim=max(1, dim // heads), dropout=dropout)
        self.ff_in = layers.Dense(ff_dim, activation="relu")
        self.ff_out = layers.Dense(dim)
        self.norm1, self.norm2 = layers.LayerNormalization(), layers.LayerNormalization()
        self.drop1, self.drop2 = layers.Dropout(dropout), layers.Dropout(dropout)
        self.supports_masking = True

    def build(self, input_shape):
        self.attention.build(input_shape, input_shape)
        self.norm1.build(input_shape)
        self.ff_in.build(input_shape)
        self.ff_out.build((*input_shape[:-1], self.ff_dim))
        self.norm2.build(input_shape)
        super().build(input_shape)

    def call(self, x, mask=None, training=False):
        attention_mask = None
        if mask is not None:  # [batch, query, key]: no query attends to a padded key
            attention_mask = ops.logical_and(ops.expand_dims(mask, 1), ops.expand_dims(mask, 2))
        attended = self.attention(x, x, attention_mask=attention_mask, use_causal_mask=self.causal,
                                  training=training)
        x = self.norm1(x + self.drop1(attended, training=training))
        return self.norm2(x + self.drop2(self.ff_out(self.ff_in(x)), training=training))

    def compute_mask(self, x, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "heads": self.heads,
                "ff_dim": self.ff_dim, "dropout": self.dropout, "causal": self.causal}


@keras.saving.register_keras_serializable(package=PACKAGE)
class OneHotTokens(layers.Layer):
    """Token ids [batch, time] -> one-hot vectors [batch, time, vocab]; padding (id 0) is masked."""

    def __init__(self, vocab_size: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size

    def call(self, ids):
        return ops.one_hot(ids, self.vocab_size)

    def compute_mask(self, ids, mask=None):
        return ops.not_equal(ids, 0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.vocab_size)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedMeanPooling(layers.Layer):
    """Mean over real (unmasked) steps: [batch, time, features] -> [batch, features].

    Keras' GlobalAveragePooling1D divides by the number of real steps, which is 0 for an empty
    or whitespace-only text: 0/0 = NaN. Here the divisor is at least 1, so such a row pools to
    zeros; every other row gets exactly GlobalAveragePooling1D's result (same ops, same order)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, x, mask=None):
        if mask is None:
            return ops.mean(x, axis=1)
        mask = ops.expand_dims(ops.cast(mask, "bool"), 2)
        total = ops.sum(ops.where(mask, x, 0), axis=1)
        count = ops.sum(ops.cast(mask, x.dtype), axis=1)
        return total / ops.maximum(count, 1)

    def compute_mask(self, x, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


@keras.saving.register_keras_serializable(package=PACKAGE)
class AdditiveAttentionPooling(layers.Layer):
    """Bahdanau-style pooling: softmax of scores over real (unmasked) steps; output = sum_t a_t h_t.
    [batch, time, features] -> [batch, features].

    query="none" (default): a query-free scorer, score_t = v . tanh(W h_t + b); called on the states.
    query="final_state": the notes' Bahdanau attention, score_t = v . tanh(W h_t + U q + b) with a
    query q [batch, query_features]; called on [states, q], q being the recurrent layer's state
    after the last real step (its return_state, which respects the mask). Padded steps get weight 0
    either way. The default's weights and config are those of the layer before `query` existed, so
    older saved models (no `query` key) load unchanged."""

    QUERIES = ("none", "final_state")

    def __init__(self, units: int, query: str = "none", **kwargs):
        super().__init__(**kwargs)
        if query not in self.QUERIES:
            raise ValueError(f"AdditiveAttentionPooling: query must be one of {self.QUERIES}, got {query!r}")
        self.units, self.query = units, query
        self.supports_masking = True

    def build(self, input_shape):
        states_shape = input_shape[0] if self.query != "none" else input_shape
        self.project = self.add_weight(name="W", shape=(states_shape[-1], self.units))
        self.bias = self.add_weight(name="b", shape=(self.units,), initializer="zeros")
        self.score = self.add_weight(name="v", shape=(self.units, 1))
        if self.query != "none":  # created last: the default's weight list stays as it was
            self.project_query = self.add_weight(name="U", shape=(input_shape[1][-1], self.units))
        super().build(input_shape)

    def _split(self, inputs, mask):
        """(states, query or None, the states' mask or None) from the call's inputs and mask."""
        if isinstance(mask, (list, tuple)):  # [states' mask, query's (None)] in a functional model
            mask = mask[0]
        if self.query == "none":
            return inputs, None, mask
        states, query = inputs
        return states, query, mask

    def scores(self, inputs, mask=None):
        """Unnormalised scores [batch, time]; padded steps -1e9 (so weight 0 after the softmax)."""
        states, query, mask = self._split(inputs, mask)
        hidden = ops.matmul(states, self.project)
        if query is not None:
            hidden = hidden + ops.expand_dims(ops.matmul(query, self.project_query), 1)
        scores = ops.squeeze(ops.matmul(ops.tanh(hidden + self.bias), self.score), -1)
        if mask is not None:  # padded steps get -inf-like scores, so zero weight after softmax
            scores = ops.where(mask, scores, ops.full_like(scores, -1e9))
        return scores

    def attention_weights(self, inputs, mask=None):
        """a_t [batch, time]: sums to 1 over each row's real steps, 0 on padding."""
        return ops.softmax(self.scores(inputs, mask), axis=-1)

    def call(self, states, mask=None):
        weights = self.attention_weights(states, mask)
        values = states[0] if self.query != "none" else states
        return ops.sum(values * ops.expand_dims(weights, -1), axis=1)

    def compute_mask(self, states, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        states_shape = input_shape[0] if self.query != "none" else input_shape
        return (states_shape[0], states_shape[-1])

    def get_config(self):
        config = {**super().get_config(), "units": self.units}
        if self.query != "none":  # the default's config is the pre-`query` one
            config["query"] = self.query
        return config


PAIR_HASH = 1_000_003  # a word pair's slot: (left * PAIR_HASH + right) % bigram_buckets (also nb_logistic's)


@keras.saving.register_keras_serializable(package=PACKAGE)
class MultiHot(layers.Layer):
    """Token ids [batch, time] -> multi-hot bag [batch, vocab + bigram_buckets]; padding (0) ignored.

    With bigram_buckets > 0 the bag also holds word pairs (two adjacent non-pad tokens), each
    hashed into one of that many slots after the vocabulary: word order within a pair is kept,
    and a pair never spans padding, so the bag is the same however the text is padded."""

    def __init__(self, vocab_size: int, bigram_buckets: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.bigram_buckets = vocab_size, bigram_buckets
        self.encode = layers.CategoryEncoding(num_tokens=vocab_size + bigram_buckets, output_mode="multi_hot")

    def build(self, input_shape):
        self.encode.build(input_shape)
        super().build(input_shape)

    def call(self, ids):
        ids = ops.cast(ids, "int32")
        if self.bigram_buckets:
            left, right = ids[:, :-1], ids[:, 1:]
            # int64: left * PAIR_HASH overflows int32 for vocabularies above ~2k
            slot = (ops.cast(left, "int64") * PAIR_HASH + ops.cast(right, "int64")) % self.bigram_buckets
            pairs = ops.where((left > 0) & (right > 0), ops.cast(slot, "int32") + self.vocab_size, 0)
            ids = ops.concatenate([ids, pairs], axis=1)
        width = self.vocab_size + self.bigram_buckets
        not_pad = ops.concatenate([ops.zeros((1,)), ops.ones((width - 1,))])
        return self.encode(ids) * not_pad

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.vocab_size + self.bigram_buckets)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "bigram_buckets": self.bigram_buckets}


# --- LSTM with a fused CPU loop -----------------------------------------------------------------
# Keras' LSTM on CPU steps through time in a `tf.while_loop` of small ops (plus a select per step
# when masked); on GPU it hands the loop to cuDNN. `LSTM` below is Keras' layer (same arguments,
# weights and maths) whose loop on CPU is TensorFlow's `BlockLSTMV2` kernel: the whole recurrence,
# forward and backward, in C++. On IMDB's 2-core benchmark that makes training ~2x faster than the
# masked Keras loop (README, "Training speed").
# Masking works as in Keras, wherever the padding sits: each row's real steps are gathered to the
# front (last-to-first for `go_backwards`), the kernel runs over them, and the state after a row's
# last real step is its result. Outputs at padded steps are zeros, as with cuDNN; the mask flows on.
# What the kernel cannot do (dropout inside the layer, other activations, unroll) and GPUs fall back
# to Keras' own loop.

@tf.custom_gradient
def _block_lstm(x, h0, c0, w, b, steps):
    """Time-major x [time, batch, in] -> (h, c) [time, batch, units] for every step.

    TF registers BlockLSTM's (ICFO) gradient for BlockLSTMV2 (IFCO, Keras' gate order) as well,
    which gives wrong weight gradients, so the V2 gradient kernel is wired in here."""
    zeros = tf.zeros(tf.shape(h0)[1:], b.dtype)  # no peepholes
    kernel_args = dict(seq_len_max=steps, x=x, cs_prev=c0, h_prev=h0, w=w, wci=zeros, wcf=zeros,
                       wco=zeros, b=b, use_peephole=False)
    i, c, f, o, ci, co, h = tf.raw_ops.BlockLSTMV2(cell_clip=0.0, **kernel_args)  # 0: no clipping

    def grad(dh, dc):
        dc = tf.zeros_like(c) if dc is None else dc
        dh = tf.zeros_like(h) if dh is None else dh
        dx, dc0, dh0, dw, _, _, _, db = tf.raw_ops.BlockLSTMGradV2(
            i=i, cs=c, f=f, o=o, ci=ci, co=co, h=h, cs_grad=dc, h_grad=dh, **kernel_args)
        return dx, dh0, dc0, dw, db, None

    return (h, c), grad


def fused_lstm(inputs, h0, c0, mask, kernel, recurrent_kernel, bias, return_sequences, go_backwards):
    """Keras' masked LSTM loop on batch-major inputs [batch, time, in]; returns Keras' inner-loop
    triple (last output, outputs, [h, c])."""
    batch, time = tf.shape(inputs)[0], tf.shape(inputs)[1]
    if mask is None:
        mask = tf.ones([batch, time], tf.bool)
    mask = tf.cast(mask, tf.bool)
    lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
    # Reading order: real steps first (last-to-first when going backwards), padding after.
    position = tf.range(time)[tf.newaxis, :]
    reading = (time - 1 - position) if go_backwards else position
    order = tf.argsort(tf.where(mask, reading, time + position), axis=1)
    x = tf.transpose(tf.gather(inputs, order, batch_dims=1), [1, 0, 2])  # [time, batch, in]
    steps = tf.cast(tf.maximum(tf.reduce_max(lengths), 1), tf.int64)  # kernel stops after these
    w = tf.concat([kernel, recurrent_kernel], axis=0)  # [in + units, 4 units], gates i, f, c, o
    # Variables stay float32 under a mixed-precision policy; the kernel wants one dtype.
    h, c = _block_lstm(x, h0, c0, tf.cast(w, x.dtype), tf.cast(bias, x.dtype), steps)  # time-major

    last = tf.stack([tf.maximum(lengths - 1, 0), tf.range(batch)], axis=1)  # (step, row) per row
    has_steps = (lengths > 0)[:, tf.newaxis]  # a row of padding only keeps its initial state
    h_last = tf.where(has_steps, tf.gather_nd(h, last), h0)
    c_last = tf.where(has_steps, tf.gather_nd(c, last), c0)
    if not return_sequences:
        return h_last, h_last[:, tf.newaxis, :], [h_last, c_last]
    # Batch-major, back to input positions.
    outputs = tf.gather(tf.transpose(h, [1, 0, 2]), tf.argsort(order, axis=1), batch_dims=1)
    outputs = tf.where(mask[:, :, tf.newaxis], outputs, tf.zeros_like(outputs))
    if go_backwards:  # Keras returns a backward layer's outputs in reading order
        outputs = tf.reverse(outputs, axis=[1])
    return h_last, outputs, [h_last, c_last]


@keras.saving.register_keras_serializable(package=PACKAGE)
class LSTM(keras.layers.LSTM):
    """keras.layers.LSTM with the fused CPU loop above; a drop-in (same arguments and weights)."""

    def _fused(self) -> bool:
        from rnnops.models.fused_gru import lean_loop_applies

        return lean_loop_applies(self)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not self._fused():
            return super().inner_loop(sequences, initial_state, mask, training=training)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        cell = self.cell
        return fused_lstm(sequences, initial_state[0], initial_state[1], mask, cell.kernel.value,
                          cell.recurrent_kernel.value, cell.bias.value, self.return_sequences,
                          self.go_backwards)


# Keras' GRU with a leaner CPU loop lives in its own module; importing it here registers it for
# everything that loads rnnops models by importing this module.
from rnnops.models.fused_gru import GRU  # noqa: E402,F401
