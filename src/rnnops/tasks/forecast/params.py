"""The forecasting task's params (forecast/params.yaml): its data section, training, evaluation
and classical baselines. Typed, validated, strict; `models:` and `tune:` are the shared ones."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rnnops.params.architectures import ModelParams
from rnnops.params.schema import BaseTrainParams, ModelLookup, Strict
from rnnops.params.search_space import TuneParams


class SineOptions(Strict):
    """`data.source: sine`: the notes' own example, a seeded noisy sine (daily steps from 2000-01-01)."""

    length: int = Field(1000, ge=20, le=10_000_000, description="number of steps")
    period: float = Field(50.0, gt=1.0, description="steps per cycle")
    noise: float = Field(0.1, ge=0.0, description="standard deviation of the Gaussian noise")


class SeriesFileOptions(Strict):
    """`data.source: csv`: the user's CSV/TSV/Parquet file (gzip allowed)."""

    time_column: str = Field("date", min_length=1, description="column holding the timestamps")
    target: str = Field("value", min_length=1, description="column to forecast")
    inputs: list[str] = Field(default_factory=list, description="other value columns the models read")
    format: Literal["auto", "csv", "tsv", "parquet"] = Field("auto", description="file format; auto = from the name")
    frequency: str | None = Field(None, description="pandas offset alias (W-SAT, D, h, MS, ...); "
                                                    "null = inferred from the timestamps")


class ForecastDataParams(Strict):
    source: Literal["co2", "sunspots", "nile", "sine", "csv"] = Field(
        description="series: co2 (weekly Mauna Loa, embedded in statsmodels), sunspots, nile, sine or csv")
    path: str | None = Field(None, description="csv: your file; null for the built-in series")
    csv: SeriesFileOptions = Field(default_factory=SeriesFileOptions, description="options for source csv")
    sine: SineOptions = Field(default_factory=SineOptions, description="options for source sine")
    fill: Literal["interpolate", "ffill", "error"] = Field(
        description="missing steps and values: linear interpolation, carry the last value, or an error")
    window: int = Field(ge=1, le=100_000, description="past steps a model reads")
    horizon: int = Field(ge=1, le=10_000, description="future steps forecast at once (direct, multi-step)")
    stride: int = Field(ge=1, le=100_000, description="steps between training windows (val/test use every origin)")
    val_fraction: float = Field(gt=0.0, lt=0.5, description="share of the series (after train) for validation")
    test_fraction: float = Field(gt=0.0, lt=0.5, description="last share of the series, for test")
    scaling: Literal["standard", "minmax", "none"] = Field(
        description="per-column scaling fitted on the training part only")
    anchor: Literal["last", "none"] = Field(
        description="last: models read each window relative to its last value and forecast the change "
                    "from it (trending series); none: absolute (scaled) levels")

    @model_validator(mode="after")
    def _csv_needs_path(self) -> "ForecastDataParams":
        if self.source == "csv" and not self.path:
            raise ValueError("data.source is csv but data.path is null: set data.path to your file")
        return self


class EarlyStopping(Strict):
    monitor: Literal["val_loss", "val_mae"] = Field(description="metric watched (scaled units)")
    patience: int = Field(ge=0, le=1000, description="epochs without improvement before stopping")


NO_KFOLD = ("forecasting does not take K-fold cross-validation: folds would shuffle time and train on "
            "the future. Its val and test parts are scored from every origin after the training part "
            "(rolling origin)")


class ForecastTrainParams(BaseTrainParams):
    early_stopping: EarlyStopping | None = Field(description="the best epoch's weights are kept; null = train every epoch, keep the last")
    folds: int | None = Field(None, exclude=True, description="not for forecasting (rolling-origin evaluation instead)")

    @model_validator(mode="after")
    def _no_folds(self) -> "ForecastTrainParams":
        if self.folds is not None:
            raise ValueError(f"train.folds: {NO_KFOLD}. Fix: remove train.folds")
        return self


class EtsOptions(Strict):
    trend: bool = Field(True, description="additive trend")
    damped_trend: bool = Field(False, description="damp the trend")
    seasonal: bool = Field(True, description="additive seasonality of baselines.season_length")


class SarimaxOptions(Strict):
    order: tuple[int, int, int] = Field((1, 1, 1), description="ARIMA (p, d, q)")
    fourier_terms: int = Field(3, ge=0, le=50, description="sine/cosine pairs of the season as "
                                                         "regressors (long seasons, e.g. 52 weeks)")
    trend: Literal["n", "c", "t", "ct"] = Field("c", description="deterministic trend term")


class BaselineParams(Strict):
    season_length: int = Field(ge=1, le=100_000, description="steps per season (52 for weekly data); "
                                                            "also scales MASE")
    models: list[Literal["naive", "seasonal_naive", "ets", "sarimax"]] = Field(
        description="classical peers scored and chosen like trained models")
    ets: EtsOptions = Field(default_factory=EtsOptions)
    sarimax: SarimaxOptions = Field(default_factory=SarimaxOptions)


class ForecastEvaluateParams(Strict):
    metric: Literal["mae", "rmse", "mase", "smape"] = Field(
        description="validation score (lower is better) that picks greedy members and the winner")
    ensemble_size: int = Field(ge=1, le=1000, description="greedy selection: most members (with repeats)")
    promote_metric: Literal["mae", "rmse", "mase", "smape"] = Field(
        description="test metric a new registry version must beat (be below) to become the champion")
    registry: bool = Field(description="log the winner to the MLflow model registry")


class ForecastTuneParams(TuneParams):
    metric: Literal["val_loss", "val_mae"] = Field(description="what a trial scores (scaled units)")

    @model_validator(mode="after")
    def _no_folds(self) -> "ForecastTuneParams":
        if self.cross_validate:
            raise ValueError(f"tune.cross_validate: {NO_KFOLD}. Fix: remove tune.cross_validate")
        return self


class ForecastParams(ModelLookup, Strict):
    task: Literal["forecast"] = Field(description="forecast: this file configures the forecasting pipeline")
    seed: int = Field(ge=0, le=2**31 - 1, description="global random seed")
    data: ForecastDataParams
    train: ForecastTrainParams
    models: dict[str, ModelParams] = Field(description="architectures to train and their hyperparameters")
    tune: ForecastTuneParams
    baselines: BaselineParams
    evaluate: ForecastEvaluateParams

    @model_validator(mode="after")
    def _windows_fit(self) -> "ForecastParams":
        # A model's look-back is cut from the prepared window, so it cannot be longer.
        longest = self.data.window
        for name, model in self.models.items():
            if model.window is not None and model.window > longest:
                raise ValueError(f"models.{name}.window {model.window} exceeds data.window {longest}. "
                                 f"Fix: lower it, or raise data.window")
        dim = self.tune.space.get("model.window")
        sizes = [v for v in (dim.candidates() if dim is not None else []) if isinstance(v, (int, float))]
        if sizes and max(sizes) > longest:
            raise ValueError(f"tune.space model.window reaches {max(sizes)}, beyond data.window "
                             f"{longest}. Fix: lower its high, or raise data.window")
        return self
