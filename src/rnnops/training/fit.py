"""Compile and fit one model with the project's callbacks; evaluate it on val and test.

The one training loop of the project: `train@<arch>`, the tuned model and every Optuna trial
go through `fit_model`.
"""
from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from typing import Callable

from rnnops.data.batches import batches_per_epoch, fit_datasets, pair_datasets, predict_proba, token_windows, window_datasets
from rnnops.errors import DataError
from rnnops.models.bodies import DatasetSpec, build_model
from rnnops.params.architectures import ModelParams
from rnnops.params.schema import BaseTrainParams, TrainParams
from rnnops.project import higher_is_better
from rnnops.scoring.metrics import classification_metrics
from rnnops.training import callbacks


@dataclass
class FitResult:
    model: object
    history: pd.DataFrame          # one row per epoch: loss, accuracy, val_loss, val_accuracy, lr
    best_epoch: int                # 1-based
    seconds: float
    samples_per_second: float
    params_count: int
    predictions: dict[str, np.ndarray]  # split -> class probabilities [n, classes], or forecasts [n, horizon]
    metrics: dict[str, dict[str, float]]  # split -> the task's scores (accuracy, macro_f1, loss; mae, ...)
    cross_validation: object = None  # rnnops.training.folds.CrossValidation when train.folds > 1


def set_determinism(seed: int) -> None:
    """Same seed, same machine -> same weights and metrics (Python, NumPy and TF seeds, and TF
    ops restricted to deterministic kernels)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def learning_rate(train: BaseTrainParams, steps_per_epoch: int, epochs: int):
    """train.learning_rate, or the keras.optimizers.schedules schedule of train.lr_schedule, which
    steps every batch, so it needs the batches per epoch and the epochs of the fit."""
    import keras

    schedule = train.lr_schedule
    if schedule is None:
        return train.learning_rate
    if schedule.type == "exponential_decay":  # x decay_rate per epoch, applied smoothly per batch
        return keras.optimizers.schedules.ExponentialDecay(train.learning_rate, steps_per_epoch,
                                                           schedule.decay_rate)
    warmup = min(schedule.warmup_epochs, epochs - 1) * steps_per_epoch
    if warmup:  # linear from 0 up to learning_rate, then cosine down
        return keras.optimizers.schedules.CosineDecay(0.0, epochs * steps_per_epoch - warmup, schedule.alpha,
                                                      warmup_target=train.learning_rate, warmup_steps=warmup)
    return keras.optimizers.schedules.CosineDecay(train.learning_rate, epochs * steps_per_epoch, schedule.alpha)


def compile_model(model, spec: DatasetSpec, train: TrainParams, steps_per_epoch: int = 1,
                  epochs: int | None = None) -> None:
    import keras

    optimizers = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop,
                  "sgd": keras.optimizers.SGD}
    extra = {"clipnorm": train.clipnorm} if train.clipnorm else {}
    rate = learning_rate(train, steps_per_epoch, epochs or train.epochs)
    optimizer = optimizers[train.optimizer](learning_rate=rate, **extra)
    if spec.outputs:  # regression (forecasts): squared error, as the notes train it
        model.compile(optimizer=optimizer, loss=keras.losses.MeanSquaredError(),
                      metrics=[keras.metrics.MeanAbsoluteError(name="mae")])
        return
    if spec.seq2seq:  # teacher forcing: cross-entropy and accuracy over real target tokens only
        model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(ignore_class=0),
                      weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
        return
    if spec.num_classes == 2:
        loss, accuracy = keras.losses.BinaryCrossentropy(), keras.metrics.BinaryAccuracy(name="accuracy")
    else:
        loss, accuracy = keras.losses.SparseCategoricalCrossentropy(), \
            keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    model.compile(optimizer=optimizer, loss=loss, metrics=[accuracy])


def class_weights(y: np.ndarray, num_classes: int, mode: str) -> dict[int, float] | None:
    if mode == "none":
        return None
    from sklearn.utils.class_weight import compute_class_weight

    weights = compute_class_weight("balanced", classes=np.arange(num_classes), y=y)
    return {i: float(w) for i, w in enumerate(weights)}


def fit_model(architecture: str, model_params: ModelParams, train: BaseTrainParams, spec: DatasetSpec,
              arrays: dict[str, tuple[np.ndarray, np.ndarray]], seed: int,
              extra_callbacks: list | None = None, epochs: int | None = None,
              evaluate_splits=("val", "test"), verbose: int | None = None,
              scorer: Callable[[str, np.ndarray, np.ndarray], dict] | None = None,
              validate: bool = True) -> FitResult:
    """Build, compile and fit; returns the best-epoch model (early stopping restores its weights
    in memory) and its metrics. Nothing is written: the caller saves the model and history once.

    Token inputs (text) are batched by length, numeric inputs (windows, feature rows) are plain
    shuffled batches. Class probabilities are scored here; numbers (forecasts, regression) by the
    task's `scorer(split, y, predictions)`, which knows the target's units.

    `validate=False` (a K-fold refit on every training row) fits exactly `epochs` epochs with no
    validation data, so no early stopping or plateau schedule; "val" is then not scored.

    A language model (`spec.sequence`) gets token streams, arrays[split] = (stream, None), and
    reads windows of `train.seq_len` cut every `train.stride` tokens (null: seq_len) here, so a trial that samples
    train.seq_len trains on its own windows; its scores are Keras' mean cross-entropy per token of
    the windows (`loss`, nats) and next-token `accuracy`; no predictions are kept.

    A sequence-to-sequence model (`spec.seq2seq`) gets pairs, arrays[split] = (source ids, target
    ids with <s> and </s>), trained by teacher forcing (rnnops.data.batches.pair_datasets); its
    scores are the teacher-forced `loss` and `accuracy` per real target token; the task decodes."""
    # Bucketed datasets have no known length; Keras warns each epoch that the input "ran out".
    warnings.filterwarnings("ignore", message=".*ran out of data.*")
    warnings.filterwarnings("ignore", message=".*`shuffle=True` was passed.*")
    if not spec.numeric:
        check_token_ids(arrays, spec)
    if spec.sequence:
        spec = dataclasses.replace(spec, max_len=train.seq_len)  # the Transformer's positions
        stride = train.stride or train.seq_len
        arrays = {s: token_windows(stream, train.seq_len, stride) for s, (stream, _) in arrays.items()}
        empty = [s for s, (x, _) in arrays.items() if not len(x)]
        if empty:
            raise DataError(f"the {', '.join(empty)} token stream is shorter than train.seq_len + 1 "
                            f"({train.seq_len + 1} tokens). Fix: lower train.seq_len or use more text.")
    set_determinism(seed)
    model = build_model(architecture, model_params, spec)
    y_train = arrays["train"][1]
    if not validate:  # the val slot is unused: the training rows stand in so the datasets build
        arrays = {**arrays, "val": arrays["train"]}
        evaluate_splits = tuple(s for s in evaluate_splits if s != "val")
    if architecture == "nb_logistic":  # fitted in closed form by scikit-learn: no epochs
        return fit_nb_logistic(model, model_params, train, spec, arrays, seed, evaluate_splits)
    if spec.seq2seq:
        train_ds, val_ds = pair_datasets(arrays, train.batch_size, seed)
    elif spec.numeric or spec.sequence:  # fixed-shape windows: nothing to pad
        train_ds, val_ds = window_datasets(arrays, train.batch_size, seed)
    else:
        train_ds, val_ds = fit_datasets(arrays, spec.num_classes, train.batch_size, train.length_buckets, seed)
    bucketed = not (spec.numeric or spec.sequence or spec.seq2seq)
    steps = batches_per_epoch(arrays["train"][0], train.batch_size, train.length_buckets if bucketed else 1)
    # On a dataset of unknown length (the bucketed one) Keras counts one optimizer iteration more
    # per epoch, its probe for the end of the data (measured: 18 iterations for 17 batches).
    compile_model(model, spec, train, steps + (1 if int(train_ds.cardinality()) < 0 else 0), epochs)
    cbs = (callbacks.standard(train) if validate else callbacks.without_validation()) + list(extra_callbacks or [])
    logs = tempfile.TemporaryDirectory(prefix="rnnops-tensorboard-") if train.tensorboard else None
    if logs:  # histograms each epoch; no profiler (it slows the first batches)
        cbs.append(callbacks.TensorBoardToMlflow(logs.name, histogram_freq=1))
    # A progress bar in a terminal, one line per epoch in logs (CI, dvc repro > file).
    verbose = (1 if sys.stdout.isatty() else 2) if verbose is None else verbose
    start = time.perf_counter()
    fitted = model.fit(train_ds, validation_data=val_ds if validate else None, epochs=epochs or train.epochs,
                       callbacks=cbs, class_weight=None if spec.numeric or spec.outputs or spec.sequence or spec.seq2seq else
                       class_weights(y_train, spec.num_classes, train.class_weight), verbose=verbose)
    seconds = time.perf_counter() - start
    if logs:
        logs.cleanup()
    history = history_table(fitted.history)
    if validate and train.early_stopping is not None:  # the restored weights are the best epoch's
        monitor = train.early_stopping.monitor
        best = int(history[monitor].idxmax() if higher_is_better(monitor) else history[monitor].idxmin())
    else:
        best = len(history) - 1
    if spec.sequence or spec.seq2seq:
        if spec.seq2seq:
            metrics = {s: model.evaluate(pair_datasets({"train": arrays[s], "val": arrays[s]}, train.batch_size,
                                                       seed)[1], verbose=0, return_dict=True)
                       for s in evaluate_splits}
            per_second = len(arrays["train"][0]) * len(history) / seconds  # pairs
        else:
            metrics = {s: model.evaluate(*arrays[s], batch_size=train.batch_size, verbose=0, return_dict=True)
                       for s in evaluate_splits}
            per_second = arrays["train"][0].size * len(history) / seconds  # tokens
        return FitResult(model, history, best + 1, seconds, per_second, int(model.count_params()), {}, metrics)
    predictions = {s: predict(model, arrays[s][0], spec) for s in evaluate_splits}
    if spec.outputs:
        metrics = {s: scorer(s, arrays[s][1], predictions[s]) for s in evaluate_splits}
    else:
        metrics = {s: classification_metrics(arrays[s][1], predictions[s]) for s in evaluate_splits}
    return FitResult(model, history, best + 1, seconds, len(y_train) * len(history) / seconds,
                     int(model.count_params()), predictions, metrics)


def fit_nb_logistic(model, model_params, train: BaseTrainParams, spec: DatasetSpec, arrays: dict,
                    seed: int, evaluate_splits) -> FitResult:
    """rnnops.models.nb_logistic fits the model on the training split; its one-row history holds
    the scores a Keras fit logs after its only epoch (train and, when scored, val)."""
    from rnnops.models import nb_logistic

    x_train, y_train = arrays["train"]
    start = time.perf_counter()
    nb_logistic.fit(model, model_params, x_train, y_train, spec.num_classes, seed,
                    getattr(train, "class_weight", "none"))
    seconds = time.perf_counter() - start
    predictions = {s: predict(model, arrays[s][0], spec) for s in ("train", *evaluate_splits)}
    metrics = {s: classification_metrics(arrays[s][1], predictions[s]) for s in predictions}
    row = {"epoch": [0], **{f"{prefix}{k}": [metrics[s][k]] for s, prefix in (("train", ""), ("val", "val_"))
                            if s in metrics for k in ("accuracy", "loss")}}
    del predictions["train"], metrics["train"]
    return FitResult(model, pd.DataFrame(row), 1, seconds, len(y_train) / seconds, int(model.count_params()),
                     predictions, metrics)


def predict(model, x: np.ndarray, spec: DatasetSpec) -> np.ndarray:
    """Class probabilities [n, classes] (token inputs batched by length), or the numbers a
    regression head gives [n, outputs]."""
    if spec.numeric:
        return model.predict(x, batch_size=512, verbose=0).astype(np.float64)
    return predict_proba(model, x, spec.num_classes)


def check_token_ids(arrays: dict[str, tuple[np.ndarray, np.ndarray]], spec: DatasetSpec) -> None:
    """Token ids beyond the vocabulary would fail deep inside the embedding lookup, mid-epoch."""
    top = max(int(x.max(initial=0)) for x, _ in arrays.values())
    if spec.seq2seq:  # the target side has its own vocabulary (num_classes)
        top_target = max(int(y.max(initial=0)) for _, y in arrays.values())
        if top_target >= spec.num_classes:
            raise DataError(f"prepared data: target token id {top_target} but spec.json says target_vocab_size "
                            f"{spec.num_classes}; the prepared files do not belong together. "
                            "Fix: rebuild them with `dvc repro -f prepare`.")
    if top >= spec.vocab_size:
        raise DataError(f"prepared data: token id {top} but spec.json says vocab_size "
                        f"{spec.vocab_size}; the prepared files do not belong together. "
                        "Fix: rebuild them with `dvc repro -f prepare`.")


def history_table(logs: dict[str, list[float]]) -> pd.DataFrame:
    """Keras' History as one row per epoch: `epoch` (0-based, as Keras counts) then the logged
    values in name order (loss, accuracy, val_*, learning_rate)."""
    epochs = len(next(iter(logs.values()), []))
    return pd.DataFrame({"epoch": range(epochs), **{k: logs[k] for k in sorted(logs)}})


def facts(name: str, arch: str, result: FitResult) -> dict:
    """What the run was (names, epochs, size, timings): in run.json and MLflow, not a DVC metric,
    so a retrain with the same results shows an empty `dvc metrics diff`."""
    return {
        "model": name, "architecture": arch, "best_epoch": result.best_epoch,
        "epochs_run": int(len(result.history)), "params_count": result.params_count,
        "train_seconds": round(result.seconds, 2),
        "samples_per_second": round(result.samples_per_second, 1),
    }


def history_by_epoch(result: FitResult):
    history = result.history.copy()
    history["epoch"] = history["epoch"] + 1  # Keras counts from 0; people count from 1
    return history
