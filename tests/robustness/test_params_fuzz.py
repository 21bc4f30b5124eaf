"""Every field of params.yaml wrong in turn: rejected before any work, naming its key path."""
import subprocess

import pytest
import yaml

from rnnops.params.load import load_params
from rnnops.errors import ParamsError
from tests.conftest import REPO, default_params, env_for, run

SHELL = "$(touch pwned); rm -rf ~ | cat `id` > x"
# Strings taken literally by design (paths, column names): they never reach a shell.
LITERAL_STRINGS = {"data.path", "data.cache_dir", "data.csv.text_column", "data.csv.label_column",
                   "data.csv.split_column"}


def leaves(tree, prefix=""):
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and key not in ("space", "base"):
            yield from leaves(value, f"{path}.")
        elif not path.startswith(("models.", "tune.space", "tune.base")):
            yield path, value


def set_path(tree, dotted, value):
    *parents, last = dotted.split(".")
    for part in parents:
        tree = tree[part]
    tree[last] = value


FIELDS = list(leaves(default_params()))


def wrong_values(value):
    """A wrong type for the field, and a shell-metacharacter string."""
    if isinstance(value, bool):
        return [[1, 2], SHELL]
    if isinstance(value, (int, float)):
        return [[value], SHELL, -10**9]
    return [{"nested": "map"}, SHELL, [1]]


def assert_each_wrong_value_rejected(fresh_params, literal, tmp_path, dotted, value):
    """Each wrong value of `dotted` in a fresh copy of the params: a ParamsError naming it."""
    for bad in wrong_values(value):
        if bad == SHELL and dotted in literal:
            continue
        raw = fresh_params()
        set_path(raw, dotted, bad)
        path = tmp_path / "params.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        with pytest.raises(ParamsError) as info:
            load_params(path)
        assert dotted in str(info.value), (dotted, bad, str(info.value))


@pytest.mark.parametrize("dotted, value", FIELDS, ids=[f for f, _ in FIELDS])
def test_each_field_wrong_in_turn_is_rejected_with_its_path(tmp_path, dotted, value):
    assert_each_wrong_value_rejected(default_params, LITERAL_STRINGS, tmp_path, dotted, value)


def test_model_and_space_fields_wrong_in_turn(tmp_path):
    for name, block in default_params()["models"].items():
        for field in block:
            raw = default_params()
            raw["models"][name][field] = SHELL
            path = tmp_path / "params.yaml"
            path.write_text(yaml.safe_dump(raw, sort_keys=False))
            with pytest.raises(ParamsError, match=f"models.{name}.{field}"):
                load_params(path)


def test_shell_strings_in_literal_fields_are_inert(tmp_path):
    """A path full of shell syntax is only ever a path: a clear 'does not exist', no side effect."""
    project = tmp_path / "p"
    project.mkdir()
    raw = default_params()
    raw["data"].update(source="csv", path=SHELL)
    (project / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    result = run(["python", str(REPO / "pipeline" / "prepare.py"), "--params", "params.yaml"], project)
    assert result.returncode == 1 and "data.path" in result.stderr and "does not exist" in result.stderr
    assert not (project / "pwned").exists() and not (project / "x").exists()


def test_rejection_happens_before_tensorflow_and_outputs(tmp_path):
    raw = default_params()
    raw["train"]["batch_size"] = "many"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    for stage in (["prepare.py"], ["train.py", "lstm"], ["tune.py"], ["evaluate.py"], ["report.py"]):
        result = subprocess.run(
            ["python", "-X", "importtime", str(REPO / "pipeline" / stage[0]), *stage[1:], "--params", "params.yaml"],
            cwd=tmp_path, env=env_for(tmp_path), capture_output=True, text=True, timeout=120)
        assert result.returncode == 2 and "train.batch_size" in result.stderr, stage
        assert "tensorflow" not in result.stderr.replace("train.batch_size", ""), stage
        assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"], stage


FORECAST = REPO / "forecast" / "params.yaml"
# forecast/params.yaml's literal strings: a path, column names, a pandas frequency alias (checked
# when the series loads, naming data.csv.frequency)
FORECAST_LITERAL = {"data.path", "data.csv.time_column", "data.csv.target", "data.csv.frequency"}
FORECAST_FIELDS = list(leaves(yaml.safe_load(FORECAST.read_text())))


@pytest.mark.parametrize("dotted, value", FORECAST_FIELDS, ids=[f for f, _ in FORECAST_FIELDS])
def test_each_forecast_field_wrong_in_turn_is_rejected_with_its_path(tmp_path, dotted, value):
    assert_each_wrong_value_rejected(lambda: yaml.safe_load(FORECAST.read_text()), FORECAST_LITERAL,
                                     tmp_path, dotted, value)
