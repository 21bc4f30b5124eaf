"""`rnnops recipe run` end to end: a real temporary DVC experiment in a copy of the project; the
workspace's params stay as they were, the experiment is in `dvc exp show` and its stage in MLflow,
the figure in recipes/results."""
import json

import pytest

from tests.conftest import BIN, make_project, mlflow_runs, run

pytestmark = pytest.mark.slow


def test_the_sine_recipe_runs_as_a_dvc_experiment(tmp_path):
    project = make_project(tmp_path / "project", tasks=("forecast",))
    params_before = (project / "forecast" / "params.yaml").read_bytes()
    done = run([str(BIN / "rnnops"), "recipe", "run", "sine-forecast", "--set",
                "forecast/params.yaml:train.epochs=3"], project)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((project / "recipes" / "results" / "sine-forecast.json").read_text())
    assert result["figure"] == "test.r2" and set(result["rnnops"]) == {"train@notes_lstm"}
    r2 = result["rnnops"]["train@notes_lstm"]
    assert isinstance(r2, float) and r2 < 1.0
    assert f"train@notes_lstm test.r2 = {r2} (published: None)" in done.stdout
    assert (project / "forecast" / "params.yaml").read_bytes() == params_before  # workspace untouched
    assert not (project / "forecast" / "metrics").exists()
    shown = run([str(BIN / "dvc"), "exp", "show", "--json"], project).stdout
    assert result["experiment"] in shown and '"forecast/params.yaml"' in shown
    runs = {r.data.tags["rnnops.stage"]: r for r in mlflow_runs(project)
            if r.data.tags.get("dvc.exp_name") == result["experiment"]}  # the experiment's stages
    assert sorted(runs) == ["prepare", "train@notes_lstm"]
    assert all(r.info.status == "FINISHED" for r in runs.values())
    assert runs["prepare"].data.params["data.source"] == "sine"
    assert runs["train@notes_lstm"].data.params["train.epochs"] == "3"
    assert runs["train@notes_lstm"].data.metrics["test.r2"] == pytest.approx(r2, abs=1e-4)
    listed = run([str(BIN / "rnnops"), "recipe", "list"], project).stdout
    assert f"sine-forecast          test.r2              published -       rnnops train@notes_lstm {r2:.4f}" in listed
