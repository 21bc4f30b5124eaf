"""Fast incremental decoding: a trained Keras language model as a NumPy step function.

With Keras, N new tokens cost N forward passes over a growing prefix, milliseconds of framework
overhead each. `Stepper` copies the weights once and carries the recurrent state (or the
Transformer's key/value cache) from token to token: a token is a few dozen NumPy operations on one
row. States are never written into (a state may be reused to branch); the padding id 0 is not
skipped as Keras' mask would skip it, so feed real tokens only (generation never makes 0).
"""
from __future__ import annotations

import contextlib

import numpy as np

from rnnops.models.numpy_layers import ACTIVATIONS, Dense, Recurrent, TransformerBlock, unsupported, weights_of

_BLAS = None  # threadpoolctl's controller, made once (it scans the loaded libraries)


def _one_blas_thread():
    """Single rows (a few dozen in a cache rebuild) gain nothing from BLAS threads, only hand-offs,
    and waits on a busy machine (a rebuild: ~30 ms instead of ~1 ms on two loaded cores)."""
    global _BLAS
    try:
        from threadpoolctl import ThreadpoolController  # installed with scikit-learn
    except ImportError:
        return contextlib.nullcontext()
    if _BLAS is None:
        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


class Stepper:
    """One trained Keras LM as a NumPy step function (weights copied once). A state is (the tokens in
    the Transformer's cache, () for recurrent models; the per-layer states), never mutated."""

    def __init__(self, table: np.ndarray, positions: np.ndarray | None, stages: list):
        self.table, self.positions, self.stages = table, positions, stages
        self.vocab_size = stages[-1].w.shape[1]
        self.max_len = None if positions is None else positions.shape[0]

    @classmethod
    def from_keras(cls, model) -> "Stepper":
        """From an rnnops language model (a chain: token input, recurrent layers or Transformer
        blocks, Dense layers, softmax head); ValueError naming any layer it cannot step."""
        import keras

        from rnnops.models.layers import OneHotTokens, TokenAndPositionEmbedding, TransformerEncoder

        table = positions = None
        stages: list = []
        for layer in model.layers:
            if isinstance(layer, (keras.layers.InputLayer, keras.layers.Dropout)):
                continue  # Dropout is the identity at inference
            if table is None:  # the first layer after the input turns ids into vectors
                if isinstance(layer, keras.layers.Embedding):
                    table = weights_of(layer.embeddings)
                elif isinstance(layer, OneHotTokens):
                    table = np.eye(layer.vocab_size)
                elif isinstance(layer, TokenAndPositionEmbedding):
                    table, positions = weights_of(layer.tokens.embeddings), weights_of(layer.positions.embeddings)
                else:
                    raise unsupported(layer, "the token input must be Embedding, OneHotTokens or "
                                      "TokenAndPositionEmbedding")
            elif isinstance(layer, keras.layers.LSTM):  # rnnops' fused LSTM too: same weights, same maths
                stages.append(Recurrent(layer, "lstm"))
            elif isinstance(layer, (keras.layers.GRU, keras.layers.SimpleRNN)):
                stages.append(Recurrent(layer, "gru" if isinstance(layer, keras.layers.GRU) else "simple_rnn"))
            elif isinstance(layer, TransformerEncoder):
                stages.append(TransformerBlock(layer))
            elif isinstance(layer, keras.layers.Dense):
                stages.append(Dense(layer))
            else:
                raise unsupported(layer, "no NumPy step for it")
        if table is None or not stages or not isinstance(stages[-1], Dense) \
                or stages[-1].act is not ACTIVATIONS["softmax"]:
            raise ValueError(f"model '{model.name}' is not a language model (token input, softmax Dense head)")
        if isinstance(stages[0], Recurrent):
            # Fold the first layer's input projection into the token table: embedding @ kernel + bias
            # is one row per token, so a step starts with a row lookup instead of a matmul.
            kernel, bias = stages[0].project
            table, stages[0].project = table @ kernel + bias, None
        return cls(table, positions, stages)

    def start(self):
        return (), tuple(stage.init() for stage in self.stages)

    def _run(self, states, tokens, first_position: int):
        """Feed tokens (several only for a Transformer) -> (last row's probs, new layer states)."""
        # One token: a slice, cheaper than fancy indexing.
        x = self.table[tokens[0]:tokens[0] + 1] if len(tokens) == 1 else self.table[list(tokens)]
        if self.positions is not None:
            x = x + self.positions[first_position:first_position + len(tokens)]
        new = []
        for stage, state in zip(self.stages, states):
            x, state = stage.step(x, state)
            new.append(state)
        return x[-1], tuple(new)

    def step(self, state, token: int) -> tuple[np.ndarray, object]:
        """(float64 [V] next-token probabilities after `token`, the new state); `state` is untouched."""
        token = int(token)
        if not 0 <= token < self.table.shape[0]:
            raise ValueError(f"token id {token} is outside the vocabulary (0..{self.table.shape[0] - 1})")
        context, states = state  # context: the Transformer's cached tokens; () when recurrent
        if self.max_len is not None and len(context) == self.max_len:
            # No position is left for this token: keep the last max_len // 2 tokens and rebuild the
            # caches from them (positions restart at 0) in one batched pass. Beyond max_len tokens
            # the context is therefore between max_len // 2 and max_len tokens, and a rebuild comes
            # once every max_len // 2 tokens or so: amortised O(1) passes per token.
            context = context[len(context) - self.max_len // 2:]
            states = self.start()[1]
            if context:
                states = self._run(states, context, 0)[1]
        probs, states = self._run(states, (token,), len(context))
        return probs, (() if self.max_len is None else context + (token,), states)


class MixtureStep:
    """An ensemble: the members' next-token distributions averaged with fixed weights at each step.
    The state is the tuple of the members' states."""

    def __init__(self, members: list[tuple[object, float]]):
        self.members, self.weights = [m for m, _ in members], [float(w) for _, w in members]
        if not members or min(self.weights) < 0 or abs(sum(self.weights) - 1.0) > 1e-6:
            raise ValueError(f"mixture weights must be >= 0 and sum to 1, got {self.weights}")
        if len({m.vocab_size for m in self.members}) != 1:
            raise ValueError("mixture members disagree on the vocabulary size")
        self.vocab_size = self.members[0].vocab_size

    def start(self):
        return tuple(m.start() for m in self.members)

    def step(self, state, token: int) -> tuple[np.ndarray, object]:
        probs, states = 0.0, []
        for member, weight, member_state in zip(self.members, self.weights, state):
            p, member_state = member.step(member_state, token)
            probs = probs + weight * p
            states.append(member_state)
        return probs, tuple(states)


def _check_settings(temperature: float, top_k: int, top_p: float) -> None:
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0 (greedy=True for the most likely token), got {temperature}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1] (1.0 = off), got {top_p}")
    if top_k < 0:
        raise ValueError(f"top_k must be >= 0 (0 = off), got {top_k}")


def sample_next(probs: np.ndarray, rng: np.random.Generator, temperature: float = 1.0, top_k: int = 0,
                top_p: float = 1.0, greedy: bool = False, banned=(0, 1)) -> int:
    """One token id from a next-token distribution. Banned ids (padding 0, unknown 1) are never
    produced. Then, in this order: temperature (p ** (1/T), renormalised), top_k (0 = off: keep the
    k most likely), top_p (1.0 = off: keep the smallest set of most likely tokens whose mass is at
    least top_p, at least one token), as in most LM libraries. greedy = the most likely allowed id."""
    _check_settings(temperature, top_k, top_p)
    p = np.array(probs, dtype=np.float64)  # a copy: the caller's array is left alone
    p[[b for b in banned if 0 <= b < p.size]] = 0.0
    if not p.max() > 0:
        raise ValueError("no allowed token has a probability above 0")
    if greedy:
        return int(np.argmax(p))
    if temperature != 1.0:
        # In log space, so a tiny T gives a one-hot on the argmax rather than 0/0.
        with np.errstate(divide="ignore"):
            logp = np.log(p) / temperature
        p = np.exp(logp - logp.max())
    if 0 < top_k < p.size:
        p[np.argpartition(-p, top_k - 1)[top_k:]] = 0.0  # exactly k kept (ties broken arbitrarily)
    if top_p < 1.0:
        order = np.argsort(-p, kind="stable")
        mass = np.cumsum(p[order]) / p.sum()
        # First prefix whose mass reaches top_p; the 1e-12 forgives rounding (0.5 + 0.3 < 0.8).
        keep = min(int(np.searchsorted(mass, top_p - 1e-12)) + 1, p.size)
        p[order[keep:]] = 0.0
    cumulative = np.cumsum(p)
    # side="right": the first id whose cumulative mass exceeds u, never a zero-probability id.
    return int(min(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"), p.size - 1))


def generate(stepper, prompt: list[int], max_tokens: int, end_id: int = 2, seed: int = 0,
             temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, greedy: bool = False) -> list[int]:
    """Feed the prompt (it starts with the begin marker, end_id), then sample up to max_tokens new
    ids, one step each; stop after producing end_id, which is not returned. Returns the new ids."""
    if not prompt:
        raise ValueError("the prompt must hold at least the begin marker")
    _check_settings(temperature, top_k, top_p)  # bad settings fail before any work
    rng, new = np.random.default_rng(seed), []
    with _one_blas_thread():
        state = stepper.start()
        for token in prompt:
            probs, state = stepper.step(state, token)
        while len(new) < max_tokens:
            token = sample_next(probs, rng, temperature, top_k, top_p, greedy)
            if token == end_id:
                break
            new.append(token)
            if len(new) < max_tokens:  # no step for a token nobody will read
                probs, state = stepper.step(state, token)
    return new


def generate_naive(model, prompt: list[int], max_tokens: int, end_id: int = 2, greedy: bool = True,
                   max_len: int | None = None) -> list[int]:
    """The reference loop: every new token from a full Keras forward pass over the prefix (its last
    max_len tokens when max_len is given: the Transformer's trained positions). Same banned ids as
    `generate`; not greedy = plain sampling with seed 0."""
    rng = np.random.default_rng(0)
    ids, new = list(prompt), []
    while len(new) < max_tokens:
        window = ids[-max_len:] if max_len else ids
        probs = np.asarray(model(np.array([window], dtype="int32"), training=False))[0, -1]
        token = sample_next(probs, rng, greedy=greedy)
        if token == end_id:
            break
        new.append(token)
        ids.append(token)
    return new
