"""The text generation task's params (generation/params.yaml): a language model over characters or
words of a corpus. Typed, validated, strict; `models:` and `tune:` are the shared ones."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rnnops.params.architectures import ModelParams
from rnnops.params.schema import BaseTrainParams, ModelLookup, ReduceLR, Strict
from rnnops.params.search_space import TuneParams

NO_FOLDS = ("a language model is scored on held-out documents (bits per token), not K folds")


class GenerationDataParams(Strict):
    source: Literal["tweets", "imdb", "csv", "txt"] = Field(description=(
        "tweets (embedded: the CrowdFlower tweets), imdb (data.path: the reviews CSV), csv (your file's "
        "data.text_column) or txt (a plain text file, see data.documents)"))
    path: str | None = Field(None, description="imdb, csv, txt: the file (relative paths: from the project "
                                               "root); tweets: an unmodified copy of the corpus")
    text_column: str = Field("text", min_length=1, description="csv: the column holding the texts")
    documents: Literal["lines", "whole"] = Field("lines", description=(
        "txt: lines (each non-empty line is a document, split between train/val/test) or whole (one "
        "text, cut into contiguous train/val/test parts at line boundaries)"))
    level: Literal["char", "word"] = Field(description="tokens: characters (bits per character) or words "
                                                       "and punctuation marks (perplexity)")
    lowercase: bool = Field(False, description="lowercase before tokenizing")
    strip_html: bool = Field(True, description="replace HTML tags such as <br /> by a space (IMDB)")
    min_count: int = Field(2, ge=1, le=1_000_000, description=(
        "a token seen fewer times in the training documents becomes the unknown token"))
    vocab_size: int = Field(ge=8, le=200_000, description=(
        "most tokens kept, counting padding, unknown and end-of-text (the most frequent in training)"))
    subsample: int | None = Field(None, ge=3, description="keep this many documents (seeded); null = all")
    val_fraction: float = Field(gt=0.0, lt=0.5, description="share of documents for validation")
    test_fraction: float = Field(gt=0.0, lt=0.5, description="share of documents for test")

    @model_validator(mode="after")
    def _consistent(self) -> "GenerationDataParams":
        if self.source in ("imdb", "csv", "txt") and not self.path:
            raise ValueError(f"data.source is {self.source} but data.path is null. Fix: set data.path to the file")
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ValueError("data.val_fraction + data.test_fraction leave under 10% for training. Fix: lower them")
        return self


class GenerationEarlyStopping(Strict):
    monitor: Literal["val_loss"] = Field(description="val_loss: cross-entropy per token of the validation windows")
    patience: int = Field(ge=0, le=1000, description="epochs without improvement before stopping")


class GenerationTrainParams(BaseTrainParams):
    seq_len: int = Field(ge=2, le=4096, description=(
        "tokens per training window; the target is the window shifted by one token, so every position "
        "learns its next token (tunable)"))
    stride: int | None = Field(None, ge=1, le=4096, description=(
        "tokens between window starts; null = seq_len (each token once per epoch)"))
    early_stopping: GenerationEarlyStopping | None = Field(description="the best epoch's weights are kept; null = train every epoch, keep the last")
    reduce_lr: ReduceLR | None = Field(description="halve-on-plateau schedule; null = off")
    folds: int | None = Field(None, exclude=True, description=f"not for generation: {NO_FOLDS}")

    @model_validator(mode="after")
    def _checked(self) -> "GenerationTrainParams":
        if self.folds is not None:
            raise ValueError(f"train.folds: {NO_FOLDS}. Fix: remove train.folds")
        return self


class NgramParams(Strict):
    orders: list[int] = Field(description="n-gram orders tried; the one with the lowest validation bits wins",
                              min_length=1)

    @model_validator(mode="after")
    def _orders(self) -> "NgramParams":
        if any(o < 1 or o > 12 for o in self.orders):
            raise ValueError(f"baselines.orders {self.orders}: each order must be 1..12")
        return self


class GenerationBaselines(Strict):
    models: list[Literal["ngram"]] = Field(description=(
        "classical peers in the same table: ngram (interpolated Kneser-Ney on the training tokens)"))
    ngram: NgramParams


class SamplingParams(Strict):
    prompts: list[str] = Field(min_length=1, max_length=10, description=(
        "texts the models continue after every epoch (MLflow) and in the report; \"\" = from the "
        "beginning of a document"))
    temperatures: list[float] = Field(min_length=1, max_length=4, description="sampling temperatures, each > 0")
    max_tokens: int = Field(ge=1, le=5000, description="tokens generated per sample")
    every_epoch: bool = Field(True, description="log samples to MLflow after each epoch (text artifacts)")

    @model_validator(mode="after")
    def _positive(self) -> "SamplingParams":
        if any(t <= 0 for t in self.temperatures):
            raise ValueError(f"sampling.temperatures {self.temperatures}: temperatures must be > 0. Fix: use "
                             "positive values (greedy decoding is `greedy: true` at generation time)")
        return self


class GenerationEvaluateParams(Strict):
    ensemble_size: int = Field(ge=1, le=1000, description="greedy selection: most members (with repeats)")
    registry: bool = Field(description="log the winner to the MLflow model registry")


class GenerationTuneParams(TuneParams):
    metric: Literal["val_loss"] = Field(description="val_loss: validation cross-entropy per token")

    @model_validator(mode="after")
    def _no_folds(self) -> "GenerationTuneParams":
        if self.cross_validate:
            raise ValueError(f"tune.cross_validate: {NO_FOLDS}. Fix: remove tune.cross_validate")
        return self


class GenerationParams(ModelLookup, Strict):
    task: Literal["generation"] = Field(description="generation: this file configures the text generation pipeline")
    seed: int = Field(ge=0, le=2**31 - 1, description="global random seed")
    data: GenerationDataParams
    train: GenerationTrainParams
    models: dict[str, ModelParams] = Field(description="architectures to train and their hyperparameters")
    tune: GenerationTuneParams
    baselines: GenerationBaselines
    sampling: SamplingParams
    evaluate: GenerationEvaluateParams

    @model_validator(mode="after")
    def _causal(self) -> "GenerationParams":
        # A language model reads left to right: a backward pass would see the token it predicts.
        for name, block in [*self.models.items(), ("tune.base", None)]:
            bidirectional = (block.model_dump() if block else self.tune.base).get("bidirectional", False)
            if bidirectional:
                raise ValueError(f"models.{name}: bidirectional layers see the next token. Fix: bidirectional: false"
                                 if block else "tune.base: bidirectional: true sees the next token. Fix: false")
        if "model.bidirectional" in self.tune.space:
            raise ValueError("tune.space model.bidirectional: a language model cannot read backwards. Fix: remove it")
        return self

    def longest_window(self) -> int:
        """The longest train.seq_len a run may use (the tune space's too): every split's stream
        must be longer than it."""
        dim = self.tune.space.get("train.seq_len")
        sizes = [int(float(v)) for v in (dim.candidates() if dim is not None else [])]  # "512", 512.0: ints to pydantic
        return max([self.train.seq_len, *sizes])


def dataset_name(data: GenerationDataParams) -> str:
    """tweets, imdb, or the file's stem; with the level: the MLflow experiment is
    rnnops-generation-<name> and the registered model the same."""
    import re
    from pathlib import Path

    name = data.source
    if data.source in ("csv", "txt"):
        stem = Path(data.path).name.split(".")[0].lower()
        name = re.sub(r"[^a-z0-9_-]", "-", stem) or data.source
    return f"{name}-{data.level}"
