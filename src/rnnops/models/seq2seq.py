"""The encoder-decoder bodies (sequence-to-sequence), registered in rnnops.models.bodies.

Both take (params, DatasetSpec with target_len > 0) and return an uncompiled functional Model:
- inputs "source" int32 [batch, S] (source ids, 0-padded at the end; vocabulary spec.vocab_size) and
  "target_in" int32 [batch, T] (<s> then the target ids, 0-padded): teacher forcing;
- output "next_token" float32 [batch, T, spec.num_classes]: P(target token t | source, target_in[:t+1]).
Padding is masked on both sides (mask_zero embeddings): the encoder skips source padding, attention
gives it zero weight, and the decoder is causal, so step t never sees target_in after t.

Layer names are part of the contract with rnnops.tasks.seq2seq.decoding (which rebuilds the encoder
from the trained graph and steps the decoder from the weights): source_embedding, encoder_<i>
(encoder_<i>_state_<j> for a bidirectional encoder's joined states), target_embedding, decoder_<i>,
attention, attentional, hidden, next_token; encoder_block_<i> and decoder_block_<i> for the
Transformer.
"""
from __future__ import annotations

from rnnops.models.bodies import DatasetSpec, register
from rnnops.params.architectures import Seq2SeqRnnParams, Seq2SeqTransformerParams


def _inputs():
    import keras

    return (keras.Input(shape=(None,), dtype="int32", name="source"),
            keras.Input(shape=(None,), dtype="int32", name="target_in"))


def _head(x, p, spec: DatasetSpec):
    import keras

    x = keras.layers.Dropout(p.dropout, name="head_dropout")(x)
    if p.dense_units:
        x = keras.layers.Dense(p.dense_units, activation="relu", name="hidden")(x)
        x = keras.layers.Dropout(p.dropout, name="hidden_dropout")(x)
    return keras.layers.Dense(spec.num_classes, activation="softmax", dtype="float32", name="next_token")(x)


def _masks(source, target_in):
    """(target mask, source mask): passed to the layers explicitly, since Keras' implicit masks get
    lost (MultiHeadAttention deletes its inputs' masks; a layer with two tensor arguments gets none)."""
    from keras import ops

    return ops.not_equal(target_in, 0), ops.not_equal(source, 0)


def _check(spec: DatasetSpec, name: str):
    if not spec.seq2seq:
        raise ValueError(f"{name} is an encoder-decoder: its dataset spec needs target_len > 0")


@register("seq2seq_rnn")
def seq2seq_rnn(p: Seq2SeqRnnParams, spec: DatasetSpec):
    """Encoder: `layers` stacked LSTM/GRU over the source (bidirectional: units/2 each way, the
    final states of both directions joined). Decoder: `layers` stacked LSTM/GRU over target_in,
    layer i starting from encoder layer i's final states. With attention, each decoder output
    (the query) attends to the top encoder outputs: [output, context] -> Dense(units, tanh)."""
    import keras

    from rnnops.models.layers import LSTM  # Keras' LSTM with a fused CPU loop
    from rnnops.models.seq2seq_layers import Seq2SeqAttention

    _check(spec, "seq2seq_rnn")
    source, target_in = _inputs()
    recurrent = LSTM if p.cell == "lstm" else keras.layers.GRU
    n = 2 if p.cell == "lstm" else 1  # states per direction: (h, c) or h
    x = keras.layers.Embedding(spec.vocab_size, p.embedding_dim, mask_zero=True, name="source_embedding")(source)
    initial = []
    for i in range(p.layers):
        if p.bidirectional:
            cell = recurrent(p.units // 2, return_sequences=True, return_state=True)
            x, *states = keras.layers.Bidirectional(cell, name=f"encoder_{i}")(x)
            states = [keras.layers.Concatenate(name=f"encoder_{i}_state_{j}")([states[j], states[n + j]])
                      for j in range(n)]
        else:
            x, *states = recurrent(p.units, return_sequences=True, return_state=True, name=f"encoder_{i}")(x)
        initial.append(states)
    memory = x  # [batch, S, units], masked where the source is padding
    target_mask, source_mask = _masks(source, target_in)
    y = keras.layers.Embedding(spec.num_classes, p.embedding_dim, mask_zero=True, name="target_embedding")(target_in)
    for i in range(p.layers):
        y = recurrent(p.units, return_sequences=True, name=f"decoder_{i}")(y, initial_state=initial[i],
                                                                          mask=target_mask)
    if p.attention != "none":
        context = Seq2SeqAttention(p.attention, p.attention_units, name="attention")(
            [y, memory], mask=[target_mask, source_mask])
        y = keras.layers.Concatenate(name="attention_concat")([y, context])
        y = keras.layers.Dense(p.units, activation="tanh", name="attentional")(y)
    return keras.Model([source, target_in], _head(y, p, spec), name="seq2seq_rnn")


@register("seq2seq_transformer")
def seq2seq_transformer(p: Seq2SeqTransformerParams, spec: DatasetSpec):
    """Token + position embeddings on each side; `blocks` encoder blocks (self-attention over the
    real source tokens), `blocks` decoder blocks (causal self-attention, cross-attention to the
    encoder output, feed-forward); a softmax over the target vocabulary."""
    import keras

    from rnnops.models.layers import TokenAndPositionEmbedding, TransformerEncoder
    from rnnops.models.seq2seq_layers import TransformerDecoderBlock

    _check(spec, "seq2seq_transformer")
    source, target_in = _inputs()
    dim = p.embedding_dim
    x = TokenAndPositionEmbedding(spec.vocab_size, spec.max_len, dim, name="source_embedding")(source)
    for i in range(p.blocks):
        x = TransformerEncoder(dim, p.heads, p.ff_dim, p.dropout, name=f"encoder_block_{i}")(x)
    masks = list(_masks(source, target_in))
    y = TokenAndPositionEmbedding(spec.num_classes, spec.target_len, dim, name="target_embedding")(target_in)
    for i in range(p.blocks):
        y = TransformerDecoderBlock(dim, p.heads, p.ff_dim, p.dropout, name=f"decoder_block_{i}")([y, x], mask=masks)
    return keras.Model([source, target_in], _head(y, p, spec), name="seq2seq_transformer")


# --- reading a trained model ---------------------------------------------------------------------

def count(model, prefix: str) -> int:
    """How many layers named prefix0, prefix1, ... the model has."""
    names = {layer.name for layer in model.layers}
    i = 0
    while f"{prefix}{i}" in names:
        i += 1
    return i


def is_transformer(model) -> bool:
    return count(model, "decoder_block_") > 0


def encoder_outputs(model):
    """(the "source" input, the encoder output [b, S, width], per decoder layer its initial states
    (RNN; [] for the Transformer)): symbolic tensors of the trained graph, for an encoder sub-model."""
    source = model.get_layer("source").output
    if is_transformer(model):
        return source, model.get_layer(f"encoder_block_{count(model, 'encoder_block_') - 1}").output, []
    layers, states = count(model, "encoder_"), []
    for i in range(layers):
        out = model.get_layer(f"encoder_{i}").output
        joined = count(model, f"encoder_{i}_state_")
        states.append([model.get_layer(f"encoder_{i}_state_{j}").output for j in range(joined)]
                      if joined else list(out[1:]))
    return source, model.get_layer(f"encoder_{layers - 1}").output[0], states


def attention_weights(model, source_ids, target_in):
    """The attention weights [batch, T, S] of a trained model on (source_ids, target_in), float32:
    the RNN's attention, or the Transformer's last decoder block's cross-attention averaged over
    heads; None for a model without attention. Runs the trained graph up to the attention layer,
    then that layer with return_attention_scores=True (source padding: exactly 0)."""
    import keras
    import numpy as np

    names = {layer.name for layer in model.layers}
    _, memory, _ = encoder_outputs(model)
    if is_transformer(model):
        last = count(model, "decoder_block_") - 1
        layer = model.get_layer(f"decoder_block_{last}")
        first = model.get_layer(f"decoder_block_{last - 1}" if last else "target_embedding").output
    elif "attention" in names:
        layer = model.get_layer("attention")
        first = model.get_layer(f"decoder_{count(model, 'decoder_') - 1}").output
    else:
        return None
    source_ids, target_in = np.asarray(source_ids, "int32"), np.asarray(target_in, "int32")
    upstream = keras.Model(model.inputs, [first, memory])  # the layer's inputs in the trained graph
    first, memory = upstream([source_ids, target_in], training=False)
    masks = [target_in != 0, source_ids != 0]
    _, weights = layer([first, memory], mask=masks, return_attention_scores=True)
    weights = np.asarray(weights)
    return weights.mean(axis=1) if weights.ndim == 4 else weights  # heads averaged
