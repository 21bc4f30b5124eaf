"""Keras callbacks of every fit: early stopping (best weights restored in memory), LR schedule,
NaN guard, and per-epoch MLflow metrics. The model file and the history are written once, by the
stage, after the fit."""
from __future__ import annotations

import keras

from rnnops.data.batches import predict_proba
from rnnops.params.schema import TrainParams
from rnnops.project import higher_is_better
from rnnops.scoring.metrics import classification_metrics


class MlflowEpochMetrics(keras.callbacks.Callback):
    """Every epoch's logs (loss, accuracy, val_*, learning rate) to the active MLflow run."""

    def __init__(self, prefix: str = ""):
        super().__init__()
        self.prefix = prefix

    def on_epoch_end(self, epoch, logs=None):
        import mlflow

        if mlflow.active_run() is None:
            return
        values = {f"{self.prefix}{k}": float(v) for k, v in (logs or {}).items()}
        values[f"{self.prefix}learning_rate"] = float(keras.ops.convert_to_numpy(
            self.model.optimizer.learning_rate))
        mlflow.log_metrics(values, step=epoch + 1)


class LearningRateInLogs(keras.callbacks.Callback):
    """`learning_rate` in each epoch's logs (the rate after the epoch's last batch), as
    ReduceLROnPlateau writes it, for fits without that callback (constant rate or a schedule)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


class ValMacroF1(keras.callbacks.Callback):
    """Adds `val_macro_f1` to each epoch's logs (for callbacks after it, e.g. pruning)."""

    def __init__(self, val: tuple, num_classes: int):
        super().__init__()
        self.x, self.y = val
        self.num_classes = num_classes

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            proba = predict_proba(self.model, self.x, self.num_classes)
            logs["val_macro_f1"] = classification_metrics(self.y, proba)["macro_f1"]


def standard(train: TrainParams) -> list:
    """TerminateOnNaN, early stopping and the plateau schedule (each when set), MLflow metrics."""
    cbs = [keras.callbacks.TerminateOnNaN()]
    if train.early_stopping is not None:
        monitor = train.early_stopping.monitor
        cbs.append(keras.callbacks.EarlyStopping(
            monitor=monitor, mode="max" if higher_is_better(monitor) else "min",
            patience=train.early_stopping.patience, restore_best_weights=True))
    if train.reduce_lr is not None:
        cbs.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=train.reduce_lr.factor,
                                                     patience=train.reduce_lr.patience,
                                                     min_lr=train.reduce_lr.min_lr))
    else:
        cbs.append(LearningRateInLogs())
    return cbs + [MlflowEpochMetrics()]


def without_validation() -> list:
    """A fit with no validation data (a K-fold refit for a fixed number of epochs)."""
    return [keras.callbacks.TerminateOnNaN(), MlflowEpochMetrics()]


class TensorBoardToMlflow(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback writing to `log_dir`; at the end of the fit the logs go to the
    active MLflow run as the artifact folder `tensorboard/` (`tensorboard --logdir` on a download)."""

    def on_train_end(self, logs=None):
        super().on_train_end(logs)
        import mlflow

        if mlflow.active_run() is not None:
            mlflow.log_artifacts(self.log_dir, artifact_path="tensorboard")
