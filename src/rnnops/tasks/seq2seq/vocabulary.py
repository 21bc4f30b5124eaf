"""Tokens of the seq2seq task, one vocabulary per side (source, target): the one place text becomes
ids and ids become text.

Ids: 0 <pad>, 1 <unk>, 2 <s> (start), 3 </s> (end), then the training tokens by frequency (ties:
by token string, so a refit gives the same ids). A level is "char" (every character, spaces too)
or "word" (runs of word characters and single punctuation marks; spaces are not tokens).

Word-level text is put back together by a small rule, not an inverse of tokenizing: a space
between tokens, except none before , . ! ? ; : ) ] } % and none after ( [ { ¿ ¡, and none on
either side of ' ’ - / (so "don't", "1998-03-03", "3/3/98" come back whole). French spacing
("Va !") and quotes come back as "Va!" and spaced quotes.

Arrays: a source row is its tokens then 0s; a target row is <s> tokens </s> then 0s, width
length + 2, so target[:, :-1] is what the decoder reads and target[:, 1:] what it learns.
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np

PAD, UNK, START, END = 0, 1, 2, 3
SPECIALS = ["<pad>", "<unk>", "<s>", "</s>"]
LEVELS = ("char", "word")
WORD = re.compile(r"\w+|[^\w\s]")  # words and single punctuation marks
UNKNOWN_TEXT = "\ufffd"  # how decode shows <unk>: one character that matches no reference
JOINERS = {"'", "\u2019", "-", "/"}
NO_SPACE_BEFORE = set(",.!?;:)]}%") | JOINERS
NO_SPACE_AFTER = set("([{¿¡") | JOINERS


def tokenize(text: str, level: str, lowercase: bool = False) -> list[str]:
    text = text.lower() if lowercase else text
    return list(text) if level == "char" else WORD.findall(text)


def detokenize(words: list[str]) -> str:
    """Words joined by spaces, except around punctuation (the rule in the module docstring)."""
    out: list[str] = []
    for word in words:
        if out and word not in NO_SPACE_BEFORE and out[-1] not in NO_SPACE_AFTER:
            out.append(" ")
        out.append(word)
    return "".join(out)


class SideVocabulary:
    def __init__(self, tokens: list[str], level: str, lowercase: bool = False):
        if level not in LEVELS:
            raise ValueError(f"level {level!r}: use one of {LEVELS}")
        if list(tokens[:len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary starts with {SPECIALS}")
        self.id_to_token, self.level, self.lowercase = list(tokens), level, lowercase
        self.token_to_id = {t: i for i, t in enumerate(self.id_to_token)}

    @classmethod
    def fit(cls, texts: list[str], level: str, min_count: int = 1, max_size: int | None = None,
            lowercase: bool = False) -> "SideVocabulary":
        """From TRAINING texts only: tokens seen at least `min_count` times, the most frequent
        first; `max_size` counts the 4 specials."""
        if max_size is not None and max_size < len(SPECIALS):
            raise ValueError(f"max_size {max_size}: at least the {len(SPECIALS)} specials")
        counts = Counter()
        for text in texts:
            counts.update(tokenize(text, level, lowercase))
        ranked = sorted((t for t, n in counts.items() if n >= min_count and t not in SPECIALS),
                        key=lambda t: (-counts[t], t))
        limit = None if max_size is None else max_size - len(SPECIALS)
        return cls(SPECIALS + ranked[:limit], level, lowercase)

    @property
    def size(self) -> int:
        return len(self.id_to_token)

    def __len__(self) -> int:
        return self.size

    def tokens(self, text: str) -> list[str]:
        return tokenize(text, self.level, self.lowercase)

    def encode(self, texts: list[str], length: int, add_start: bool = False,
               add_end: bool = False) -> np.ndarray:
        """int32 [n, length]: (<s>) token ids (</s>), then 0s; an unknown token is 1. A text that
        does not fit is a ValueError: cutting it silently would train on half a target."""
        out = np.zeros((len(texts), length), np.int32)
        for row, text in enumerate(texts):
            ids = [self.token_to_id.get(t, UNK) for t in self.tokens(text)]
            ids = [START] * add_start + ids + [END] * add_end
            if len(ids) > length:
                raise ValueError(f"text {row} ({text[:40]!r}) has {len(ids)} ids with markers, over "
                                 f"the array length {length}; limit lengths first")
            out[row, :len(ids)] = ids
        return out

    def decode(self, ids) -> str:
        """Text of one row of ids: stops at </s>, skips <pad> and <s>, <unk> shown as \uFFFD."""
        pieces = []
        for i in np.asarray(ids).tolist():
            if i == END:
                break
            if i not in (PAD, START):
                pieces.append(UNKNOWN_TEXT if i == UNK or i >= self.size else self.id_to_token[i])
        return "".join(pieces) if self.level == "char" else detokenize(pieces)

    def decode_batch(self, array) -> list[str]:
        return [self.decode(row) for row in np.asarray(array)]

    def to_json(self) -> dict:
        return {"level": self.level, "lowercase": self.lowercase, "tokens": self.id_to_token}

    @classmethod
    def from_json(cls, data: dict) -> "SideVocabulary":
        return cls(data["tokens"], data["level"], bool(data.get("lowercase", False)))


def source_array(vocab: SideVocabulary, texts: list[str], length: int) -> np.ndarray:
    """int32 [n, length]: source tokens then 0s (no start or end marker)."""
    return vocab.encode(texts, length)


def target_array(vocab: SideVocabulary, texts: list[str], length: int) -> np.ndarray:
    """int32 [n, length + 2]: <s> tokens </s> then 0s; `length` is the most target tokens."""
    return vocab.encode(texts, length + 2, add_start=True, add_end=True)
