"""params.yaml: one typed, validated config object (`Params`) and its loader.

Every problem in the file is reported at once, each with its dotted key path, its line in
params.yaml and the fix, before any heavy import (TensorFlow, MLflow) happens. Nothing here
imports the model builders: each `models.<name>` block is checked against the params class its
architecture declares in `rnnops.params.architectures`.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from rnnops.errors import ParamsError
from rnnops.params.architectures import ARCHITECTURES, ModelParams
from rnnops.params.schema import (DataParams, EvaluateParams, ModelLookup, Strict, TrainParams,
                                  check_cross_validation)
from rnnops.params.search_space import TuneParams, space_errors

DEFAULT_TASK = "text_classification"  # a params file without `task:` (every file before tasks)


class Params(ModelLookup, Strict):
    """Text classification's params.yaml (the project root's)."""

    task: Literal["text_classification"] = Field(
        DEFAULT_TASK, description="which task this file configures (text_classification, forecast)")
    seed: int = Field(ge=0, le=2**31 - 1, description="global random seed")
    data: DataParams
    train: TrainParams
    models: dict[str, ModelParams] = Field(description="architectures to train and their hyperparameters")
    tune: TuneParams
    evaluate: EvaluateParams

    @model_validator(mode="after")
    def _cross_validation(self) -> "Params":
        check_cross_validation(self.train, self.tune)
        return self


def load_params(path: str | Path = "params.yaml"):
    """Read and validate a params file; raise ParamsError listing every problem. The `task:` key
    picks the params class (text classification's `Params` when absent)."""
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
    task = _task_of(raw, path)
    params, errors = _validate(raw, task)
    if errors:
        lines = _key_lines(text)
        problems = [_describe(err, raw, lines, task.params_class()) for err in errors]
        raise ParamsError(
            f"{path}: {len(problems)} problem(s), nothing was run:\n"
            + "\n".join(f"  - {p}" for p in problems)
        ) from None
    return params


def check_overridden(raw: dict, source: str, params_path: Path) -> None:
    """Validate `raw` (params_path's params with `source`'s overrides applied) as a params file;
    a problem names `source` and the key (line numbers of the temporary file would mislead)."""
    import re
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        applied = Path(tmp) / "params.yaml"
        applied.write_text(yaml.safe_dump(raw, sort_keys=False))
        try:
            load_params(applied)
        except ParamsError as exc:
            problems = re.sub(r" \(line \d+\)", "", str(exc).split(": ", 1)[1])
            raise ParamsError(f"{source} applied to {params_path}: {problems}") from None


def with_tuned_model(params: Params, source: str | Path) -> Params:
    """`params` with the tune stage's winner (tuning/best_params.json): its train.* overrides
    and models = {tuned: ...}."""
    import json

    try:
        best = json.loads(Path(source).read_text(encoding="utf-8"))
        block = dict(best["models"]["tuned"])
        model = ARCHITECTURES[block["architecture"]].model_validate(block)
        train = type(params.train).model_validate({**params.train.model_dump(), **best.get("train", {})})
    except (OSError, ValueError, KeyError, TypeError, ValidationError) as exc:
        raise ParamsError(f"{source}: not a valid tuning result ({exc}). "
                          "Fix: rerun the tune stage (`dvc repro tune`).") from None
    return params.model_copy(update={"train": train, "models": {"tuned": model}})


# --- error reporting -------------------------------------------------------------------------

def _task_of(raw: dict, path: Path):
    from rnnops.tasks import TASKS

    name = raw.get("task", DEFAULT_TASK)
    if not isinstance(name, str) or name not in TASKS:
        raise ParamsError(f"{path}: task '{name}' is not a task. Fix: set task: to one of "
                          f"{', '.join(TASKS)}.")
    return TASKS[name]


def _validate(raw: dict, task) -> tuple[Any, list[dict]]:
    """Validate the tree against the task's params class; each `models.<name>` block against the
    params model of its registered architecture (the key, or its `architecture:` value), which the
    task must allow. Returns (params, pydantic-style errors)."""
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
            if arch not in ARCHITECTURES:
                errors.append({"type": "value_error", "loc": ("models", name), "msg": (
                    f"unknown architecture '{arch}'. Fix: name the block after one of "
                    f"{', '.join(sorted(ARCHITECTURES))}, or add 'architecture: <one of them>'")})
                continue
            if arch not in task.bodies:
                errors.append({"type": "value_error", "loc": ("models", name), "msg": (
                    f"architecture '{arch}' does not apply to task {task.name}. Fix: use one of "
                    f"{', '.join(task.bodies)}")})
                continue
            if isinstance(block, dict) and block.get("window") is not None and not task.numeric:
                errors.append({"type": "value_error", "loc": ("models", name, "window"), "msg": (
                    f"a {task.name} model reads whole inputs, not a window of steps. Fix: remove it")})
                continue
            try:
                checked[name] = ARCHITECTURES[arch].model_validate(block or {})
            except ValidationError as exc:
                errors += [{**e, "loc": ("models", name, *e["loc"])} for e in exc.errors()]
        raw = {**raw, "models": checked}
    root = task.params_class()
    if isinstance(raw.get("tune"), dict):
        errors += space_errors(raw["tune"], root.model_fields["train"].annotation, task.bodies)
    try:
        params = root.model_validate(raw)
    except ValidationError as exc:
        return None, errors + exc.errors()
    return (None if errors else params), errors


def _root_for(loc: list[str], raw: dict, params_class):
    """(model to walk, path inside it): the architecture's params model for models.<name>.*."""
    if len(loc) >= 3 and loc[0] == "models":
        block = (raw.get("models") or {}).get(loc[1])
        arch = (block.get("architecture") if isinstance(block, dict) else None) or loc[1]
        if arch in ARCHITECTURES:
            return ARCHITECTURES[arch], loc[2:]
    return params_class, loc


def _describe(err: dict, raw: dict, lines: dict[str, int], params_class) -> str:
    loc = [str(p) for p in err["loc"]]
    if loc[:2] == ["tune", "space"] and len(loc) > 3 and loc[3] in ("int", "float", "categorical"):
        del loc[3]  # pydantic names the union member; the user wrote `type:` already
    key = ".".join(loc) or "(top level)"
    kind = err["type"]
    parent = ".".join(loc[:-1])
    line = lines.get(key)
    where = f"{key} (line {line})" if line else key
    root, inner = _root_for(loc, raw, params_class)
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
