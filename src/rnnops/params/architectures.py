"""The params of every registered architecture (one pydantic class per `models.<name>` block).

Which class validates which architecture is `ARCHITECTURES`, the one list of architecture names:
params validation reads it without importing Keras or the builders, and `rnnops.models.bodies`
has exactly one builder per name here (a test checks both lists agree).
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ModelParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    architecture: str | None = Field(None, description="registered builder; default: the key under models")
    dropout: float = Field(0.2, ge=0.0, lt=1.0, description="dropout before the head")
    dense_units: int = Field(0, ge=0, le=4096, description="hidden Dense before the head; 0 = none")
    batch_norm: bool = Field(False, description=(
        "batch normalisation of the features entering the head (and of the hidden Dense's output)"))
    window: int | None = Field(None, ge=1, le=100_000, description=(
        "numeric inputs (forecasting): read only the last `window` steps of each prepared window "
        "(at most data.window; tunable); null = all. Text models take no window"))


class RecurrentParams(ModelParams):
    embedding_dim: int = Field(64, ge=2, le=2048, description="embedding width")
    units: int = Field(64, ge=1, le=4096, description="recurrent units (per direction)")
    recurrent_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout on recurrent state")
    one_hot: bool = Field(False, description=(
        "token inputs as one-hot vectors of the vocabulary instead of an embedding (the notes' "
        "character model; embedding_dim is then unused); small vocabularies only"))


class RnnParams(RecurrentParams):
    cell: Literal["simple_rnn", "lstm", "gru"] = Field("lstm", description="recurrent cell")
    bidirectional: bool = Field(False, description="read the sequence both ways")
    layers: int = Field(1, ge=1, le=8, description="stacked layers of the cell")


class StackedParams(ModelParams):
    embedding_dim: int = Field(64, ge=2, le=2048, description="embedding width")
    units: list[int] = Field([64, 32], min_length=2, max_length=8, description="units per recurrent layer")
    cell: Literal["simple_rnn", "lstm", "gru"] = Field("lstm", description="the cell of every layer")
    one_hot: bool = Field(False, description="token inputs as one-hot vectors instead of an embedding")
    recurrent_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout on recurrent state")


class AttentionParams(RecurrentParams):
    attention_units: int = Field(32, ge=1, le=1024, description="width of the attention scorer")
    query: Literal["none", "final_state"] = Field("none", description=(
        "none: a query-free scorer, score_t = v . tanh(W h_t + b); final_state: the notes' Bahdanau "
        "attention with the LSTM's state after the last real token as query q, "
        "score_t = v . tanh(W1 q + W2 h_t + b)"))


class TransformerParams(ModelParams):
    embedding_dim: int = Field(64, ge=4, le=2048, description="model width")
    heads: int = Field(2, ge=1, le=64, description="attention heads")
    ff_dim: int = Field(128, ge=1, le=16384, description="feed-forward width")
    blocks: int = Field(1, ge=1, le=24, description="encoder blocks")


class MultiHotParams(ModelParams):
    hidden_units: list[int] = Field([64, 32], min_length=1, max_length=4, description="Dense widths")
    bigram_buckets: int = Field(0, ge=0, le=4_194_304, description="hashed slots for word pairs added "
                                                                  "to the bag; 0 = single words only")


class NBLogisticParams(ModelParams):
    """NBSVM's features with logistic regression (Wang & Manning 2012), the classical peer of the
    text classifiers: the binary bag of words (and hashed word pairs) scaled by each feature's
    naive-Bayes log-count ratio on the training split, fitted by scikit-learn, not by epochs."""
    dropout: float = Field(0.0, ge=0.0, le=0.0, description="unused: fitted in closed form (0 only)")
    bigram_buckets: int = Field(262_144, ge=0, le=4_194_304, description=(
        "hashed slots for word pairs (the hashing of multihot_dense); 0 = single words only"))
    alpha: float = Field(1.0, gt=0.0, le=100.0, description="naive-Bayes smoothing count of every feature")
    C: float = Field(1.0, gt=0.0, le=1e6, description="inverse L2 strength of the logistic regression")

    @model_validator(mode="after")
    def _linear(self) -> "NBLogisticParams":
        if self.dense_units or self.batch_norm:
            raise ValueError("nb_logistic is a linear model: dense_units must be 0 and batch_norm false")
        return self


class DenseParams(ModelParams):
    embedding_dim: int = Field(16, ge=2, le=2048, description="embedding width (token inputs only)")
    hidden_units: list[int] = Field([64], min_length=1, max_length=4, description="Dense widths")


class Seq2SeqRnnParams(ModelParams):
    """An encoder-decoder RNN (sequence-to-sequence): the encoder's final states start the decoder."""
    embedding_dim: int = Field(64, ge=2, le=2048, description="embedding width (source and target, each its own)")
    cell: Literal["lstm", "gru"] = Field("lstm", description="recurrent cell of encoder and decoder")
    units: int = Field(128, ge=1, le=4096, description="decoder units; a bidirectional encoder has units/2 per direction")
    layers: int = Field(1, ge=1, le=4, description="stacked layers in the encoder and in the decoder")
    bidirectional: bool = Field(False, description="read the source both ways (units must be even)")
    attention: Literal["none", "bahdanau", "luong_dot", "luong_general"] = Field("bahdanau", description=(
        "none (the notes' first model: the final states carry the whole source), bahdanau (additive: "
        "v . tanh(W1 query + W2 values), query = the decoder state) or luong (dot / general: query . W values)"))
    attention_units: int = Field(64, ge=1, le=1024, description="bahdanau: width of the scorer")

    @model_validator(mode="after")
    def _even(self) -> "Seq2SeqRnnParams":
        if self.bidirectional and self.units % 2:
            raise ValueError(f"units {self.units} with bidirectional: true must be even (units/2 per direction)")
        return self


class Seq2SeqTransformerParams(ModelParams):
    """A Transformer encoder-decoder: causal self-attention and cross-attention in the decoder."""
    embedding_dim: int = Field(64, ge=4, le=2048, description="model width")
    heads: int = Field(4, ge=1, le=64, description="attention heads")
    ff_dim: int = Field(128, ge=1, le=16384, description="feed-forward width")
    blocks: int = Field(2, ge=1, le=12, description="encoder blocks and decoder blocks (each)")


# architecture name (the key under `models:`, or its `architecture:` value) -> its params class
ARCHITECTURES: dict[str, type[ModelParams]] = {
    "simple_rnn": RecurrentParams,
    "lstm": RecurrentParams,
    "gru": RecurrentParams,
    "bilstm": RecurrentParams,
    "bigru": RecurrentParams,
    "rnn": RnnParams,
    "stacked_lstm": StackedParams,
    "lstm_attention": AttentionParams,
    "transformer": TransformerParams,
    "multihot_dense": MultiHotParams,
    "nb_logistic": NBLogisticParams,
    "dense": DenseParams,
    "seq2seq_rnn": Seq2SeqRnnParams,
    "seq2seq_transformer": Seq2SeqTransformerParams,
}
