"""The input pipeline: tf.data with shuffling, length-bucketed batches and prefetch.

The prepared arrays are padded to max_len. Here padding is stripped and each batch is padded
only to its own longest document, so short documents cost short steps. Models mask padding, so
results do not depend on it; only speed does.
"""
from __future__ import annotations

import numpy as np


def unpadded(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(flat tokens, row lengths) of padded rows; an empty row keeps one pad so no batch is 0 wide."""
    keep = x != 0
    lengths = keep.sum(axis=1)
    empty = lengths == 0
    if empty.any():
        keep[empty, 0] = True  # one masked pad step: the model sees "no tokens"
        lengths = keep.sum(axis=1)
    return x[keep], lengths


def bucket_boundaries(lengths: np.ndarray, buckets: int) -> list[int]:
    """Length boundaries at the quantiles of the training lengths (equal-count buckets)."""
    if buckets <= 1:
        return []
    cuts = np.quantile(lengths, np.linspace(0, 1, buckets + 1)[1:-1])
    return sorted({int(c) + 1 for c in cuts if c + 1 < lengths.max() + 1})


def _one_unit(num_classes: int) -> bool:
    """A head of one unit: binary (sigmoid) or a number (regression, num_classes 0)."""
    return num_classes in (0, 2)


def _labels(y: np.ndarray, num_classes: int) -> np.ndarray:
    # One-unit heads take float targets [n, 1]; softmax heads take class ids.
    return y.astype(np.float32).reshape(-1, 1) if _one_unit(num_classes) else y.astype(np.int32)


def _strip(row):
    """A padded row without its padding (keeping one pad if it has no tokens at all)."""
    import tensorflow as tf

    tokens = tf.boolean_mask(row, tf.not_equal(row, 0))
    return tf.cond(tf.size(tokens) > 0, lambda: tokens, lambda: row[:1])


def training_dataset(x, y, num_classes: int, batch_size: int, buckets: int, seed: int,
                     boundaries: list[int] | None = None, shuffle: bool = True):
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, _labels(y, num_classes)))
    # Strip padding once and keep the short rows in memory; later epochs only shuffle and batch.
    ds = ds.map(lambda row, label: (_strip(row), label), num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True).cache()
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    if boundaries is None:
        boundaries = bucket_boundaries(unpadded(x)[1], buckets)
    ds = ds.bucket_by_sequence_length(
        lambda tokens, label: tf.shape(tokens)[0], boundaries, [batch_size] * (len(boundaries) + 1),
        padded_shapes=([None], [1] if _one_unit(num_classes) else []))
    return ds.prefetch(tf.data.AUTOTUNE)


def batches_per_epoch(x: np.ndarray, batch_size: int, buckets: int = 1) -> int:
    """Batches in one epoch of `training_dataset` (buckets > 1: each length bucket ends with its
    own partial batch) or of a plain batched dataset (buckets 1)."""
    if buckets <= 1 or x.ndim != 2:
        return max(1, -(-len(x) // batch_size))
    lengths = unpadded(x)[1]
    # bucket_by_sequence_length puts a length in the first bucket whose boundary exceeds it
    bucket = np.searchsorted(bucket_boundaries(lengths, buckets), lengths, side="right")
    return max(1, int(sum(-(-n // batch_size) for n in np.bincount(bucket) if n)))


def fit_datasets(arrays: dict, num_classes: int, batch_size: int, buckets: int, seed: int):
    """(train, val) datasets of one fit: both bucketed at the training lengths' quantiles; only
    train is shuffled."""
    (x, y), (x_val, y_val) = arrays["train"], arrays["val"]
    boundaries = bucket_boundaries(unpadded(x)[1], buckets)
    return (training_dataset(x, y, num_classes, batch_size, buckets, seed, boundaries),
            training_dataset(x_val, y_val, num_classes, batch_size, buckets, seed, boundaries, shuffle=False))


def predict_proba(model, x: np.ndarray, num_classes: int, batch_size: int = 256) -> np.ndarray:
    """Class probabilities [n, num_classes] in the order of x; batches of similar length."""
    import tensorflow as tf

    order = np.argsort(unpadded(x)[1], kind="stable")
    ds = tf.data.Dataset.from_tensor_slices(x[order]).map(
        _strip, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).padded_batch(batch_size)
    out = model.predict(ds.prefetch(tf.data.AUTOTUNE), verbose=0)
    proba = np.empty_like(out)
    proba[order] = out
    return as_class_probabilities(proba, num_classes)


def as_class_probabilities(out: np.ndarray, num_classes: int) -> np.ndarray:
    """A binary head's P(class 1) [n, 1] as [n, 2]; a softmax output unchanged; a regression
    head's values (num_classes 0) as they are."""
    if num_classes == 0:
        return out.astype(np.float64)
    if num_classes == 2:
        p1 = out.reshape(-1).astype(np.float64)
        return np.stack([1.0 - p1, p1], axis=1)
    out = out.astype(np.float64)
    return out / out.sum(axis=1, keepdims=True)  # float32 softmax rows sum to 1 only within 1e-7


def labelled(proba: np.ndarray, labels: list[str]):
    """A DataFrame: the predicted label, then one probability column per class."""
    import pandas as pd

    frame = pd.DataFrame(proba, columns=labels)
    frame.insert(0, "label", [labels[i] for i in proba.argmax(axis=1)])
    return frame


def window_datasets(arrays: dict, batch_size: int, seed: int):
    """(train, val) datasets of numeric windows (forecasting): fixed shapes, nothing to pad;
    train shuffled (windows are independent examples; the series itself is never reordered)."""
    import tensorflow as tf

    (x, y), (x_val, y_val) = arrays["train"], arrays["val"]
    train = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    val = tf.data.Dataset.from_tensor_slices((x_val, y_val))
    return (train.batch(batch_size).prefetch(tf.data.AUTOTUNE), val.batch(batch_size).prefetch(tf.data.AUTOTUNE))


def pair_datasets(arrays: dict, batch_size: int, seed: int):
    """(train, val) datasets of sequence-to-sequence pairs for teacher forcing: arrays[split] =
    (source [n, S], target [n, T + 1] = <s> tokens </s> then 0s). The decoder reads target[:, :-1]
    and learns target[:, 1:]; the weights (1 on real target tokens, 0 on padding) mask the
    accuracy (the loss ignores padding itself: ignore_class=0)."""
    import tensorflow as tf

    def dataset(source, target):
        inputs = {"source": source.astype(np.int32), "target_in": target[:, :-1].astype(np.int32)}
        out = target[:, 1:].astype(np.int32)
        return tf.data.Dataset.from_tensor_slices((inputs, out, (out != 0).astype(np.float32)))

    train = dataset(*arrays["train"]).shuffle(len(arrays["train"][0]), seed=seed, reshuffle_each_iteration=True)
    return (train.batch(batch_size).prefetch(tf.data.AUTOTUNE),
            dataset(*arrays["val"]).batch(batch_size).prefetch(tf.data.AUTOTUNE))


def token_windows(stream: np.ndarray, seq_len: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """A language model's examples from one token stream: inputs [n, seq_len] and targets
    [n, seq_len], the same window shifted by one token, so every position is trained on its next
    token. Windows start every `stride` tokens; a stream shorter than seq_len + 1 gives none."""
    from numpy.lib.stride_tricks import sliding_window_view

    stream = np.asarray(stream, dtype=np.int32)
    if len(stream) < seq_len + 1:
        empty = np.zeros((0, seq_len), np.int32)
        return empty, empty
    windows = sliding_window_view(stream, seq_len + 1)[::stride]
    return np.ascontiguousarray(windows[:, :-1]), np.ascontiguousarray(windows[:, 1:])

