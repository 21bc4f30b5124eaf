"""The `tune:` section of params.yaml: study settings and the search space, typed and validated.

The space is data, not code. Each key is a dotted path into the params tree that a trial
overrides: `model.<field>` (a field of the tuned architecture's params) or `train.<field>`:

    space:
      model.cell: {type: categorical, choices: [simple_rnn, lstm, gru]}
      train.learning_rate: {type: float, low: 0.0003, high: 0.01, log: true}

Ranges are checked against the target field (a dropout range reaching 1.0 is rejected here, not
in trial 7), so a bad space fails before any work with its key path.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, TypeAdapter, ValidationError, model_validator

from rnnops.params.architectures import ARCHITECTURES
from rnnops.project import higher_is_better
from rnnops.params.schema import Strict, TrainParams


class IntRange(Strict):
    type: Literal["int"]
    low: int
    high: int
    step: int = Field(1, ge=1)
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> "IntRange":
        _check_range(self.low, self.high, self.log, self.step != 1)
        return self

    def candidates(self) -> list:
        return [self.low, self.high]

    def suggest(self, trial, name: str):
        return trial.suggest_int(name, self.low, self.high, step=self.step, log=self.log)


class FloatRange(Strict):
    type: Literal["float"]
    low: float
    high: float
    step: float | None = Field(None, gt=0)
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> "FloatRange":
        _check_range(self.low, self.high, self.log, self.step is not None)
        return self

    def candidates(self) -> list:
        return [self.low, self.high]

    def suggest(self, trial, name: str):
        return trial.suggest_float(name, self.low, self.high, step=self.step, log=self.log)


class Categorical(Strict):
    type: Literal["categorical"]
    choices: list[str | bool | int | float | None] = Field(min_length=1)

    def candidates(self) -> list:
        return list(self.choices)

    def suggest(self, trial, name: str):
        return trial.suggest_categorical(name, self.choices)


def _check_range(low, high, log: bool, stepped: bool) -> None:
    if low > high:
        raise ValueError(f"low ({low}) is above high ({high}). Fix: swap them")
    if log and low <= 0:
        raise ValueError(f"a log range needs low > 0, got {low}. Fix: raise low or set log: false")
    if log and stepped:
        raise ValueError("log and step cannot be combined. Fix: drop one of them")


Dimension = Annotated[Union[IntRange, FloatRange, Categorical], Field(discriminator="type")]
TUNABLE_TRAIN_KEYS = ("optimizer", "learning_rate", "batch_size", "clipnorm", "class_weight", "seq_len")  # where the task has it


class TuneParams(Strict):
    architecture: str = Field(description="registered architecture the trials build (rnn: cell and "
                                          "bidirectional are hyperparameters)")
    base: dict[str, Any] = Field(default_factory=dict, description="fixed params of that architecture")
    n_trials: int = Field(ge=1, le=100_000, description="finished trials (complete + pruned) in "
                                                        "the study, across runs and workers")
    timeout: float | None = Field(gt=0, description="stop starting trials after this many seconds; "
                                                    "null = no limit")
    epochs_per_trial: int = Field(ge=1, le=1000, description="maximum epochs of one trial")
    metric: Literal["val_accuracy", "val_macro_f1", "val_loss"] = Field(description="what a trial scores")
    direction: Literal["maximize", "minimize"] = Field(description="maximize for accuracy/F1, minimize for loss")
    sampler: Literal["tpe", "random"] = Field(description="TPE (seeded with `seed`) or random search")
    pruner: Literal["hyperband", "median", "none"] = Field(description="stops unpromising trials early")
    startup_trials: int = Field(ge=0, le=1000, description="median pruner: trials before pruning starts")
    storage: str | None = Field(
        pattern=r"^(sqlite:///|postgresql(\+\w+)?://|mysql(\+\w+)?://|journal:)[^\s;|&`$<>]+$",
        description="Optuna storage URL (sqlite:///..., postgresql://..., mysql://..., journal:<file>; "
                    "URL-encode special characters); null = sqlite in tuning/")
    study_name: str | None = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$",
                                   description="letters, digits, . _ -; null = derived from the data and space")
    heartbeat_interval: int = Field(ge=1, le=3600, description="seconds between a trial's heartbeats")
    grace_period: int = Field(ge=1, le=86_400, description="a RUNNING trial without a heartbeat for "
                                                           "this long is failed and retried")
    max_retry: int = Field(ge=0, le=100, description="retries of a trial whose worker died")
    workers: int = Field(1, ge=1, le=256, description="trial processes the stage runs on this machine "
                                                      "(more machines: `pipeline/tune.py --worker` there)")
    threads_per_worker: int | None = Field(None, ge=1, le=1024, description=(
        "TensorFlow intra-/inter-op threads of each worker process; null = this machine's cores "
        "divided by the workers on it (at least 1), so workers do not oversubscribe the cores"))
    space: dict[str, Dimension] = Field(min_length=1, description="dotted key -> range")
    cross_validate: bool = Field(False, description=(
        "score a trial by the mean over train.folds folds (pruning per fold) instead of one "
        "validation split; needs train.folds > 1"))

    @model_validator(mode="after")
    def _direction_fits_metric(self) -> "TuneParams":
        wanted = "maximize" if higher_is_better(self.metric) else "minimize"
        if self.direction != wanted:
            raise ValueError(f"tune.direction {self.direction} does not fit tune.metric {self.metric}. "
                             f"Fix: set direction: {wanted}")
        return self


def space_errors(tune: dict, train_class=TrainParams, bodies=tuple(ARCHITECTURES)) -> list[dict]:
    """Pydantic-style errors for space keys and ranges that do not fit their target field
    (`train_class`: the task's train params; `bodies`: the architectures the task allows)."""
    arch = tune.get("architecture")
    if not isinstance(arch, str) or arch not in ARCHITECTURES or arch not in bodies:
        return [{"type": "value_error", "loc": ("tune", "architecture"), "msg": (
            f"unknown architecture '{arch}'. Fix: use one of {', '.join(sorted(bodies))}")}]
    model_cls = ARCHITECTURES[arch]
    errors = []
    base, space = tune.get("base") or {}, tune.get("space") or {}
    if not isinstance(base, dict) or not isinstance(space, dict):
        return []  # a wrong type, reported by the TuneParams validation with its key path
    try:
        model_cls.model_validate(base)
    except ValidationError as exc:
        errors += [{**e, "loc": ("tune", "base", *e["loc"])} for e in exc.errors()]
    train_fields = train_class.model_fields
    tunable_train = [k for k in TUNABLE_TRAIN_KEYS if k in train_fields]
    for key, dim in space.items():
        section, _, field = key.partition(".")
        loc = ("tune", "space", key)
        if section == "model" and field in model_cls.model_fields and field != "architecture":
            target = model_cls
        elif section == "train" and field in tunable_train:
            target = None
        else:
            known = [f"model.{f}" for f in model_cls.model_fields if f != "architecture"] + \
                    [f"train.{f}" for f in tunable_train]
            errors.append({"type": "value_error", "loc": loc, "msg": (
                f"'{key}' is not a tunable key of architecture '{arch}'. Fix: use one of {', '.join(known)}")})
            continue
        try:
            dim = TypeAdapter(Dimension).validate_python(dim)
        except ValidationError:
            continue  # reported by the TuneParams validation with its own key path
        for value in dim.candidates():
            problem = _field_problem(target, field, value, base, train_fields)
            if problem:
                errors.append({"type": "value_error", "loc": loc, "msg": (
                    f"value {value!r} is invalid for {section}.{field}: {problem}. Fix: narrow the range")})
                break
    return errors


def _field_problem(model_cls, field: str, value, base: dict, train_fields) -> str | None:
    if model_cls is None:  # a train.* key: validate the value against that one field
        info = train_fields[field]
        adapter = TypeAdapter(Annotated[info.annotation, info])
        try:
            adapter.validate_python(value)
        except ValidationError as exc:
            return exc.errors()[0]["msg"].lower()
        return None
    try:
        model_cls.model_validate({**base, field: value})
    except ValidationError as exc:
        return exc.errors()[0]["msg"].lower()
    return None


def sample(trial, tune: TuneParams) -> dict:
    """One trial's overrides: {"model": {...}, "train": {...}} (Optuna names = the dotted keys)."""
    overrides: dict[str, dict] = {"model": {}, "train": {}}
    for key, dim in tune.space.items():
        section, _, field = key.partition(".")
        overrides[section][field] = dim.suggest(trial, key)
    return overrides


def from_params(values: dict) -> dict:
    """Overrides from a finished trial's params ({"model.units": 64, ...})."""
    overrides: dict[str, dict] = {"model": {}, "train": {}}
    for key, value in values.items():
        section, _, field = key.partition(".")
        overrides[section][field] = value
    return overrides
