"""Tokens of the generation task: the one place text becomes ids and ids become text.

Ids: 0 padding (never in a stream), 1 the unknown token, 2 end-of-text. A split's stream is
<eot> doc_1 <eot> doc_2 <eot> ...: the leading <eot> is the beginning every document is predicted
from, so a prompt is <eot> + its tokens and an empty prompt starts a fresh document.
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np

PAD, UNK, EOT = 0, 1, 2
SPECIALS = ["<pad>", "<unk>", "<eot>"]
WORD = re.compile(r"\w+|[^\w\s]")  # words and single punctuation marks; spaces are not tokens
HTML_TAG = re.compile(r"<[^>]{0,100}>")


def clean(text: str, lowercase: bool, strip_html: bool) -> str:
    text = HTML_TAG.sub(" ", text) if strip_html else text
    return text.lower() if lowercase else text


def split_tokens(text: str, level: str) -> list[str]:
    return list(text) if level == "char" else WORD.findall(text)


class Vocabulary:
    def __init__(self, tokens: list[str], level: str, lowercase: bool, strip_html: bool):
        self.tokens, self.level = list(tokens), level     # tokens[i] is id i; the first 3 are SPECIALS
        self.lowercase, self.strip_html = lowercase, strip_html
        self.ids = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def fit(cls, documents: list[str], level: str, lowercase: bool, strip_html: bool, min_count: int,
            size: int) -> "Vocabulary":
        """The `size` - 3 most frequent tokens seen at least `min_count` times (ties: first seen)."""
        counts = Counter()
        for doc in documents:
            counts.update(split_tokens(clean(doc, lowercase, strip_html), level))
        kept = [t for t, n in counts.most_common() if n >= min_count][: size - len(SPECIALS)]
        return cls(SPECIALS + kept, level, lowercase, strip_html)

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` (no markers); a token outside the vocabulary is <unk>."""
        return [self.ids.get(t, UNK) for t in split_tokens(clean(text, self.lowercase, self.strip_html), self.level)]

    def prompt(self, text: str) -> list[int]:
        """What a model is primed with: <eot> (a document starts), then the prompt's tokens."""
        return [EOT, *self.encode(text)]

    def stream(self, documents: list[str]) -> np.ndarray:
        ids = [EOT]
        for doc in documents:
            ids += self.encode(doc)
            ids.append(EOT)
        return np.asarray(ids, np.int32)

    def decode(self, ids) -> str:
        """Text of `ids` (words joined by spaces; <unk> shown as \uFFFD, markers dropped)."""
        pieces = ["\ufffd" if i == UNK else self.tokens[i] for i in ids if i not in (PAD, EOT)]
        return "".join(pieces) if self.level == "char" else " ".join(pieces)

    def to_json(self) -> dict:
        return {"level": self.level, "lowercase": self.lowercase, "strip_html": self.strip_html,
                "tokens": self.tokens}

    @classmethod
    def from_json(cls, data: dict) -> "Vocabulary":
        if data["tokens"][: len(SPECIALS)] != SPECIALS:
            raise ValueError("vocabulary does not start with <pad>, <unk>, <eot>")
        return cls(data["tokens"], data["level"], data["lowercase"], data["strip_html"])
