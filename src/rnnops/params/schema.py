"""The sections of params.yaml other than `models:` and `tune:`: typed, validated, strict.

Unknown keys are rejected (`extra="forbid"`); each field's description is what a validation error
shows as the hint, so it is written for the user who mistyped it.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    # Unknown keys are typos until proven otherwise: reject them loudly.
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelLookup:
    """`models.<name>` -> (registered architecture, its params): shared by every task's params."""

    def model(self, name: str):
        entry = self.models[name]
        return entry.architecture or name, entry


class CsvOptions(Strict):
    """Options for `data.source: csv` (the user's own CSV/TSV/Parquet file, gzip allowed)."""

    text_column: str = Field("text", min_length=1, description="column holding the text")
    label_column: str = Field("label", min_length=1, description="column holding the label")
    split_column: str | None = Field(
        None, description="optional column with train/val/test per row; null = split by seed"
    )
    format: Literal["auto", "csv", "tsv", "parquet"] = Field(
        "auto", description="file format; auto = from the file name"
    )
    encoding: str = Field("utf-8", pattern=r"^[A-Za-z0-9_.-]{1,40}$",
                          description="text encoding of CSV/TSV files (utf-8, latin-1, cp1252, ...)")

    @model_validator(mode="after")
    def _known_encoding(self) -> "CsvOptions":
        import codecs

        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ValueError(f"data.csv.encoding '{self.encoding}' is not a known text encoding. "
                             "Fix: use utf-8, latin-1, cp1252, ...") from None
        return self


class DataParams(Strict):
    source: Literal["tweets", "imdb", "reuters", "csv"] = Field(
        description="dataset: tweets (embedded default), imdb, reuters or csv"
    )
    path: str | None = Field(
        description="local copy of the dataset (file or folder); null = built-in/download"
    )
    cache_dir: str = Field(min_length=1, description="where downloads are kept (~ expands)")
    subsample: int | None = Field(
        ge=100, description="keep exactly this many documents (all if fewer), stratified (quick runs); null = all"
    )
    val_fraction: float = Field(gt=0.0, lt=0.5, description="share of train held out for validation")
    test_fraction: float = Field(
        gt=0.0, lt=0.5, description="share held out for test when the source has no split"
    )
    min_class_count: int = Field(
        ge=1, le=10_000, description="reuters: keep topics with at least this many train documents"
    )
    vocab_size: int = Field(
        ge=100, le=2_000_000, description="vocabulary size including padding (0) and OOV (1)"
    )
    max_len: int = Field(ge=4, le=20_000, description="tokens per sequence after truncation")
    skip_top: int = Field(0, ge=0, le=1_000_000, description=(
        "the most frequent words of the vocabulary that are read as OOV (Keras' imdb skip_top); "
        "they keep their place in the text; 0 = none"))
    truncation: Literal["pre", "post"] = Field(
        description="which end of a long text is cut: post keeps the start, pre keeps the end"
    )
    padding: Literal["pre", "post"] = Field(description="where the 0 padding goes")
    lowercase: bool = Field(description="lowercase before tokenizing")
    strip_html: bool = Field(description="replace HTML tags such as <br /> by spaces")
    strip_punctuation: bool = Field(description="remove ASCII punctuation")
    csv: CsvOptions = Field(default_factory=CsvOptions, description="options for source csv")

    reuters_cut: Literal["modapte", "keras"] = Field("modapte", description=(
        "reuters: modapte (the ModApte split, single-topic stories, topics with min_class_count "
        "training stories) or keras (the cut closest to Keras' 46-topic set: every single-topic "
        "story, topics with at least 15 stories, a seeded test_fraction split)"))

    @model_validator(mode="after")
    def _csv_needs_path(self) -> "DataParams":
        if self.source == "csv" and not self.path:
            raise ValueError("data.source is csv but data.path is null: set data.path to your file")
        if self.skip_top >= self.vocab_size - 2:
            raise ValueError(f"data.skip_top {self.skip_top} leaves no word of data.vocab_size "
                             f"{self.vocab_size} (2 ids are padding and OOV). Fix: lower skip_top.")
        return self


class EarlyStopping(Strict):
    monitor: Literal["val_loss", "val_accuracy"] = Field(description="metric watched")
    patience: int = Field(ge=0, le=1000, description="epochs without improvement before stopping")


class ReduceLR(Strict):
    factor: float = Field(gt=0.0, lt=1.0, description="learning-rate multiplier on a plateau")
    patience: int = Field(ge=0, le=1000, description="epochs without improvement before reducing")
    min_lr: float = Field(ge=0.0, le=1.0, description="lower bound of the learning rate")


class LRSchedule(Strict):
    """A keras.optimizers.schedules schedule over the whole fit, stepped every batch."""

    type: Literal["cosine_decay", "exponential_decay"] = Field(description=(
        "cosine_decay (from learning_rate down to alpha x learning_rate at the last epoch) or "
        "exponential_decay (learning_rate x decay_rate ** epochs done)"))
    alpha: float = Field(0.0, ge=0.0, le=1.0, description="cosine_decay: final rate as a share of learning_rate")
    warmup_epochs: int = Field(0, ge=0, le=1000, description="cosine_decay: epochs of linear warm-up from 0")
    decay_rate: float = Field(0.5, gt=0.0, le=1.0, description="exponential_decay: factor per epoch")


class BaseTrainParams(Strict):
    """What every task's `train:` has; a task adds its own keys in a subclass."""

    epochs: int = Field(ge=1, le=1000, description="maximum epochs (early stopping may end sooner)")
    batch_size: int = Field(ge=1, le=8192, description="examples per batch")
    optimizer: Literal["adam", "rmsprop", "sgd"] = Field(description="optimizer")
    learning_rate: float = Field(gt=0.0, le=10.0, description="initial learning rate")
    clipnorm: float | None = Field(gt=0.0, description="gradient clipping by norm; null = off")
    early_stopping: EarlyStopping | None = Field(description=(
        "stop when the monitored metric stops improving and keep the best epoch's weights; "
        "null = train every epoch and keep the last one"))
    reduce_lr: ReduceLR | None = Field(description="halve-on-plateau schedule; null = off")
    lr_schedule: LRSchedule | None = Field(None, description=(
        "a learning-rate schedule instead of reduce_lr (set reduce_lr: null); null = constant rate"))
    tensorboard: bool = Field(False, description=(
        "write TensorBoard logs of the fit and log them to the MLflow run as the artifact tensorboard/"))

    @model_validator(mode="after")
    def _one_schedule(self) -> "BaseTrainParams":
        if self.lr_schedule is not None and self.reduce_lr is not None:
            raise ValueError("train.lr_schedule and train.reduce_lr are both set; Keras cannot lower a "
                             "scheduled rate on a plateau. Fix: set reduce_lr: null (or lr_schedule: null)")
        return self

    @property
    def monitor(self) -> str:
        """The metric that picks the best epoch (early stopping's; val_loss when it is off)."""
        return self.early_stopping.monitor if self.early_stopping else "val_loss"


class KFoldTrainParams(BaseTrainParams):
    """`train:` of tasks without time order: K-fold cross-validation over the training rows."""

    folds: int = Field(1, ge=1, le=100, description=(
        "K-fold cross-validation over the training rows (train + val of the prepared data), seeded, "
        "stratified for classes; 1 = off (one validation split)"))
    fold_model: Literal["refit", "average"] = Field("refit", description=(
        "the model kept after K folds: refit on every training row for the folds' mean best epoch, "
        "or the average of the K fold models"))


def check_cross_validation(train, tune) -> None:
    """tune.cross_validate scores trials by folds, so it needs train.folds > 1."""
    if tune.cross_validate and train.folds < 2:
        raise ValueError("tune.cross_validate is true but train.folds is 1. Fix: set train.folds "
                         "to 2 or more, or cross_validate: false")


class TrainParams(KFoldTrainParams):
    """Text classification's `train:` (field order kept: MLflow params and run.json list them so)."""

    class_weight: Literal["none", "balanced"] = Field(description="loss weights per class")
    length_buckets: int = Field(ge=1, le=64, description=(
        "batches group documents of similar length into this many buckets and pad each batch to "
        "its own longest document; 1 = one bucket"))


class EvaluateParams(Strict):
    metric: Literal["accuracy", "macro_f1", "loss"] = Field(
        description="validation score that picks the ensemble members and the winner")
    ensemble_size: int = Field(ge=1, le=1000, description="greedy selection: most members (with repeats)")
    promote_metric: Literal["accuracy", "macro_f1"] = Field(
        description="test metric a new registry version must beat to become the champion")
    registry: bool = Field(description="log the winner to the MLflow model registry")
