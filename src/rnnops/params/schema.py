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
    truncation: Literal["pre", "post"] = Field(
        description="which end of a long text is cut: post keeps the start, pre keeps the end"
    )
    padding: Literal["pre", "post"] = Field(description="where the 0 padding goes")
    lowercase: bool = Field(description="lowercase before tokenizing")
    strip_html: bool = Field(description="replace HTML tags such as <br /> by spaces")
    strip_punctuation: bool = Field(description="remove ASCII punctuation")
    csv: CsvOptions = Field(default_factory=CsvOptions, description="options for source csv")

    @model_validator(mode="after")
    def _csv_needs_path(self) -> "DataParams":
        if self.source == "csv" and not self.path:
            raise ValueError("data.source is csv but data.path is null: set data.path to your file")
        return self


class EarlyStopping(Strict):
    monitor: Literal["val_loss", "val_accuracy"] = Field(description="metric watched")
    patience: int = Field(ge=0, le=1000, description="epochs without improvement before stopping")


class ReduceLR(Strict):
    factor: float = Field(gt=0.0, lt=1.0, description="learning-rate multiplier on a plateau")
    patience: int = Field(ge=0, le=1000, description="epochs without improvement before reducing")
    min_lr: float = Field(ge=0.0, le=1.0, description="lower bound of the learning rate")


class BaseTrainParams(Strict):
    """What every task's `train:` has; a task adds its own keys in a subclass."""

    epochs: int = Field(ge=1, le=1000, description="maximum epochs (early stopping may end sooner)")
    batch_size: int = Field(ge=1, le=8192, description="examples per batch")
    optimizer: Literal["adam", "rmsprop", "sgd"] = Field(description="optimizer")
    learning_rate: float = Field(gt=0.0, le=10.0, description="initial learning rate")
    clipnorm: float | None = Field(gt=0.0, description="gradient clipping by norm; null = off")
    early_stopping: EarlyStopping
    reduce_lr: ReduceLR


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
