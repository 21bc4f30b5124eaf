"""Decoding trained encoder-decoders (rnnops.models.seq2seq): greedy and beam search, batched over
many sources, for one model or a weighted ensemble.

`Decoder` runs the encoder once per batch of sources with Keras (a sub-model of the trained graph,
one tf.function), then steps the decoder in NumPy (float64) from the copied weights, incrementally:
the RNN carries its per-layer states, the Transformer a key/value cache per decoder block (the
cross-attention's keys and values are projected once per source). A step feeds one token per row
and never re-runs the prefix. A state is never written into, so rows may be duplicated (beams).
`Decoder.step` gives the model's own distribution (== `naive_next_probabilities`, the full training
model on the prefix); the searches mix members and ban ids.

max_len: the most target tokens generated, </s> not counted: at most max_len + 1 steps, the last
one only to see whether </s> ends a max_len-token output (else it is cut, `finished` False).
Scores: the sum of log P(token) over the generated tokens, </s> included, divided by
length ** length_penalty, where length = the tokens generated including </s> (a hypothesis cut at
max_len without </s>: its max_len tokens). <pad> (0), <unk> (1) and <s> (2) are never generated:
their probabilities are set to 0 before choosing (the others are not renormalised).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnops.models.numpy_layers import (Attention, Dense, Recurrent, layer_norm, layer_norm_params,
                                       masked_softmax, weights_of)

START, END = 2, 3
BANNED = [0, 1, 2]


@dataclass(frozen=True)
class _State:
    memory: tuple   # per row: its source's mask and encoder arrays (attention keys and values)
    rows: tuple     # per row: RNN states, or per block the (keys, values) cache [rows, heads, steps, key_dim]
    steps: int      # tokens fed so far (the Transformer's next position)


def _take(tree, rows):
    if isinstance(tree, tuple):
        return tuple(_take(t, rows) for t in tree)
    return None if tree is None else tree[rows]


class Decoder:
    """One trained encoder-decoder: `encode` (Keras, batched), then `step` (NumPy, incremental)."""

    def __init__(self, model):
        import keras
        import tensorflow as tf

        from rnnops.models import seq2seq

        self.name, self.transformer = model.name, seq2seq.is_transformer(model)
        source, memory, states = seq2seq.encoder_outputs(model)
        encoder = keras.Model(source, [memory, *[s for layer in states for s in layer]])
        self._encode = tf.function(lambda ids: encoder(ids, training=False), reduce_retracing=True,
                                   input_signature=[tf.TensorSpec([None, None], tf.int32)])
        names = {layer.name for layer in model.layers}
        head = [Dense(model.get_layer(n)) for n in ("hidden", "next_token") if n in names]
        self.head, self.vocab_size = head, head[-1].w.shape[1]
        if self.transformer:
            embedding = model.get_layer("target_embedding")
            self.table = weights_of(embedding.tokens.embeddings)
            self.positions = weights_of(embedding.positions.embeddings)
            self.blocks = []
            for i in range(seq2seq.count(model, "decoder_block_")):
                block = model.get_layer(f"decoder_block_{i}")
                self.blocks.append((Attention(block.self_attention), Attention(block.cross_attention),
                                    Dense(block.ff_in), Dense(block.ff_out),
                                    [layer_norm_params(n) for n in (block.norm1, block.norm2, block.norm3)]))
            self.has_attention = True
            return
        self.kind = "lstm" if isinstance(model.get_layer("decoder_0"), keras.layers.LSTM) else "gru"
        self.layers = [Recurrent(model.get_layer(f"decoder_{i}"), self.kind)
                       for i in range(seq2seq.count(model, "decoder_"))]
        kernel, bias = self.layers[0].project  # embedding @ input kernel + bias: one row per token
        embedding = weights_of(model.get_layer("target_embedding").embeddings)
        self.table, self.layers[0].project = embedding @ kernel + bias, None
        self.attention = model.get_layer("attention") if "attention" in names else None
        self.has_attention = self.attention is not None
        if self.attention is not None:
            self.weights = {w.name: weights_of(w) for w in self.attention.weights}
            self.attentional = Dense(model.get_layer("attentional"))

    @classmethod
    def from_keras(cls, model) -> "Decoder":
        return cls(model)

    # --- encoding ---------------------------------------------------------------------------------
    def encode(self, source_ids) -> _State:
        ids = np.asarray(source_ids, dtype=np.int32)
        out = self._encode(ids)
        out = [np.asarray(t, dtype=np.float64) for t in (out if isinstance(out, (list, tuple)) else [out])]
        values, mask = out[0], ids != 0
        if self.transformer:  # per block: the cross-attention's keys and values [b, heads, S, key_dim]
            memory = tuple(tuple(cross.project(values, slice(1, 3)).transpose(2, 0, 3, 1, 4))
                           for _, cross, *_ in self.blocks)
            empty = np.zeros((len(ids), self.blocks[0][0].heads, 0, self.blocks[0][0].key_dim))
            return _State((mask, memory), tuple((empty, empty) for _ in self.blocks), 0)
        keys = None  # luong_dot scores against the values themselves
        if self.attention is not None and self.attention.kind != "luong_dot":
            keys = values @ self.weights["w_values"]
            keys = keys + self.weights["bias"] if self.attention.kind == "bahdanau" else keys
        per_layer = 2 if self.kind == "lstm" else 1
        states = tuple(tuple(out[1 + i * per_layer:1 + (i + 1) * per_layer]) for i in range(len(self.layers)))
        return _State((mask, values, keys) if self.attention is not None else (), states, 0)

    @staticmethod
    def select(state: _State, rows) -> _State:
        """The state of these rows (any order, repeats allowed): beams reordered or duplicated."""
        rows = np.asarray(rows, dtype=np.int64)
        return _State(_take(state.memory, rows), _take(state.rows, rows), state.steps)

    # --- one step -----------------------------------------------------------------------------------
    def step(self, state: _State, prev_ids):
        """Feed each row its previous token -> (P(next token) float64 [rows, V], the new state,
        attention weights [rows, S] or None: the RNN's, or the Transformer's last decoder block's
        cross-attention averaged over heads)."""
        prev = np.asarray(prev_ids, dtype=np.int64)
        step = self._transformer_step if self.transformer else self._rnn_step
        x, rows, attention = step(state, prev)
        for dense in self.head:
            x = dense.step(x, None)[0]
        return x, _State(state.memory, rows, state.steps + 1), attention

    def _rnn_step(self, state: _State, prev):
        x, rows = self.table[prev], []
        for layer, layer_state in zip(self.layers, state.rows):
            x, new = layer.step(x, layer_state if self.kind == "lstm" else layer_state[0])
            rows.append(new if self.kind == "lstm" else (new,))
        if self.attention is None:
            return x, tuple(rows), None
        mask, values, keys = state.memory
        w = self.weights
        if self.attention.kind == "bahdanau":  # v . tanh(W1 q + (W2 v_s + b)), in one buffer
            hidden = keys + (x @ w["w_query"])[:, None, :]
            scores = (np.tanh(hidden, out=hidden).reshape(-1, hidden.shape[-1]) @ w["score"]).reshape(hidden.shape[:2])
        else:
            scores = np.einsum("nq,nsq->ns", x, values if keys is None else keys)
        weights = masked_softmax(scores, mask)
        context = np.einsum("ns,nsv->nv", weights, values)
        x = self.attentional.step(np.concatenate([x, context], axis=1), None)[0]
        return x, tuple(rows), weights

    def _transformer_step(self, state: _State, prev):
        mask, memory = state.memory
        x = self.table[prev] + self.positions[min(state.steps, len(self.positions) - 1)]
        rows, weights = [], None
        for (own, cross, ff_in, ff_out, norms), (keys, values), (src_keys, src_values) in zip(
                self.blocks, state.rows, memory):
            q, k, v = own.project(x, slice(0, 3))[:, :, :, None].transpose(1, 0, 2, 3, 4)  # [n, heads, 1, key_dim]
            keys, values = np.concatenate([keys, k], axis=2), np.concatenate([values, v], axis=2)  # new arrays
            rows.append((keys, values))
            x = layer_norm(x + own.attend(q[:, :, 0], keys, values)[0], norms[0])
            attended, weights = cross.attend(cross.project(x, slice(0, 1))[:, 0], src_keys, src_values, mask)
            x = layer_norm(x + attended, norms[1])
            x = layer_norm(x + ff_out.step(ff_in.step(x, None)[0], None)[0], norms[2])
        return x, tuple(rows), weights.mean(axis=1)


class _Mixture:
    """Decoders whose step distributions are averaged with fixed weights; the state is theirs."""

    def __init__(self, decoders, weights):
        decoders = list(decoders)
        weights = np.asarray([1.0] * len(decoders) if weights is None else weights, dtype=np.float64)
        if not decoders or len(weights) != len(decoders) or weights.min() < 0 or not weights.sum() > 0:
            raise ValueError(f"need decoders and as many mixture weights (>= 0, not all 0), got {weights}")
        if len({d.vocab_size for d in decoders}) != 1:
            raise ValueError("ensemble members disagree on the target vocabulary size")
        self.decoders, self.weights = decoders, weights / weights.sum()
        self.seer = next((i for i, d in enumerate(decoders) if d.has_attention), None)

    def encode(self, ids):
        return tuple(d.encode(ids) for d in self.decoders)

    def select(self, state, rows):
        return tuple(Decoder.select(s, rows) for s in state)

    def step(self, state, prev):
        probs, states, attention = 0.0, [], None
        for i, (decoder, weight, s) in enumerate(zip(self.decoders, self.weights, state)):
            p, s, a = decoder.step(s, prev)
            probs, attention = probs + weight * p, a if i == self.seer else attention
            states.append(s)
        probs = np.array(probs, dtype=np.float64)  # a copy: banned ids are zeroed in it
        probs[:, BANNED] = 0.0
        return probs, tuple(states), attention


# --- search -------------------------------------------------------------------------------------------

@dataclass
class Decoded:
    ids: list            # per source: the generated target ids, without <s> and </s>
    scores: np.ndarray   # per source: log-probability / length ** length_penalty (the search's ranking)
    log_probs: np.ndarray  # per source: the raw sum of log-probabilities (</s> included)
    finished: np.ndarray   # per source: ended with </s> (False: cut at max_len tokens)
    attention: list | None  # per source: [tokens generated (with </s>), source tokens] weights


def _chunks(source_ids, batch_size: int):
    """(offset, sources) batches, each cut to its longest source (padding changes no output)."""
    ids = np.asarray(source_ids, dtype=np.int32)
    if ids.ndim != 2:
        raise ValueError(f"source ids must be [sources, tokens], got shape {ids.shape}")
    for start in range(0, len(ids), max(1, int(batch_size))):
        chunk = ids[start:start + batch_size]
        used = np.flatnonzero(chunk.any(axis=0))
        yield start, chunk[:, :max(1, used[-1] + 1 if len(used) else 1)]


def _log(p):
    with np.errstate(divide="ignore"):
        return np.log(p)


def _result(hypotheses, sources, alpha: float, with_attention: bool) -> Decoded:
    """hypotheses: per source (raw log-prob, ids, finished, attention rows or None)."""
    raw = np.array([h[0] for h in hypotheses], dtype=np.float64)
    lengths = np.array([max(1, len(h[1]) + h[2]) for h in hypotheses], dtype=np.float64)
    attention = None
    if with_attention:
        widths = [int(np.flatnonzero(s)[-1] + 1) if s.any() else 0 for s in sources]
        attention = [np.asarray(h[3], dtype=np.float64).reshape(len(h[3]), -1)[:, :w] if len(h[3])
                     else np.zeros((0, w)) for h, w in zip(hypotheses, widths)]
    return Decoded([list(map(int, h[1])) for h in hypotheses], raw / lengths ** alpha, raw,
                   np.array([bool(h[2]) for h in hypotheses]), attention)


def greedy(decoders, weights, source_ids, max_len: int, batch_size: int = 256,
           length_penalty: float = 0.0) -> Decoded:
    """The most likely token at every step, for all sources of a batch at once; a source stops at
    </s> or after max_len tokens (then one more step may still end it with </s>)."""
    mixture, found = _Mixture(decoders, weights), []
    with_attention = mixture.seer is not None
    for _, chunk in _chunks(source_ids, batch_size):
        state, n = mixture.encode(chunk), len(chunk)
        alive, prev = np.arange(n), np.full(n, START)
        hyps = [[0.0, [], False, []] for _ in range(n)]
        for step in range(max_len + 1):
            probs, state, attention = mixture.step(state, prev)
            token = probs.argmax(axis=1)
            logp = _log(probs[np.arange(len(token)), token])
            ended = token == END
            for j, i in enumerate(alive):
                if step < max_len or ended[j]:  # after max_len tokens only </s> is taken
                    hyps[i][0] += logp[j]
                    hyps[i][2] = bool(ended[j])
                    if not ended[j]:
                        hyps[i][1].append(token[j])
                    if attention is not None:
                        hyps[i][3].append(attention[j])
            keep = np.flatnonzero(~ended)
            if step == max_len or not len(keep):
                break
            state, alive, prev = mixture.select(state, keep), alive[keep], token[keep]
        found += hyps
    return _result(found, np.asarray(source_ids), length_penalty, with_attention)


def beam_search(decoders, weights, source_ids, beam_width: int, max_len: int, length_penalty: float = 0.0,
                batch_size: int = 64) -> Decoded:
    """Beam search, every beam of every source of a batch in one step. Each step the 2k best
    (hypothesis, token) extensions of a source are ranked; those ending in </s> among the first k
    are finished hypotheses, the first k others live on. A source stops once it has k finished
    hypotheses, or once no live one can beat its best finished one (a live score can only fall:
    its bound is score / (max_len + 1) ** length_penalty), or after max_len
    tokens (live hypotheses then count as cut ones). Returns the best by score; width 1 = greedy."""
    k, alpha = int(beam_width), float(length_penalty)
    if k < 1:
        raise ValueError(f"beam_width must be >= 1, got {beam_width}")
    mixture, found = _Mixture(decoders, weights), []
    with_attention = mixture.seer is not None
    for _, chunk in _chunks(source_ids, batch_size):
        n = len(chunk)
        state = mixture.select(mixture.encode(chunk), np.repeat(np.arange(n), k))
        groups = np.arange(n)  # the source of each group of k rows
        score = np.tile(np.r_[0.0, np.full(k - 1, -np.inf)], n)  # one live hypothesis to start
        tokens = np.zeros((n * k, 0), dtype=np.int64)
        seen = np.zeros((n * k, 0, chunk.shape[1]))  # attention rows so far
        done = [[] for _ in range(n)]  # per source: (score, raw, ids, finished, attention)
        prev = np.full(n * k, START)
        for step in range(max_len + 1):
            probs, state, attention = mixture.step(state, prev)
            g, vocab = len(groups), probs.shape[1]
            flat = (score[:, None] + _log(probs)).reshape(g, k * vocab)
            top = np.argpartition(-flat, 2 * k - 1, axis=1)[:, :2 * k]
            top_scores = np.take_along_axis(flat, top, axis=1)
            order = np.lexsort((top, -top_scores), axis=1)  # best first, ties: lower index first
            top, top_scores = np.take_along_axis(top, order, 1), np.take_along_axis(top_scores, order, 1)
            parent = np.arange(g)[:, None] * k + top // vocab  # row extended, [g, 2k]
            token, ended = top % vocab, (top % vocab) == END
            ending = set()
            for a, r in zip(*np.nonzero(ended[:, :k] & np.isfinite(top_scores[:, :k]))):
                row = parent[a, r]
                ending.add(row)
                att = np.concatenate([seen[row], attention[row][None]]) if attention is not None else seen[row]
                done[groups[a]].append((top_scores[a, r] / (step + 1) ** alpha, top_scores[a, r],
                                        tokens[row], True, att))
            if step == max_len:  # the other live hypotheses hold max_len tokens: cut there
                for row in sorted(set(np.flatnonzero(np.isfinite(score))) - ending):
                    done[groups[row // k]].append((score[row] / max(1, max_len) ** alpha, score[row],
                                                   tokens[row], False, seen[row]))
                break
            live = np.argsort(ended, axis=1, kind="stable")[:, :k]  # the first k not ending
            parent, token = np.take_along_axis(parent, live, 1), np.take_along_axis(token, live, 1)
            new_score = np.take_along_axis(top_scores, live, 1)
            # A live hypothesis can at best keep its (negative) sum over the longest length.
            bound = new_score.max(axis=1) / (max_len + 1) ** alpha
            stop = np.array([len(done[s]) >= k or (bool(done[s]) and max(d[0] for d in done[s]) >= bound[a])
                             for a, s in enumerate(groups)], dtype=bool)
            rows = parent[~stop].reshape(-1)
            if not len(rows):
                break
            state, groups, score = mixture.select(state, rows), groups[~stop], new_score[~stop].reshape(-1)
            prev = token[~stop].reshape(-1)
            tokens = np.concatenate([tokens[rows], prev[:, None]], axis=1)
            if attention is not None:
                seen = np.concatenate([seen[rows], attention[rows][:, None]], axis=1)
        for hyps in done:
            best = max(hyps, key=lambda h: h[0]) if hyps else (-np.inf, -np.inf, [], False, [])
            found.append((best[1], best[2], best[3], best[4]))
    return _result(found, np.asarray(source_ids), alpha, with_attention)


def naive_next_probabilities(model, source_ids, prefix_ids) -> np.ndarray:
    """The reference: the full training model on (source, prefix) -> P(next token) [B, V], float64
    (prefix_ids [B, t] starts with <s>; no padding)."""
    source, prefix = np.asarray(source_ids, np.int32), np.asarray(prefix_ids, np.int32)
    return np.asarray(model([source, prefix], training=False), dtype=np.float64)[:, -1]
