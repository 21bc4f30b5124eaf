"""The regression task's params (regression/params.yaml): a numeric target from feature columns
(tabular) or from text. Typed, validated, strict; `models:` and `tune:` are the shared ones."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rnnops.params.architectures import ModelParams
from rnnops.params.schema import KFoldTrainParams, ModelLookup, Strict, check_cross_validation
from rnnops.params.search_space import TuneParams

TEXT_SOURCES = ("imdb",)          # sources whose inputs are texts (csv: when data.text_column is set)
DEFAULT_TARGETS = {"diabetes": "target", "boston": "MEDV", "imdb": "rating"}


class TextOptions(Strict):
    """How texts become token ids (text inputs only); the vocabulary sees training rows only."""

    vocab_size: int = Field(20_000, ge=100, le=2_000_000, description="vocabulary size incl. padding and OOV")
    max_len: int = Field(200, ge=4, le=20_000, description="tokens per text after truncation")
    truncation: Literal["pre", "post"] = Field("post", description="post keeps the start, pre the end")
    lowercase: bool = Field(True, description="lowercase before tokenizing")
    strip_html: bool = Field(True, description="replace HTML tags such as <br /> by spaces")
    strip_punctuation: bool = Field(True, description="remove ASCII punctuation")
    padding: Literal["post"] = Field("post", description="padding goes after the tokens")


class RegressionDataParams(Strict):
    source: Literal["diabetes", "boston", "imdb", "csv"] = Field(description=(
        "diabetes (embedded in scikit-learn), boston (data.path: boston_housing.csv), imdb (star "
        "ratings from review text; data.path: the CSV with split,rating,text) or csv (your file)"))
    path: str | None = Field(None, description="the data file; null for diabetes")
    target: str | None = Field(None, description="column predicted; null = the source's (diabetes: "
                                                 "target, boston: MEDV, imdb: rating)")
    features: list[str] | None = Field(None, description="tabular: feature columns; null = every column "
                                                         "but the target (and the text column)")
    text_column: str | None = Field(None, description="csv: a text column makes this text regression "
                                                      "(texts in, a number out); imdb: text")
    format: Literal["auto", "csv", "tsv", "parquet"] = Field("auto", description="file format; auto = from the name")
    split: Literal["random", "keras", "source"] = Field(description=(
        "test rows: random (seeded by `seed`), keras (Keras' boston_housing shuffle, seed 113: 404/102) "
        "or source (the file's own `split` column, e.g. IMDB's official train/test)"))
    test_fraction: float = Field(0.2, gt=0.0, lt=0.5, description="random split: share of rows for test")
    val_fraction: float = Field(gt=0.0, lt=0.5, description=(
        "share of the non-test rows held out for validation (train.folds 1); with K folds, "
        "train and val rows are folded together"))
    subsample: int | None = Field(None, ge=20, description="keep this many rows (seeded; quick runs); null = all")
    scale_target: bool = Field(True, description="standardise the target with training statistics "
                                                 "(models learn the scaled target; scores are in its units)")
    text: TextOptions = Field(default_factory=TextOptions, description="text inputs only")

    @model_validator(mode="after")
    def _consistent(self) -> "RegressionDataParams":
        if self.source in ("boston", "csv", "imdb") and not self.path:
            raise ValueError(f"data.source is {self.source} but data.path is null: set data.path to the file")
        if self.split == "keras" and self.source != "boston":
            raise ValueError("data.split keras reproduces Keras' boston_housing split only. "
                             "Fix: use split: random, or source: boston")
        if self.split == "source" and self.source not in ("imdb", "csv"):
            raise ValueError(f"data.split source needs a file with a split column; {self.source} has none. "
                             "Fix: use split: random")
        return self

    @property
    def text_inputs(self) -> bool:
        return self.source in TEXT_SOURCES or (self.source == "csv" and self.text_column is not None)

    @property
    def target_column(self) -> str:
        return self.target or DEFAULT_TARGETS.get(self.source, "target")


class RegressionEarlyStopping(Strict):
    monitor: Literal["val_loss", "val_mae"] = Field(description="metric watched (scaled target)")
    patience: int = Field(ge=0, le=1000, description="epochs without improvement before stopping")


class RegressionTrainParams(KFoldTrainParams):
    early_stopping: RegressionEarlyStopping | None = Field(description="the best epoch's weights are kept; null = train every epoch, keep the last")
    length_buckets: int = Field(4, ge=1, le=64, description="text inputs: batches by length bucket")


class RegressionBaselines(Strict):
    models: list[Literal["mean", "ridge", "gradient_boosting"]] = Field(description=(
        "peers scored like trained models: the training mean, ridge regression (tabular: the "
        "standardised features; text: TF-IDF words and bigrams), gradient boosting (tabular only)"))
    ridge_alpha: float = Field(1.0, gt=0.0, description="ridge: L2 strength")
    tfidf_max_features: int = Field(50_000, ge=100, le=2_000_000, description="text ridge: most frequent "
                                                                              "words and bigrams kept")
    boosting_max_iter: int = Field(200, ge=10, le=10_000, description="gradient boosting: trees")


class RegressionEvaluateParams(Strict):
    metric: Literal["mae", "rmse"] = Field(description="validation score (out-of-fold with K folds; "
                                                       "lower is better) that picks ensembles and the winner")
    ensemble_size: int = Field(ge=1, le=1000, description="greedy selection: most members (with repeats)")
    promote_metric: Literal["mae", "rmse"] = Field(description="test metric a new registry version must beat")
    registry: bool = Field(description="log the winner to the MLflow model registry")


class RegressionTuneParams(TuneParams):
    metric: Literal["val_loss", "val_mae"] = Field(description="what a trial scores (scaled target)")


class RegressionParams(ModelLookup, Strict):
    task: Literal["regression"] = Field(description="regression: this file configures the regression pipeline")
    seed: int = Field(ge=0, le=2**31 - 1, description="global random seed")
    data: RegressionDataParams
    train: RegressionTrainParams
    models: dict[str, ModelParams] = Field(description="architectures to train and their hyperparameters")
    tune: RegressionTuneParams
    baselines: RegressionBaselines
    evaluate: RegressionEvaluateParams

    @model_validator(mode="after")
    def _inputs_fit_models(self) -> "RegressionParams":
        text = self.data.text_inputs
        for name in self.models:
            arch = self.model(name)[0]
            if text == (arch == "dense"):
                kind = "texts" if text else "feature rows"
                fix = "a text body (lstm, gru, bilstm, ...)" if text else "architecture: dense"
                raise ValueError(f"models.{name}: {arch} does not read {kind}. Fix: use {fix}")
        if text and "gradient_boosting" in self.baselines.models:
            raise ValueError("baselines.models: gradient_boosting needs feature rows, not texts. "
                             "Fix: remove it (text regression has mean and ridge)")
        check_cross_validation(self.train, self.tune)
        return self



def dataset_name(data: RegressionDataParams) -> str:
    """diabetes, boston, imdb-ratings, or the CSV file's stem: the MLflow experiment is
    rnnops-regression-<name> and the registered model the same."""
    import re
    from pathlib import Path

    if data.source == "csv":
        stem = Path(data.path).name.split(".")[0].lower()
        return re.sub(r"[^a-z0-9_-]", "-", stem) or "table"
    return "imdb-ratings" if data.source == "imdb" else data.source
