"""The sequence-to-sequence task's params (seq2seq/params.yaml): source texts -> target texts
(date normalisation by default; your sentence pairs). Typed, validated, strict; `models:` and
`tune:` are the shared ones."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rnnops.params.architectures import ModelParams
from rnnops.params.schema import BaseTrainParams, ModelLookup, ReduceLR, Strict
from rnnops.params.search_space import TuneParams

NO_FOLDS = "a translation model is scored on held-out pairs (exact match, chrF), not K folds"
ENCODER_DECODER = ("seq2seq_rnn", "seq2seq_transformer")


class DatesParams(Strict):
    """The embedded dataset: dates in a dozen locales' CLDR formats (Babel) -> ISO 8601."""
    train: int = Field(ge=10, le=2_000_000, description="training pairs")
    val: int = Field(ge=10, le=200_000, description="validation pairs (validation days, seen formats)")
    test: int = Field(ge=10, le=200_000, description="test pairs (test days; seen and held-out formats)")
    locales: list[str] = Field(min_length=1, description="CLDR locales, e.g. en_US, fr_FR, ja_JP")
    formats: list[Literal["full", "long", "medium", "short"]] = Field(min_length=1, description="CLDR date formats")
    held_out: list[str] = Field(default_factory=list, description=(
        "locale:format combinations only in test (generalisation to unseen formats), e.g. fr_FR:long"))
    first_year: int = Field(ge=1, le=9999, description="first year of the dates")
    last_year: int = Field(ge=1, le=9999, description="last year (two-digit years need a span of at most 100)")

    @model_validator(mode="after")
    def _years(self) -> "DatesParams":
        if self.last_year < self.first_year:
            raise ValueError(f"data.dates.last_year {self.last_year} is before first_year {self.first_year}")
        if self.last_year - self.first_year >= 100:
            raise ValueError("data.dates: short formats write two-digit years, ambiguous over more than 100 "
                             "years. Fix: last_year - first_year < 100")
        return self


class Seq2SeqDataParams(Strict):
    source: Literal["dates", "tsv", "csv"] = Field(description=(
        "dates (embedded: date normalisation), tsv (data.path: source<TAB>target per line, the "
        "Tatoeba format, .gz allowed) or csv (data.source_column, data.target_column)"))
    path: str | None = Field(None, description="tsv, csv: the file (relative paths: from the project root)")
    source_column: str = Field("source", min_length=1, description="csv: the source text column")
    target_column: str = Field("target", min_length=1, description="csv: the target text column")
    dates: DatesParams | None = Field(None, description="source dates: how the pairs are generated")
    source_level: Literal["char", "word"] = Field(description="source tokens: characters or words")
    target_level: Literal["char", "word"] = Field(description="target tokens: characters or words")
    lowercase: bool = Field(False, description="lowercase both sides before tokenizing")
    min_count: int = Field(1, ge=1, le=1_000_000, description="rarer training tokens become <unk>")
    source_vocab_size: int = Field(ge=8, le=200_000, description="most source tokens kept, counting the 4 specials")
    target_vocab_size: int = Field(ge=8, le=200_000, description="most target tokens kept, counting the 4 specials")
    max_source_len: int = Field(ge=1, le=2048, description="most source tokens of a pair")
    max_target_len: int = Field(ge=1, le=2048, description="most target tokens of a pair (the end token not counted)")
    too_long: Literal["cut", "error"] = Field("cut", description=(
        "a pair over a maximum: cut (left out, counted in data/stats.json) or error (naming its line)"))
    subsample: int | None = Field(None, ge=3, description="tsv, csv: keep this many pairs (seeded); null = all")
    val_fraction: float = Field(0.1, gt=0.0, lt=0.5, description="tsv, csv: share of pairs for validation")
    test_fraction: float = Field(0.1, gt=0.0, lt=0.5, description="tsv, csv: share of pairs for test")

    @model_validator(mode="after")
    def _consistent(self) -> "Seq2SeqDataParams":
        if self.source in ("tsv", "csv") and not self.path:
            raise ValueError(f"data.source is {self.source} but data.path is null. Fix: set data.path to the file")
        if self.source == "dates" and self.dates is None:
            raise ValueError("data.source is dates but data.dates is missing. Fix: add the data.dates block")
        return self


class Seq2SeqEarlyStopping(Strict):
    monitor: Literal["val_loss", "val_accuracy"] = Field(description=(
        "val_loss (cross-entropy per target token, teacher forced) or val_accuracy (next-token accuracy)"))
    patience: int = Field(ge=0, le=1000, description="epochs without improvement before stopping")


class Seq2SeqTrainParams(BaseTrainParams):
    early_stopping: Seq2SeqEarlyStopping | None = Field(description="the best epoch's weights are kept; null = train every epoch, keep the last")
    reduce_lr: ReduceLR | None = Field(description="halve-on-plateau schedule; null = off")
    folds: int | None = Field(None, exclude=True, description=f"not for seq2seq: {NO_FOLDS}")

    @model_validator(mode="after")
    def _checked(self) -> "Seq2SeqTrainParams":
        if self.folds is not None:
            raise ValueError(f"train.folds: {NO_FOLDS}. Fix: remove train.folds")
        return self


class DecodingParams(Strict):
    beam_width: int = Field(ge=1, le=64, description="beam search width; 1 = greedy")
    length_penalty: float = Field(ge=0.0, le=5.0, description=(
        "beam scores are sum log p / length**length_penalty (0 = raw sum, favours short outputs)"))
    max_len: int | None = Field(None, ge=1, le=4096, description="most target tokens generated; null = data.max_target_len")
    batch_size: int = Field(256, ge=1, le=65_536, description="sources decoded together")


class Seq2SeqEvaluateParams(Strict):
    ensemble_size: int = Field(ge=1, le=100, description="greedy selection on validation exact match: most members")
    attention_examples: int = Field(ge=0, le=50, description="test examples drawn as attention heatmaps")
    registry: bool = Field(description="log the winner to the MLflow model registry")


class Seq2SeqBaselines(Strict):
    models: list[Literal["memory"]] = Field(description=(
        "classical peers in the same table: memory (translation memory: the target of the most similar "
        "training source, character n-gram TF-IDF cosine)"))


class Seq2SeqTuneParams(TuneParams):
    metric: Literal["val_loss", "val_accuracy"] = Field(description="what a trial scores (teacher forced)")

    @model_validator(mode="after")
    def _no_folds(self) -> "Seq2SeqTuneParams":
        if self.cross_validate:
            raise ValueError(f"tune.cross_validate: {NO_FOLDS}. Fix: remove tune.cross_validate")
        return self


class Seq2SeqParams(ModelLookup, Strict):
    task: Literal["seq2seq"] = Field(description="seq2seq: this file configures the sequence-to-sequence pipeline")
    seed: int = Field(ge=0, le=2**31 - 1, description="global random seed")
    data: Seq2SeqDataParams
    train: Seq2SeqTrainParams
    models: dict[str, ModelParams] = Field(description="encoder-decoder architectures to train")
    tune: Seq2SeqTuneParams
    baselines: Seq2SeqBaselines
    decoding: DecodingParams
    evaluate: Seq2SeqEvaluateParams

    def max_decode_len(self) -> int:
        return self.decoding.max_len or self.data.max_target_len


def dataset_name(data: Seq2SeqDataParams) -> str:
    """dates, or the file's stem: the MLflow experiment rnnops-seq2seq-<name> and the registered model."""
    import re
    from pathlib import Path

    if data.source == "dates":
        return "dates"
    stem = Path(data.path).name.split(".")[0].lower()
    return re.sub(r"[^a-z0-9_-]", "-", stem) or data.source
