"""The registry of model bodies: one builder function (Keras functional API) per architecture.

Adding an architecture = its params class in `rnnops.params.architectures` (listed in
ARCHITECTURES) plus a function decorated with @register(name) here, and its block under `models:`
in params.yaml. Every builder takes (model params, dataset spec) and returns an uncompiled model.
The spec says what goes in and what comes out, so one body serves every task:
- in: token ids [batch, time] (0 = padding) through an embedding, or numeric steps
  [batch, window, features] (forecasting windows; `embedding_dim` does not apply);
- out: class probabilities (one sigmoid unit for two classes, a softmax otherwise), `outputs`
  linear values (a forecast of `horizon` steps), or, for a language model (`sequence`), a softmax
  over the vocabulary at every step (recurrent layers return sequences; the Transformer is causal).
Which bodies a task may use is the task's `bodies` list (rnnops.tasks).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rnnops.params.architectures import (ARCHITECTURES, AttentionParams, DenseParams, ModelParams,
                                         MultiHotParams, NBLogisticParams, RecurrentParams, RnnParams,
                                         StackedParams, TransformerParams)


@dataclass(frozen=True)
class DatasetSpec:
    vocab_size: int       # token inputs: ids 0..vocab_size-1; numeric inputs: 0
    num_classes: int      # classification head; 0 for a regression head
    max_len: int          # tokens per text, or steps per window
    features: int = 0     # numeric values per step; 0 = token ids
    outputs: int = 0      # regression head width (forecast horizon); 0 = class probabilities
    anchored: bool = False  # numeric: read the window relative to its last step, forecast the change
    sequence: bool = False  # language model: the next token's distribution at every step
    target_len: int = 0   # sequence-to-sequence: decoder steps (target tokens + end); 0 = not seq2seq.
    #                       Then vocab_size is the source side's, num_classes the target side's.

    @property
    def seq2seq(self) -> bool:
        return self.target_len > 0

    @property
    def numeric(self) -> bool:
        return self.features > 0

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

def _inputs(spec: DatasetSpec):
    import keras

    if spec.numeric:  # a fixed window of past steps, every value real (no padding, no mask)
        return keras.Input(shape=(spec.max_len, spec.features), dtype="float32", name="window")
    # Variable length: batches are padded to their own longest sequence (see rnnops.data.batches).
    return keras.Input(shape=(None,), dtype="int32", name="token_ids")


def model_inputs(spec: DatasetSpec):
    """The Input every body of this spec starts from (also the fold-average model's)."""
    return _inputs(spec)


def _embedded(ids, spec: DatasetSpec, p: ModelParams):
    """Token ids -> masked embeddings [batch, time, embedding_dim]; numeric steps -> the last
    `p.window` of them (all when null), relative to the last step when the spec is anchored."""
    import keras

    if spec.numeric:
        from rnnops.models.layers import CenterOnLast

        x = ids
        if p.window and p.window < spec.max_len:  # a shorter look-back than the prepared window
            x = keras.layers.Cropping1D((spec.max_len - p.window, 0), name="last_steps")(x)
        return CenterOnLast(name="center_on_last")(x) if spec.anchored else x
    if getattr(p, "one_hot", False):  # the notes' character model: a vocabulary-wide 0/1 vector per step
        from rnnops.models.layers import OneHotTokens

        return OneHotTokens(spec.vocab_size, name="one_hot")(ids)
    dim = p.embedding_dim
    # mask_zero: recurrent layers skip padded steps wherever the padding sits.
    return keras.layers.Embedding(spec.vocab_size, dim, mask_zero=True, name="embedding")(ids)


def _head(ids, x, p: ModelParams, spec: DatasetSpec, name: str):
    import keras

    if p.batch_norm:  # statistics over the batch (and steps) per feature; the mask plays no part here
        x = keras.layers.BatchNormalization(name="head_norm")(x)
    x = keras.layers.Dropout(p.dropout)(x)  # [batch, features], or [batch, time, features] (sequence)
    if p.dense_units:
        x = keras.layers.Dense(p.dense_units, activation="relu")(x)
        if p.batch_norm:
            x = keras.layers.BatchNormalization(name="hidden_norm")(x)
        x = keras.layers.Dropout(p.dropout)(x)
    if spec.sequence:  # [batch, time, vocab]: P(next token) after every prefix of the window
        out = keras.layers.Dense(spec.vocab_size, activation="softmax", name="next_token")(x)
    elif spec.outputs:  # one value per forecast step, in the scaled units of the target
        out = keras.layers.Dense(spec.outputs, name="forecast" if not spec.anchored else "change")(x)
        if spec.anchored:  # the change from the window's last target value, added back
            from rnnops.models.layers import AddLastValue

            out = AddLastValue(name="forecast")([out, ids])
    elif spec.num_classes == 2:
        out = keras.layers.Dense(1, activation="sigmoid", name="probability")(x)  # P(class 1)
    else:
        out = keras.layers.Dense(spec.num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(ids, out, name=name)


CELLS = {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}  # a `cell` param -> its Keras layer


def _cell_layer(cell: str):
    """The recurrent layer class of a cell name (`lstm` or `LSTM`): rnnops' LSTM and GRU, Keras'
    layers with a faster CPU loop (same arguments, weights and maths), or Keras' SimpleRNN."""
    import keras

    from rnnops.models.fused_gru import GRU
    from rnnops.models.layers import LSTM

    name = CELLS.get(cell, cell)
    return {"LSTM": LSTM, "GRU": GRU}.get(name) or getattr(keras.layers, name)


def _recurrent(layer: str, p: RecurrentParams, spec: DatasetSpec, bidirectional=False,
               return_sequences=False, layers: int = 1):
    """(inputs, recurrent output) for `layers` stacked recurrent layers over the embedded inputs;
    every layer but the last hands its whole sequence (and the mask) to the next."""
    import keras

    ids = _inputs(spec)
    x = _embedded(ids, spec, p)
    recurrent = _cell_layer(layer)
    for i in range(layers):
        cell = recurrent(p.units, recurrent_dropout=p.recurrent_dropout,
                         return_sequences=return_sequences or spec.sequence or i < layers - 1)
        x = keras.layers.Bidirectional(cell)(x) if bidirectional else cell(x)
    return ids, x


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
    """Recurrent layers whose cell, direction and depth are hyperparameters (the tuning space)."""
    return _head(*_recurrent(CELLS[p.cell], p, spec, bidirectional=p.bidirectional, layers=p.layers), p, spec, "rnn")


@register("stacked_lstm")
def stacked_lstm(p: StackedParams, spec: DatasetSpec):
    """Recurrent layers of `p.cell` (LSTM by default, hence the name), each with its own width."""
    ids = _inputs(spec)
    x = _embedded(ids, spec, p)
    layer = _cell_layer(p.cell)
    for i, units in enumerate(p.units):
        last = i == len(p.units) - 1
        # Every layer but the last hands its whole sequence (and the mask) to the next.
        x = layer(units, return_sequences=not last or spec.sequence, recurrent_dropout=p.recurrent_dropout)(x)
    return _head(ids, x, p, spec, "stacked_lstm")


@register("lstm_attention")
def lstm_attention(p: AttentionParams, spec: DatasetSpec):
    from rnnops.models.layers import LSTM, AdditiveAttentionPooling

    if p.query == "none":  # query-free scorer (the model as it was before `query`)
        ids, states = _recurrent("LSTM", p, spec, return_sequences=True)  # [batch, time, units]
        pooled = AdditiveAttentionPooling(p.attention_units, name="attention")(states)  # [batch, units]
        return _head(ids, pooled, p, spec, "lstm_attention")
    # Bahdanau with a query: the LSTM's state after each row's last real token (return_state
    # respects the mask, wherever the padding sits) scores every step's output.
    ids = _inputs(spec)
    states, final, _ = LSTM(p.units, recurrent_dropout=p.recurrent_dropout, return_sequences=True,
                            return_state=True)(_embedded(ids, spec, p))
    pooled = AdditiveAttentionPooling(p.attention_units, query=p.query, name="attention")([states, final])
    return _head(ids, pooled, p, spec, "lstm_attention")


@register("transformer")
def transformer(p: TransformerParams, spec: DatasetSpec):
    from rnnops.models.layers import (MaskedMeanPooling, StepAndPositionEmbedding,
                                      TokenAndPositionEmbedding, TransformerEncoder)

    ids = _inputs(spec)
    if spec.numeric:  # each step's values projected to the model width, plus its position
        steps = min(p.window or spec.max_len, spec.max_len)
        x = StepAndPositionEmbedding(steps, p.embedding_dim)(_embedded(ids, spec, p))
    else:
        x = TokenAndPositionEmbedding(spec.vocab_size, spec.max_len, p.embedding_dim)(ids)
    for _ in range(p.blocks):  # causal for a language model: step t attends to steps <= t only
        x = TransformerEncoder(p.embedding_dim, p.heads, p.ff_dim, p.dropout, causal=spec.sequence)(x)
    if not spec.sequence:
        x = MaskedMeanPooling()(x)  # mean over real tokens; zeros (not 0/0) for a text without any
    return _head(ids, x, p, spec, "transformer")


@register("multihot_dense")
def multihot_dense(p: MultiHotParams, spec: DatasetSpec):
    import keras

    from rnnops.models.layers import MultiHot

    ids = _inputs(spec)
    x = MultiHot(spec.vocab_size, p.bigram_buckets)(ids)  # bag of words (and pairs): padding plays no part
    for units in p.hidden_units:
        x = keras.layers.Dense(units, activation="relu")(x)
    return _head(ids, x, p, spec, "multihot_dense")


@register("nb_logistic")
def nb_logistic(p: NBLogisticParams, spec: DatasetSpec):
    """The bag of multihot_dense straight into the head: a linear model whose weights
    rnnops.models.nb_logistic fits with scikit-learn (the training loop skips epochs for it)."""
    from rnnops.models.layers import MultiHot

    ids = _inputs(spec)
    x = MultiHot(spec.vocab_size, p.bigram_buckets, name="bag")(ids)
    return _head(ids, x, p, spec, "nb_logistic")


@register("dense")
def dense(p: DenseParams, spec: DatasetSpec):
    """The baseline without recurrence: the flattened window through Dense layers."""
    import keras

    ids = _inputs(spec)
    x = keras.layers.Flatten()(_embedded(ids, spec, p))
    for units in p.hidden_units:
        x = keras.layers.Dense(units, activation="relu")(x)
    return _head(ids, x, p, spec, "dense")


from rnnops.models import seq2seq as _seq2seq  # noqa: E402,F401 - registers the encoder-decoder bodies
