"""params.yaml: one typed, validated config object.

Every problem in the file is reported at once, each with its dotted key path, its line in
params.yaml and the fix, before any heavy import (TensorFlow, MLflow) happens.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rnnops.architectures import REGISTRY, ModelParams
from rnnops.errors import ParamsError
from rnnops.search_space import TuneParams, space_errors

SOURCES = ("tweets", "imdb", "reuters", "csv")


class Strict(BaseModel):
    # Unknown keys are typos until proven otherwise: reject them loudly.
    model_config = ConfigDict(extra="forbid", frozen=True)


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
        ge=100, description="keep at most this many documents, stratified (quick runs); null = all"
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


class TrainParams(Strict):
    epochs: int = Field(ge=1, le=1000, description="maximum epochs (early stopping may end sooner)")
    batch_size: int = Field(ge=1, le=8192, description="documents per batch")
    optimizer: Literal["adam", "rmsprop", "sgd"] = Field(description="optimizer")
    learning_rate: float = Field(gt=0.0, le=10.0, description="initial learning rate")
    clipnorm: float | None = Field(gt=0.0, description="gradient clipping by norm; null = off")
    early_stopping: EarlyStopping
    reduce_lr: ReduceLR
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


class Params(Strict):
    seed: int = Field(ge=0, le=2**31 - 1, description="global random seed")
    data: DataParams
    train: TrainParams
    models: dict[str, ModelParams] = Field(description="architectures to train and their hyperparameters")
    tune: TuneParams
    evaluate: EvaluateParams

    def model(self, name: str) -> tuple[str, ModelParams]:
        """(registered architecture, its validated params) of the entry `models.<name>`."""
        entry = self.models[name]
        return entry.architecture or name, entry


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml; raise ParamsError listing every problem."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: file not found. Fix: run from the project root or pass --params.")
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ParamsError(f"{path}:{where} is not valid YAML ({getattr(exc, 'problem', exc)}). "
                          "Fix: correct the YAML syntax there.") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of sections (seed, data, ...), got "
                          f"{type(raw).__name__}. Fix: see the params.yaml in the repository.")
    params, errors = _validate(raw)
    if errors:
        lines = _key_lines(text)
        problems = [_describe(err, raw, lines) for err in errors]
        raise ParamsError(
            f"{path}: {len(problems)} problem(s), nothing was run:\n"
            + "\n".join(f"  - {p}" for p in problems)
        ) from None
    return params


def with_tuned_model(params: Params, source: str | Path) -> Params:
    """`params` with the tune stage's winner (tuning/best_params.json): its train.* overrides
    and models = {tuned: ...}."""
    import json

    try:
        best = json.loads(Path(source).read_text(encoding="utf-8"))
        block = dict(best["models"]["tuned"])
        model = REGISTRY[block["architecture"]].params.model_validate(block)
        train = TrainParams.model_validate({**params.train.model_dump(), **best.get("train", {})})
    except (OSError, ValueError, KeyError, TypeError, ValidationError) as exc:
        raise ParamsError(f"{source}: not a valid tuning result ({exc}). "
                          "Fix: rerun the tune stage (`dvc repro tune`).") from None
    return params.model_copy(update={"train": train, "models": {"tuned": model}})


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'data': {'max_len': 64}} -> {'data.max_len': 64} (for MLflow params)."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


# --- error reporting -------------------------------------------------------------------------

def _validate(raw: dict) -> tuple[Params | None, list[dict]]:
    """Validate the tree; each `models.<name>` block against the params model of its registered
    architecture (the key, or its `architecture:` value). Returns (params, pydantic-style errors)."""
    errors: list[dict] = []
    models = raw.get("models")
    if isinstance(models, dict):
        checked = {}
        for name, block in models.items():
            if name == "tuned":
                errors.append({"type": "value_error", "loc": ("models", name), "msg": (
                    "'tuned' is reserved for the model the tune stage finds. Fix: rename the block")})
                continue
            arch = (block.get("architecture") if isinstance(block, dict) else None) or name
            if arch not in REGISTRY:
                errors.append({"type": "value_error", "loc": ("models", name), "msg": (
                    f"unknown architecture '{arch}'. Fix: name the block after one of "
                    f"{', '.join(sorted(REGISTRY))}, or add 'architecture: <one of them>'")})
                continue
            try:
                checked[name] = REGISTRY[arch].params.model_validate(block or {})
            except ValidationError as exc:
                errors += [{**e, "loc": ("models", name, *e["loc"])} for e in exc.errors()]
        raw = {**raw, "models": checked}
    if isinstance(raw.get("tune"), dict):
        errors += space_errors(raw["tune"])
    try:
        params = Params.model_validate(raw)
    except ValidationError as exc:
        return None, errors + exc.errors()
    return (None if errors else params), errors


def _root_for(loc: list[str], raw: dict):
    """(model to walk, path inside it): the architecture's params model for models.<name>.*."""
    if len(loc) >= 3 and loc[0] == "models":
        block = (raw.get("models") or {}).get(loc[1])
        arch = (block.get("architecture") if isinstance(block, dict) else None) or loc[1]
        if arch in REGISTRY:
            return REGISTRY[arch].params, loc[2:]
    return Params, loc


def _describe(err: dict, raw: dict, lines: dict[str, int]) -> str:
    loc = [str(p) for p in err["loc"]]
    if loc[:2] == ["tune", "space"] and len(loc) > 3 and loc[3] in ("int", "float", "categorical"):
        del loc[3]  # pydantic names the union member; the user wrote `type:` already
    key = ".".join(loc) or "(top level)"
    kind = err["type"]
    parent = ".".join(loc[:-1])
    line = lines.get(key)
    where = f"{key} (line {line})" if line else key
    root, inner = _root_for(loc, raw)
    field = _field_info(root, inner)
    hint = f" ({field.description})" if field is not None and field.description else ""
    got = f", got {err['input']!r}" if "input" in err and kind != "missing" else ""
    if kind == "extra_forbidden":
        known = _known_keys(root, inner[:-1])
        close = difflib.get_close_matches(loc[-1], known, n=1)
        tip = f"did you mean '{close[0]}'?" if close else f"known keys here: {', '.join(known)}"
        return f"{where}: unknown key. Fix: remove it or correct the spelling ({tip})."
    if kind == "missing":
        under = f"under '{parent}'" + (f" (line {lines[parent]})" if parent in lines else "") \
            if parent else "at the top level"
        return f"{key}: missing{hint}. Fix: add '{loc[-1]}: <value>' {under}."
    if kind == "literal_error":
        allowed = err.get("ctx", {}).get("expected", "")
        return f"{where}: must be one of {allowed}{got}. Fix: use one of those values{hint}."
    if kind == "value_error":
        return f"{where}: {err['msg'].removeprefix('Value error, ')}."
    return f"{where}: {err['msg'].lower()}{got}. Fix: set a valid value{hint}."


def _field_info(root, loc: list[str]):
    model: Any = root
    info = None
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return info
        info = fields[part]
        model = info.annotation
    return info


def _known_keys(root, loc: list[str]) -> list[str]:
    model: Any = root
    for part in loc:
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            return []
        model = fields[part].annotation
    return list(getattr(model, "model_fields", {}))


def _key_lines(text: str) -> dict[str, int]:
    """Map dotted key paths to 1-based line numbers (yaml.compose builds nodes, runs no code)."""
    lines: dict[str, int] = {}

    def walk(node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                name = f"{prefix}{key_node.value}"
                lines[name] = key_node.start_mark.line + 1
                walk(value_node, f"{name}.")

    try:
        walk(yaml.compose(text, Loader=yaml.SafeLoader), "")
    except yaml.YAMLError:
        pass
    return lines
