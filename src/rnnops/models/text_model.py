"""The end-to-end model: raw strings in, class probabilities out.

`TextToIds` repeats the prepare stage's tokenization (same standardize, vocabulary, truncation
and padding) inside the model, so a served model needs nothing but its `.keras` file.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from rnnops.data import vectorize


@keras.saving.register_keras_serializable(package="rnnops")
class TextToIds(keras.layers.Layer):
    """Strings [batch] -> token ids [batch, max_len] exactly as the prepare stage made them."""

    def __init__(self, vocabulary: list[str], max_len: int, truncation: str, padding: str,
                 lowercase: bool, strip_html: bool, strip_punctuation: bool, skip_top: int = 0, **kwargs):
        kwargs["trainable"] = False  # a lookup, nothing to learn
        super().__init__(**kwargs)
        self.vocabulary = list(vocabulary)
        self.max_len, self.truncation, self.padding = max_len, truncation, padding
        self.options = dict(lowercase=lowercase, strip_html=strip_html, strip_punctuation=strip_punctuation)
        self.skip_top = skip_top  # the most frequent words read as OOV, as the prepare stage did
        ids = tf.range(2, len(self.vocabulary) + 2, dtype=tf.int64)
        ids = tf.where(ids < 2 + skip_top, tf.constant(vectorize.OOV_ID, tf.int64), ids)
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(self.vocabulary, tf.string), ids),
            default_value=vectorize.OOV_ID)

    def call(self, texts):
        texts = tf.reshape(tf.convert_to_tensor(texts, tf.string), [-1])
        tokens = tf.strings.split(vectorize.standardize(texts, **self.options))
        ids = tf.ragged.map_flat_values(self.table.lookup, tokens)
        ids = ids[:, -self.max_len:] if self.truncation == "pre" else ids[:, : self.max_len]
        if self.padding == "pre":  # reverse, pad at the end, reverse back
            ids = tf.reverse(tf.reverse(ids, [1]).to_tensor(0, shape=[None, self.max_len]), [1])
        else:
            ids = ids.to_tensor(0, shape=[None, self.max_len])
        return tf.cast(ids, "int32")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.max_len)

    def get_config(self):
        config = {**super().get_config(), "vocabulary": self.vocabulary, "max_len": self.max_len,
                  "truncation": self.truncation, "padding": self.padding, **self.options}
        if self.skip_top:  # absent when 0: earlier models' configs stay as they were
            config["skip_top"] = self.skip_top
        return config


def text_model(model, spec: dict, vocabulary: list[str]):
    """Wrap a token-id model: string input -> TextToIds -> model."""
    texts = keras.Input(shape=(), dtype="string", name="text")
    ids = TextToIds(vocabulary, spec["max_len"], spec["truncation"], spec["padding"],
                    spec["lowercase"], spec["strip_html"], spec["strip_punctuation"],
                    skip_top=spec.get("skip_top", 0), name="text_to_ids")(texts)
    return keras.Model(texts, model(ids), name=f"{model.name}_text")
