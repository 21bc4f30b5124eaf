"""The task interface: every registered task supplies every part; an incomplete one fails at
import with a clear message; a params file picks its task and is validated against it."""
import subprocess
import sys

import pytest
import yaml

from rnnops.errors import ParamsError
from rnnops.params.load import load_params
from rnnops.tasks import PARTS, TASKS, Task, TaskDefinitionError, check
from tests.conftest import REPO


def test_every_task_is_registered_with_every_part():
    assert list(TASKS) == ["text_classification", "forecast", "regression", "generation", "seq2seq"]
    for task in TASKS.values():
        assert set(task.modules) == set(PARTS)
        assert check(task) is task


def test_a_task_missing_a_part_or_a_function_fails_naming_both():
    incomplete = Task(name="regression", params="rnnops.params.load:Params", bodies=("dense",),
                      modules={**TASKS["forecast"].modules, "train": "rnnops.tasks.forecast.metrics"})
    del incomplete.modules["report"]
    with pytest.raises(TaskDefinitionError) as err:
        check(incomplete)
    message = str(err.value)
    assert "task 'regression' is incomplete" in message
    assert "no 'report' module" in message
    assert "rnnops.tasks.forecast.metrics lacks fit_inputs, train, run_params, tags, scores, facts" in message
    assert "Fix: supply every part" in message


def test_registering_an_incomplete_task_fails_at_import(tmp_path):
    plugin = tmp_path / "bad_task.py"
    plugin.write_text("from rnnops.tasks import Task, register\n"
                      "register(Task(name='bad', params='x:y', bodies=(), modules={'prepare': 'nowhere.at_all'}))\n")
    result = subprocess.run([sys.executable, "-c", "import bad_task"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    assert "TaskDefinitionError: task 'bad' is incomplete: 'prepare' module nowhere.at_all does not exist" \
        in result.stderr


def test_the_task_key_picks_the_params_class(tmp_path):
    assert type(load_params(REPO / "params.yaml")).__name__ == "Params"           # no task: key
    assert type(load_params(REPO / "forecast" / "params.yaml")).__name__ == "ForecastParams"


def test_a_forecast_params_file_rejects_text_only_bodies_and_keys(tmp_path):
    raw = yaml.safe_load((REPO / "forecast" / "params.yaml").read_text())
    raw["models"]["bag"] = {"architecture": "multihot_dense"}
    raw["data"]["max_len"] = 40
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ParamsError) as err:
        load_params(path)
    message = str(err.value)
    assert "models.bag" in message and "architecture 'multihot_dense' does not apply to task forecast" in message
    assert "data.max_len" in message and "unknown key" in message


def test_an_unknown_task_names_the_known_ones(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("task: translation\nseed: 1\n")
    with pytest.raises(ParamsError, match=r"task 'translation' is not a task\. Fix: set task: to one of "
                                          r"text_classification, forecast, regression, generation"):
        load_params(path)
