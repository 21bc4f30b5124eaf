"""Source texts -> target texts with one model or a weighted ensemble: encode with the source
vocabulary, decode (greedy, or beam search with members' step distributions averaged inside the
beam), decode ids with the target vocabulary. Shared by the train and evaluate stages and the
served pyfunc, so all three give the same outputs."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnops.errors import DataError


@dataclass
class Translations:
    texts: list[str]
    scores: np.ndarray                  # log-probability (length-normalised for beams) per source
    attention: list | None              # per source: [target steps, source tokens] weights, or None
    source_tokens: list[list[str]]      # what the attention's columns are


def source_ids(vocabulary, sources: list[str], max_len: int, what: str = "source") -> np.ndarray:
    """Encode sources; one longer than the model's source length is refused (it would be cut and
    mistranslated silently), naming the row."""
    lengths = [len(vocabulary.tokens(s)) for s in sources]
    too_long = [i for i, n in enumerate(lengths) if n > max_len]
    if too_long:
        i = too_long[0]
        raise DataError(f"{what} {i + 1} has {lengths[i]} tokens; this model reads at most {max_len} "
                        f"({len(too_long)} source(s) too long). Fix: shorten or split it.")
    return vocabulary.encode(sources, max_len)


def translate(decoders: list, weights: list[float], source_vocabulary, target_vocabulary, sources: list[str],
              max_source_len: int, max_len: int, beam_width: int = 1, length_penalty: float = 0.0,
              batch_size: int = 256) -> Translations:
    from rnnops.tasks.seq2seq.decoding import beam_search, greedy

    ids = source_ids(source_vocabulary, sources, max_source_len)
    if beam_width <= 1:
        decoded = greedy(decoders, weights, ids, max_len, batch_size=batch_size)
    else:
        decoded = beam_search(decoders, weights, ids, beam_width, max_len, length_penalty=length_penalty,
                              batch_size=batch_size)
    texts = [target_vocabulary.decode(list(seq) + [3]) for seq in decoded.ids]
    tokens = [source_vocabulary.tokens(s)[:max_source_len] for s in sources]
    return Translations(texts, np.asarray(decoded.scores, dtype=np.float64), decoded.attention, tokens)
