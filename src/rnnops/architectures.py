"""The architecture registry: one registered builder function (Keras functional API) per entry.

Adding an architecture = a function decorated with @register(name, ParamsModel) here, plus its
block under `models:` in params.yaml. Every builder takes (model params, dataset spec) and
returns an uncompiled model from token ids [batch, time] (0 = padding) to class probabilities:
one sigmoid unit for binary tasks, a softmax over classes otherwise.

This module imports Keras only inside the builders, so params validation stays light.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class DatasetSpec:
    vocab_size: int
    num_classes: int
    max_len: int

    @classmethod
    def from_json(cls, spec: dict) -> "DatasetSpec":
        return cls(spec["vocab_size"], spec["num_classes"], spec["max_len"])


class ModelParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    architecture: str | None = Field(None, description="registered builder; default: the key under models")
    dropout: float = Field(0.2, ge=0.0, lt=1.0, description="dropout before the head")
    dense_units: int = Field(0, ge=0, le=4096, description="hidden Dense before the head; 0 = none")


class RecurrentParams(ModelParams):
    embedding_dim: int = Field(64, ge=2, le=2048, description="embedding width")
    units: int = Field(64, ge=1, le=4096, description="recurrent units (per direction)")
    recurrent_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout on recurrent state")


class RnnParams(RecurrentParams):
    cell: Literal["simple_rnn", "lstm", "gru"] = Field("lstm", description="recurrent cell")
    bidirectional: bool = Field(False, description="read the sequence both ways")


class StackedParams(ModelParams):
    embedding_dim: int = Field(64, ge=2, le=2048, description="embedding width")
    units: list[int] = Field([64, 32], min_length=2, max_length=8, description="units per LSTM layer")
    recurrent_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout on recurrent state")


class AttentionParams(RecurrentParams):
    attention_units: int = Field(32, ge=1, le=1024, description="width of the attention scorer")


class TransformerParams(ModelParams):
    embedding_dim: int = Field(64, ge=4, le=2048, description="model width")
    heads: int = Field(2, ge=1, le=64, description="attention heads")
    ff_dim: int = Field(128, ge=1, le=16384, description="feed-forward width")
    blocks: int = Field(1, ge=1, le=24, description="encoder blocks")


class MultiHotParams(ModelParams):
    hidden_units: list[int] = Field([64, 32], min_length=1, max_length=4, description="Dense widths")
    bigram_buckets: int = Field(0, ge=0, le=4_194_304, description="hashed slots for word pairs added "
                                                                  "to the bag; 0 = single words only")


@dataclass(frozen=True)
class Architecture:
    name: str
    params: type[ModelParams]
    build: Callable


REGISTRY: dict[str, Architecture] = {}


def register(name: str, params: type[ModelParams]):
    def decorate(build: Callable) -> Callable:
        REGISTRY[name] = Architecture(name, params, build)
        return build
    return decorate


def build_model(architecture: str, params: ModelParams, spec: DatasetSpec):
    return REGISTRY[architecture].build(params, spec)


# --- shared pieces ----------------------------------------------------------------------------

def _inputs():
    import keras

    # Variable length: batches are padded to their own longest sequence (see rnnops.data).
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

    from rnnops.layers import LSTM  # Keras' LSTM with a fused CPU loop

    ids = _inputs()
    x = _embedded(ids, spec.vocab_size, p.embedding_dim)
    recurrent = LSTM if layer == "LSTM" else getattr(keras.layers, layer)
    cell = recurrent(p.units, recurrent_dropout=p.recurrent_dropout, return_sequences=return_sequences)
    return ids, keras.layers.Bidirectional(cell)(x) if bidirectional else cell(x)


# --- the registry -----------------------------------------------------------------------------

@register("simple_rnn", RecurrentParams)
def simple_rnn(p: RecurrentParams, spec: DatasetSpec):
    return _head(*_recurrent("SimpleRNN", p, spec), p, spec, "simple_rnn")


@register("lstm", RecurrentParams)
def lstm(p: RecurrentParams, spec: DatasetSpec):
    return _head(*_recurrent("LSTM", p, spec), p, spec, "lstm")


@register("gru", RecurrentParams)
def gru(p: RecurrentParams, spec: DatasetSpec):
    return _head(*_recurrent("GRU", p, spec), p, spec, "gru")


@register("bilstm", RecurrentParams)
def bilstm(p: RecurrentParams, spec: DatasetSpec):
    return _head(*_recurrent("LSTM", p, spec, bidirectional=True), p, spec, "bilstm")


@register("bigru", RecurrentParams)
def bigru(p: RecurrentParams, spec: DatasetSpec):
    return _head(*_recurrent("GRU", p, spec, bidirectional=True), p, spec, "bigru")


@register("rnn", RnnParams)
def rnn(p: RnnParams, spec: DatasetSpec):
    """One recurrent layer whose cell and direction are hyperparameters (the tuning space)."""
    layer = {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}[p.cell]
    return _head(*_recurrent(layer, p, spec, bidirectional=p.bidirectional), p, spec, "rnn")


@register("stacked_lstm", StackedParams)
def stacked_lstm(p: StackedParams, spec: DatasetSpec):
    from rnnops.layers import LSTM

    ids = _inputs()
    x = _embedded(ids, spec.vocab_size, p.embedding_dim)
    for i, units in enumerate(p.units):
        last = i == len(p.units) - 1
        # Every layer but the last hands its whole sequence (and the mask) to the next.
        x = LSTM(units, return_sequences=not last, recurrent_dropout=p.recurrent_dropout)(x)
    return _head(ids, x, p, spec, "stacked_lstm")


@register("lstm_attention", AttentionParams)
def lstm_attention(p: AttentionParams, spec: DatasetSpec):
    from rnnops.layers import AdditiveAttentionPooling

    ids, states = _recurrent("LSTM", p, spec, return_sequences=True)  # [batch, time, units]
    pooled = AdditiveAttentionPooling(p.attention_units, name="attention")(states)  # [batch, units]
    return _head(ids, pooled, p, spec, "lstm_attention")


@register("transformer", TransformerParams)
def transformer(p: TransformerParams, spec: DatasetSpec):
    import keras

    from rnnops.layers import TokenAndPositionEmbedding, TransformerEncoder

    ids = _inputs()
    x = TokenAndPositionEmbedding(spec.vocab_size, spec.max_len, p.embedding_dim)(ids)
    for _ in range(p.blocks):
        x = TransformerEncoder(p.embedding_dim, p.heads, p.ff_dim, p.dropout)(x)
    x = keras.layers.GlobalAveragePooling1D()(x)  # masked mean over real tokens
    return _head(ids, x, p, spec, "transformer")


@register("multihot_dense", MultiHotParams)
def multihot_dense(p: MultiHotParams, spec: DatasetSpec):
    import keras

    from rnnops.layers import MultiHot

    ids = _inputs()
    x = MultiHot(spec.vocab_size, p.bigram_buckets)(ids)  # bag of words (and pairs): padding plays no part
    for units in p.hidden_units:
        x = keras.layers.Dense(units, activation="relu")(x)
    return _head(ids, x, p, spec, "multihot_dense")

