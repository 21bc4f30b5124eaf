"""Float64 NumPy mirrors of trained Keras layers, for incremental decoding: each copies a layer's
weights once and then steps it on a few rows at a time, with no framework overhead. Shared by the
language-model decoder (rnnops.tasks.generation.decoding) and the encoder-decoder one
(rnnops.tasks.seq2seq.decoding).

A stage (`Dense`, `Recurrent`, `TransformerBlock`) has `init()` -> its empty state and
`step(x, state)` -> (output, new state), x being [rows, features]; states are never written into.
"""
from __future__ import annotations

import numpy as np

ACTIVATIONS = {  # Keras activation (by function name) -> NumPy; softmax only for the head
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda x: 0.5 * np.tanh(0.5 * x) + 0.5,  # = 1/(1+e^-x), without overflow warnings
    "softmax": lambda x: softmax(x),
}


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def masked_softmax(scores, mask):  # as rnnops.models.seq2seq_layers: padding gets exactly 0
    return softmax(np.where(mask, scores, -1e9)) * mask


def weights_of(variable) -> np.ndarray:
    return np.array(variable, dtype=np.float64)  # float64: rounding stays far below the test's 1e-5


def unsupported(layer, why: str) -> ValueError:
    return ValueError(f"layer {type(layer).__name__} '{layer.name}' is not supported: {why}")


def activation_of(layer, fn) -> callable:
    name = getattr(fn, "__name__", str(fn))
    if name not in ACTIVATIONS:
        raise unsupported(layer, f"activation {name!r}")
    return ACTIVATIONS[name]


def layer_norm_params(norm):
    """A Keras LayerNormalization -> (gamma, beta, epsilon) for `layer_norm`."""
    if getattr(norm, "rms_scaling", False) or list(np.atleast_1d(norm.axis)) != [-1]:
        raise unsupported(norm, "only over the last axis, without rms_scaling")
    return weights_of(norm.gamma) if norm.scale else 1.0, weights_of(norm.beta) if norm.center else 0.0, norm.epsilon


def layer_norm(x, norm):
    gamma, beta, eps = norm  # sum()/n: ndarray.mean's Python wrapper costs more than the maths
    centred = x - x.sum(axis=-1, keepdims=True) / x.shape[-1]
    variance = (centred * centred).sum(axis=-1, keepdims=True) / x.shape[-1]
    return centred / np.sqrt(variance + eps) * gamma + beta


# --- stages: one per Keras layer; x is [rows, features], rows = consecutive positions -----------
# Recurrent stages only ever get one row; Transformer blocks get several when their caches are
# rebuilt. A stage's `project` is None once its input projection is folded into the token table.

class Dense:
    def __init__(self, layer):
        self.w, self.act = weights_of(layer.kernel), activation_of(layer, layer.activation)
        self.b = weights_of(layer.bias) if layer.use_bias else np.zeros(self.w.shape[1])

    def init(self):  # no state
        return None

    def step(self, x, state):
        return self.act(x @ self.w + self.b), None


class Recurrent:
    """SimpleRNN, GRU (reset_after) and LSTM cells. `project` = (input kernel, input bias)."""

    def __init__(self, layer, kind: str):
        import keras

        cell, self.kind, self.units = layer.cell, kind, layer.cell.units
        if layer.go_backwards or not layer.return_sequences:
            raise unsupported(layer, "a language model reads forwards and returns sequences")
        if kind != "simple_rnn" and cell.recurrent_activation is not keras.activations.sigmoid:
            raise unsupported(layer, "only a sigmoid recurrent activation")
        if kind == "lstm" and cell.activation is not keras.activations.tanh:
            raise unsupported(layer, "only a tanh activation")
        if kind == "gru" and not cell.reset_after:
            raise unsupported(layer, "only reset_after=True (Keras 3's default)")
        self.act = activation_of(layer, cell.activation)
        kernel, recurrent = weights_of(cell.kernel), weights_of(cell.recurrent_kernel)
        bias = weights_of(cell.bias) if cell.use_bias else np.zeros((2 if kind == "gru" else 1, kernel.shape[1]))
        if kind == "gru":  # reset_after: one bias for the input side, one for the recurrent side
            bias, self.recurrent_bias = bias[0], bias[1]
        bias = bias.reshape(-1)
        if kind == "lstm":
            # Keras' gate order is i, f, c, o; as i, f, o, c the three sigmoids are one slice, and
            # with those columns halved (exact in floating point) one tanh serves all four gates:
            # sigmoid(z) = 0.5 * tanh(z / 2) + 0.5.
            u = self.units
            order = np.r_[0:2 * u, 3 * u:4 * u, 2 * u:3 * u]
            scale = np.r_[np.full(3 * u, 0.5), np.ones(u)]
            kernel, recurrent, bias = kernel[:, order] * scale, recurrent[:, order] * scale, bias[order] * scale
        self.project, self.recurrent = (kernel, bias), recurrent

    def init(self):
        zero = np.zeros((1, self.units))
        return (zero, zero) if self.kind == "lstm" else zero

    def step(self, x, state):
        if self.project is not None:
            x = x @ self.project[0] + self.project[1]
        u = self.units
        if self.kind == "lstm":
            h, c = state
            t = np.tanh(x + h @ self.recurrent)
            s = 0.5 * t[:, :3 * u] + 0.5  # sigmoid of i, f, o
            c = s[:, u:2 * u] * c + s[:, :u] * t[:, 3 * u:]
            h = s[:, 2 * u:] * np.tanh(c)
            return h, (h, c)
        if self.kind == "gru":
            inner = state @ self.recurrent + self.recurrent_bias
            zr = 0.5 * np.tanh(0.5 * (x[:, :2 * u] + inner[:, :2 * u])) + 0.5
            z = zr[:, :u]
            candidate = self.act(x[:, 2 * u:] + zr[:, u:] * inner[:, 2 * u:])
            h = z * state + (1.0 - z) * candidate
            return h, h
        h = self.act(x + state @ self.recurrent)  # SimpleRNN
        return h, h


class TransformerBlock:
    """Post-norm causal block; its state is the (keys, values) cache, each [heads, tokens, key_dim]."""

    def __init__(self, layer):
        mha = layer.attention
        if not layer.causal or mha._value_dim != mha._key_dim:
            raise unsupported(layer, "only causal blocks (a language model) with value_dim = key_dim")
        dense = (mha._query_dense, mha._key_dense, mha._value_dense)
        self.heads, self.key_dim = mha._num_heads, mha._key_dim
        dim, width = layer.dim, self.heads * self.key_dim
        # Query, key and value projections as one [dim, 3 * heads * key_dim] matrix: one matmul.
        self.qkv = np.concatenate([weights_of(d.kernel).reshape(dim, width) for d in dense], axis=1)
        self.qkv_b = np.concatenate([np.zeros(width) if d.bias is None else weights_of(d.bias).reshape(width)
                                     for d in dense])
        self.qkv[:, :width] /= np.sqrt(self.key_dim)  # Keras scales the query by 1/sqrt(key_dim)
        self.qkv_b[:width] /= np.sqrt(self.key_dim)
        out = mha._output_dense
        self.out_w = weights_of(out.kernel).reshape(width, dim)
        self.out_b = weights_of(out.bias) if out.bias is not None else np.zeros(dim)
        self.ff_in, self.ff_out = Dense(layer.ff_in), Dense(layer.ff_out)
        self.norms = [layer_norm_params(n) for n in (layer.norm1, layer.norm2)]

    def init(self):
        empty = np.zeros((self.heads, 0, self.key_dim))
        return empty, empty

    def step(self, x, state):
        rows, h, k = x.shape[0], self.heads, self.key_dim
        qkv = (x @ self.qkv + self.qkv_b).reshape(rows, 3, h, k).transpose(1, 2, 0, 3)  # [3, h, rows, k]
        keys = np.concatenate([state[0], qkv[1]], axis=1)  # new arrays: the old state stays valid
        values = np.concatenate([state[1], qkv[2]], axis=1)
        scores = qkv[0] @ keys.transpose(0, 2, 1)  # [h, rows, cached + rows]
        if rows > 1:  # row i sits at cache position (cached + i): it sees keys up to there only
            cached = keys.shape[1] - rows
            future = np.arange(keys.shape[1])[None, :] > (cached + np.arange(rows))[:, None]
            scores = np.where(future, -np.inf, scores)
        attended = (softmax(scores) @ values).transpose(1, 0, 2).reshape(rows, h * k)
        x = layer_norm(x + attended @ self.out_w + self.out_b, self.norms[0])
        ff = self.ff_out.step(self.ff_in.step(x, None)[0], None)[0]
        return layer_norm(x + ff, self.norms[1]), (keys, values)


class Attention:
    """A Keras MultiHeadAttention's projections (value_dim = key_dim, as rnnops builds it), batched
    over rows: `project` to queries/keys/values, `attend` one query per row over a cache."""

    def __init__(self, mha):
        self.heads, self.key_dim = mha._num_heads, mha._key_dim
        dense = [(weights_of(d.kernel).reshape(d.kernel.shape[0], -1),
                  np.zeros(self.heads * self.key_dim) if d.bias is None else weights_of(d.bias).reshape(-1))
                 for d in (mha._query_dense, mha._key_dense, mha._value_dense)]
        dense[0] = tuple(a / np.sqrt(self.key_dim) for a in dense[0])  # Keras scales the query
        # Query, key and value as one [dim, 3 * heads * key_dim] matrix: one matmul per step.
        self.w, self.b = np.concatenate([w for w, _ in dense], axis=1), np.concatenate([b for _, b in dense])
        out = mha._output_dense
        self.out = (weights_of(out.kernel).reshape(-1, out.kernel.shape[-1]),
                    weights_of(out.bias) if out.bias is not None else 0.0)

    def project(self, x, which: slice):  # [..., dim] -> [..., len(which), heads, key_dim]; 0 q, 1 k, 2 v
        width = self.heads * self.key_dim
        w, b = self.w[:, which.start * width:which.stop * width], self.b[which.start * width:which.stop * width]
        return (x @ w + b).reshape(*x.shape[:-1], which.stop - which.start, self.heads, self.key_dim)

    def attend(self, q, keys, values, mask=None):  # q [n, h, k]; keys, values [n, h, t, k]
        scores = np.einsum("nhk,nhtk->nht", q, keys)
        weights = softmax(scores) if mask is None else masked_softmax(scores, mask[:, None, :])
        mixed = np.einsum("nht,nhtk->nhk", weights, values).reshape(len(q), -1)
        return mixed @ self.out[0] + self.out[1], weights
