"""The forecasting pipeline end to end on a short seeded sine (`dvc repro forecast/dvc.yaml`,
real DVC, MLflow, Optuna, statsmodels): its outputs, the registry, the raw-history pyfunc
reproducing the evaluate stage's test forecasts, `rnnops forecast`, `mlflow models serve` over
HTTP, bad histories, and task isolation (its params never make the text stages stale)."""
import json
import subprocess

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import (BIN, REPO, env_for, free_port, make_project, post_json, run, stop_server,
                            wait_for_http)

pytestmark = pytest.mark.slow

SMALL = {"data": {"source": "sine", "sine": {"length": 420, "period": 20.0, "noise": 0.05}, "window": 16,
                  "horizon": 3, "val_fraction": 0.15, "test_fraction": 0.15},
         "train": {"epochs": 3, "batch_size": 32},
         "models": {"gru": {"units": 8}, "dense": {"hidden_units": [8]}},
         "tune": {"n_trials": 2, "epochs_per_trial": 1},
         "baselines": {"season_length": 20, "sarimax": {"order": [1, 0, 0], "fourier_terms": 2, "trend": "n"}}}


def small_params() -> dict:
    params = yaml.safe_load((REPO / "forecast" / "params.yaml").read_text())
    for key, value in SMALL.items():
        params[key] = value if key == "models" else {**params[key], **value}
    params["tune"]["space"]["model.window"] = {"type": "int", "low": 8, "high": 16, "step": 8}  # <= data.window
    return params


@pytest.fixture(scope="module")
def forecast_project(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("forecast") / "project", tasks=("forecast",))
    (project / "forecast" / "params.yaml").write_text(yaml.safe_dump(small_params(), sort_keys=False))
    result = run(["dvc", "repro", "forecast/dvc.yaml"], project, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project


def read_json(path):
    return json.loads(path.read_text())


def series_history(project, end: int) -> pd.DataFrame:
    series = pd.read_parquet(project / "forecast" / "data" / "prepared" / "series.parquet")
    return pd.DataFrame({"time": [t.isoformat() for t in series.index[:end]], "value": series["value"].to_numpy()[:end]})


def test_outputs_metrics_and_registry(forecast_project):
    folder = forecast_project / "forecast"
    status = run(["dvc", "status", "forecast/dvc.yaml"], forecast_project)
    assert status.returncode == 0 and "up to date" in status.stdout, status.stdout
    metrics = read_json(folder / "metrics" / "evaluate.json")
    assert set(metrics) == {"val", "test", "promote_metric", "test_split_sha256"}
    assert set(metrics["test"]) == {"mae", "rmse", "smape", "mase", "r2"} and metrics["promote_metric"] == "test.mase"
    candidates = sorted(p.name for p in (folder / "metrics" / "candidates").iterdir())
    assert candidates == ["ets.json", "greedy.json", "mean.json", "naive.json", "sarimax.json", "seasonal_naive.json"]
    assert sorted(p.name for p in (folder / "metrics" / "train").iterdir()) == ["dense.json", "gru.json", "tuned.json"]
    details = read_json(folder / "evaluation" / "details.json")
    winner = read_json(folder / "evaluation" / "winner.json")
    assert set(details) == {"gru", "dense", "tuned", "naive", "seasonal_naive", "ets", "sarimax", "mean", "greedy"}
    best_val = min(d["val"]["mase"] for d in details.values())
    assert details[winner["winner"]]["val"]["mase"] == best_val                  # chosen on validation
    assert metrics["test"]["mase"] == round(details[winner["winner"]]["test"]["mase"], 5)
    assert all(len(d["test"]["per_step"]["mae"]) == 3 for d in details.values())
    shown = run(["dvc", "metrics", "show", "--json"], forecast_project)
    assert "forecast/metrics/evaluate.json" in shown.stdout and "forecast/metrics/candidates/ets.json" in shown.stdout
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{forecast_project / 'mlruns' / 'mlflow.db'}")
    version = client.get_model_version_by_alias("rnnops-forecast-sine", "champion")
    assert str(version.version) == "1" and version.tags["test.mase"] == f"{details[winner['winner']]['test']['mase']:.6f}"
    runs = client.search_runs([client.get_experiment_by_name("rnnops-forecast-sine").experiment_id])
    assert sorted(r.data.tags["rnnops.stage"] for r in runs if "rnnops.stage" in r.data.tags) == sorted(
        ["prepare", "train@gru", "train@dense", "tune", "train@tuned", "evaluate", "report"]
        + ["tune.trial"] * 2)


def test_the_served_model_reproduces_the_evaluated_test_forecasts(forecast_project, tmp_path):
    from rnnops.tracking.manifest import copy_folder

    folder = forecast_project / "forecast" / "evaluation"
    stored = np.load(folder / "test_forecasts.npz")
    model = mlflow.pyfunc.load_model(str(copy_folder(folder / "model", tmp_path / "model")))
    for k in (0, len(stored["origins"]) // 2, len(stored["origins"]) - 1):
        out = model.predict(series_history(forecast_project, int(stored["origins"][k])))
        assert list(out.columns) == ["time", "value"] and len(out) == 3
        np.testing.assert_allclose(out["value"].to_numpy(), stored["forecasts"][k], rtol=1e-5, atol=1e-6)


def test_rnnops_forecast_cli_and_its_bad_inputs(forecast_project):
    history = series_history(forecast_project, 300)
    history.to_csv(forecast_project / "history.csv", index=False)
    result = run(["rnnops", "forecast", "--history", "history.csv"], forecast_project, timeout=300)
    assert result.returncode == 0, result.stderr
    out = pd.read_csv(pd.io.common.StringIO(result.stdout))
    assert list(out.columns) == ["time", "value"] and len(out) == 3
    assert out["time"].tolist() == [str(t.date()) + "T00:00:00" for t in
                                    pd.date_range(history["time"].iloc[-1], periods=4, freq="D")[1:]]
    history.iloc[-5:].to_csv(forecast_project / "short.csv", index=False)
    history.drop(columns="value").to_csv(forecast_project / "nocol.csv", index=False)
    holed = history.copy()
    holed.loc[250, "value"] = None
    holed.to_csv(forecast_project / "nan.csv", index=False)
    worded = history.copy()
    worded["value"] = worded["value"].astype(object)
    worded.loc[100, "value"] = "n/a?"
    worded.to_csv(forecast_project / "word.csv", index=False)
    for name, expected in (("short.csv", "5 rows, but the model reads window = 16 steps"),
                           ("nocol.csv", "column(s) ['value'] missing"),
                           ("nan.csv", "row 251"),
                           ("word.csv", "word.csv: line 102: column 'value' holds 'n/a?', not a number")):
        bad = run(["rnnops", "forecast", "--history", name, "--model", "winner"], forecast_project, timeout=300)
        assert bad.returncode == 1 and expected in bad.stderr and "Fix:" in bad.stderr, (name, bad.stderr)


def test_mlflow_models_serve_answers_over_http(forecast_project, tmp_path):
    port = free_port()
    env = {**env_for(forecast_project), "MLFLOW_TRACKING_URI": f"sqlite:///{forecast_project / 'mlruns' / 'mlflow.db'}"}
    server = subprocess.Popen([str(BIN / "mlflow"), "models", "serve", "-m", "models:/rnnops-forecast-sine@champion",
                               "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)],
                              cwd=forecast_project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/ping", server)
        history = series_history(forecast_project, 300)
        body = json.dumps({"dataframe_split": {"columns": list(history.columns), "data": history.values.tolist()}})
        status, text = post_json(port, body)
        answer = json.loads(text)
        assert status == 200, answer
        rows = answer["predictions"]
        assert [sorted(r) for r in rows] == [["time", "value"]] * 3
        cli = run(["rnnops", "forecast", "--history", "-", "--json"], forecast_project, timeout=300,
                  input=history.to_csv(index=False))
        assert cli.returncode == 0, cli.stderr
        np.testing.assert_allclose([r["value"] for r in rows], [r["value"] for r in json.loads(cli.stdout)], rtol=1e-6)
        short = json.dumps({"dataframe_split": {"columns": list(history.columns), "data": history.values[:4].tolist()}})
        status, error = post_json(port, short)
        assert status == 400 and "4 rows, but the model reads window = 16 steps" in error, error
    finally:
        stop_server(server)


def test_forecast_params_never_make_the_text_pipeline_stale(forecast_project):
    before = run(["dvc", "status", "dvc.yaml", "--json"], forecast_project)
    path = forecast_project / "forecast" / "params.yaml"
    original = path.read_text()
    try:
        path.write_text(original.replace("epochs: 3", "epochs: 4"))
        after = run(["dvc", "status", "dvc.yaml", "--json"], forecast_project)
        forecast = json.loads(run(["dvc", "status", "forecast/dvc.yaml", "--json"], forecast_project).stdout)
    finally:
        path.write_text(original)
    assert before.returncode == after.returncode == 0 and json.loads(before.stdout) == json.loads(after.stdout)
    stale = sorted(k.split(":")[-1] for k in forecast)
    assert stale == ["train@dense", "train@gru", "train_tuned", "tune"], stale


def test_a_series_too_short_for_its_windows_fails_cleanly(forecast_project, tmp_path):
    params = small_params()
    params["data"]["window"] = 380
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(params, sort_keys=False))
    out = tmp_path / "prepared"
    result = run(["python", str(forecast_project / "pipeline" / "prepare.py"), "--params", str(bad), "--out", str(out),
                  "--stats", str(tmp_path / "stats.json"), "--plots", str(tmp_path / "plots")], forecast_project)
    assert result.returncode == 1 and "Fix:" in result.stderr and "data.window" in result.stderr, result.stderr
    assert not out.exists() and not (tmp_path / "stats.json").exists() and not (tmp_path / "plots").exists()


def test_dvc_exp_run_sets_a_forecast_param_and_shows_its_metrics(forecast_project):
    # Last in this module: the experiment leaves its results in the workspace.
    result = run(["dvc", "exp", "run", "forecast/dvc.yaml", "-n", "smaller-ensemble",
                  "-S", "forecast/params.yaml:evaluate.ensemble_size=3"], forecast_project, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    ran = [line for line in result.stdout.splitlines() if line.startswith("Running stage")]
    assert ran == ["Running stage 'forecast/dvc.yaml:evaluate':", "Running stage 'forecast/dvc.yaml:report':"], ran
    assert yaml.safe_load((forecast_project / "forecast" / "params.yaml").read_text())["evaluate"]["ensemble_size"] == 3
    shown = run(["dvc", "exp", "show", "--json"], forecast_project)
    assert shown.returncode == 0 and "smaller-ensemble" in shown.stdout
    assert '"forecast/metrics/evaluate.json"' in shown.stdout and '"forecast/params.yaml"' in shown.stdout
