"""Tokenize and pad with TensorFlow's string ops and Keras lookup layers (fit on train only).

The same `standardize` runs inside the end-to-end model later (rnnops.models.text_model.TextToIds), so raw text
at serving time is tokenized exactly as it was for training.
"""
from __future__ import annotations

import numpy as np

OOV_TOKEN = "[UNK]"
PAD_ID, OOV_ID = 0, 1
# Keras' own default punctuation set (TextVectorization "lower_and_strip_punctuation").
PUNCTUATION = r'[!"#$%&()\*\+,\-\./:;<=>?@\[\\\]^_`{|}~\']'
HTML_TAG = r"<[^>]{0,200}>"


def standardize(texts, lowercase: bool, strip_html: bool, strip_punctuation: bool):
    import tensorflow as tf

    if lowercase:
        texts = tf.strings.lower(texts, encoding="utf-8")
    if strip_html:
        texts = tf.strings.regex_replace(texts, HTML_TAG, " ")  # "<br />" would glue words
    if strip_punctuation:
        texts = tf.strings.regex_replace(texts, PUNCTUATION, "")
    return texts


def tokenize(texts: np.ndarray, data) -> "tf.RaggedTensor":
    """Whitespace tokens of the standardized texts, one ragged row per text."""
    import tensorflow as tf

    standardized = standardize(tf.constant(texts, dtype=tf.string), data.lowercase,
                               data.strip_html, data.strip_punctuation)
    return tf.strings.split(standardized)


def build_vocabulary(tokens, vocab_size: int) -> list[str]:
    """The vocab_size - 2 most frequent tokens (ties by token), padding and OOV excluded."""
    import tensorflow as tf

    unique = tf.unique_with_counts(tokens.flat_values)  # hash-based: fast on millions of tokens
    words, counts = unique.y.numpy(), unique.count.numpy()
    keep = words != OOV_TOKEN.encode()
    words, counts = words[keep], counts[keep]
    order = np.lexsort((words, -counts))[: vocab_size - 2]
    return [w.decode("utf-8") for w in words[order]]


def lookup(tokens, vocabulary: list[str]):
    """Token ids: 0 padding, 1 OOV, 2.. the vocabulary (Keras TextVectorization's layout)."""
    import keras

    layer = keras.layers.StringLookup(vocabulary=vocabulary, mask_token="", oov_token=OOV_TOKEN,
                                      num_oov_indices=1, output_mode="int")
    return layer(tokens)


def skip_most_frequent(ids: np.ndarray, skip_top: int) -> np.ndarray:
    """The `skip_top` most frequent words (ids 2 .. skip_top + 1) read as OOV, as Keras' imdb
    `skip_top` does; the tokens keep their place, so lengths do not change."""
    if not skip_top:
        return ids
    return np.where((ids >= 2) & (ids < 2 + skip_top), OOV_ID, ids).astype(ids.dtype)


def pad_ragged(flat: np.ndarray, lengths: np.ndarray, max_len: int, truncation: str,
               padding: str) -> np.ndarray:
    """Rows of a ragged array (flat values + row lengths) cut and padded with 0 to max_len."""
    n = len(lengths)
    kept = np.minimum(lengths, max_len)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    src_start = starts + (lengths - kept if truncation == "pre" else 0)
    dst_start = (max_len - kept) if padding == "pre" else np.zeros(n, dtype=np.int64)
    out = np.zeros((n, max_len), dtype=np.int32)
    rows = np.repeat(np.arange(n), kept)
    offset = np.arange(kept.sum()) - np.repeat(np.cumsum(kept) - kept, kept)
    out[rows, np.repeat(dst_start, kept) + offset] = flat[np.repeat(src_start, kept) + offset]
    return out
