"""The registry of model bodies: one builder function (Keras functional API) per architecture.

Adding an architecture = its params class in `rnnops.params.architectures` (listed in
ARCHITECTURES) plus a function decorated with @register(name) here, and its block under `models:`
in params.yaml. Every builder takes (model params, dataset spec) and returns an uncompiled model
from token ids [batch, time] (0 = padding) to class probabilities: one sigmoid unit for binary
tasks, a softmax over classes otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rnnops.params.architectures import (ARCHITECTURES, AttentionParams, ModelParams, MultiHotParams,
                                         RecurrentParams, RnnParams, StackedParams, TransformerParams)


@dataclass(frozen=True)
class DatasetSpec:
    vocab_size: int
    num_classes: int
    max_len: int

    @classmethod
    def from_json(cls, spec: dict) -> "DatasetSpec":
        return cls(spec["vocab_size"], spec["num_classes"], spec["max_len"])


BODIES: dict[str, Callable] = {}


def register(name: str):
    """Register a builder under an architecture name declared in ARCHITECTURES."""
    if name not in ARCHITECTURES:
        raise KeyError(f"architecture '{name}' has no params class in rnnops.params.architectures")

    def decorate(build: Callable) -> Callable:
        BODIES[name] = build
        return build
    return decorate


def build_model(architecture: str, params: ModelParams, spec: DatasetSpec):
    return BODIES[architecture](params, spec)


# --- shared pieces ----------------------------------------------------------------------------

def _inputs():
    import keras

    # Variable length: batches are padded to their own longest sequence (see rnnops.data.batches).
    return keras.Input(shape=(None,), dtype="int32", name="token_ids")


def _embedded(ids, vocab_size: int, dim: int):
    import keras

    # mask_zero: recurrent layers skip padded steps wherever the padding sits.
    return keras.layers.Embedding(vocab_size, dim, mask_zero=True, name="embedding")(ids)


def _head(ids, x, p: ModelParams, spec: DatasetSpec, name: str):
    import keras

    x = keras.layers.Dropout(p.dropout)(x)
    if p.dense_units:
        x = keras.layers.Dense(p.dense_units, activation="relu")(x)
        x = keras.layers.Dropout(p.dropout)(x)
    if spec.num_classes == 2:
        out = keras.layers.Dense(1, activation="sigmoid", name="probability")(x)  # P(class 1)
    else:
        out = keras.layers.Dense(spec.num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(ids, out, name=name)


def _recurrent(layer: str, p: RecurrentParams, spec: DatasetSpec, bidirectional=False,
               return_sequences=False):
    """(token ids input, recurrent output) for one recurrent layer over masked embeddings."""
    import keras

    from rnnops.models.layers import LSTM  # Keras' LSTM with a fused CPU loop

    ids = _inputs()
    x = _embedded(ids, spec.vocab_size, p.embedding_dim)
    recurrent = LSTM if layer == "LSTM" else getattr(keras.layers, layer)
    cell = recurrent(p.units, recurrent_dropout=p.recurrent_dropout, return_sequences=return_sequences)
    return ids, keras.layers.Bidirectional(cell)(x) if bidirectional else cell(x)


# --- the registry -----------------------------------------------------------------------------

@register("simple_rnn")
def simple_rnn(p: RecurrentParams, spec: DatasetSpec):
    return _head(*_recurrent("SimpleRNN", p, spec), p, spec, "simple_rnn")


@register("lstm")
def lstm(p: RecurrentParams, spec: DatasetSpec):
    return _head(*_recurrent("LSTM", p, spec), p, spec, "lstm")


@register("gru")
def gru(p: RecurrentParams, spec: DatasetSpec):
    return _head(*_recurrent("GRU", p, spec), p, spec, "gru")


@register("bilstm")
def bilstm(p: RecurrentParams, spec: DatasetSpec):
    return _head(*_recurrent("LSTM", p, spec, bidirectional=True), p, spec, "bilstm")


@register("bigru")
def bigru(p: RecurrentParams, spec: DatasetSpec):
    return _head(*_recurrent("GRU", p, spec, bidirectional=True), p, spec, "bigru")


@register("rnn")
def rnn(p: RnnParams, spec: DatasetSpec):
    """One recurrent layer whose cell and direction are hyperparameters (the tuning space)."""
    layer = {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}[p.cell]
    return _head(*_recurrent(layer, p, spec, bidirectional=p.bidirectional), p, spec, "rnn")


@register("stacked_lstm")
def stacked_lstm(p: StackedParams, spec: DatasetSpec):
    from rnnops.models.layers import LSTM

    ids = _inputs()
    x = _embedded(ids, spec.vocab_size, p.embedding_dim)
    for i, units in enumerate(p.units):
        last = i == len(p.units) - 1
        # Every layer but the last hands its whole sequence (and the mask) to the next.
        x = LSTM(units, return_sequences=not last, recurrent_dropout=p.recurrent_dropout)(x)
    return _head(ids, x, p, spec, "stacked_lstm")


@register("lstm_attention")
def lstm_attention(p: AttentionParams, spec: DatasetSpec):
    from rnnops.models.layers import AdditiveAttentionPooling

    ids, states = _recurrent("LSTM", p, spec, return_sequences=True)  # [batch, time, units]
    pooled = AdditiveAttentionPooling(p.attention_units, name="attention")(states)  # [batch, units]
    return _head(ids, pooled, p, spec, "lstm_attention")


@register("transformer")
def transformer(p: TransformerParams, spec: DatasetSpec):
    from rnnops.models.layers import MaskedMeanPooling, TokenAndPositionEmbedding, TransformerEncoder

    ids = _inputs()
    x = TokenAndPositionEmbedding(spec.vocab_size, spec.max_len, p.embedding_dim)(ids)
    for _ in range(p.blocks):
        x = TransformerEncoder(p.embedding_dim, p.heads, p.ff_dim, p.dropout)(x)
    x = MaskedMeanPooling()(x)  # mean over real tokens; zeros (not 0/0) for a text without any
    return _head(ids, x, p, spec, "transformer")


@register("multihot_dense")
def multihot_dense(p: MultiHotParams, spec: DatasetSpec):
    import keras

    from rnnops.models.layers import MultiHot

    ids = _inputs()
    x = MultiHot(spec.vocab_size, p.bigram_buckets)(ids)  # bag of words (and pairs): padding plays no part
    for units in p.hidden_units:
        x = keras.layers.Dense(units, activation="relu")(x)
    return _head(ids, x, p, spec, "multihot_dense")

