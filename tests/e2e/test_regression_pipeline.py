"""The regression pipeline end to end on diabetes with 3 folds (`dvc repro regression/dvc.yaml`:
real DVC, MLflow, Optuna, scikit-learn): K-fold outputs and nested MLflow runs, per-fold pruning
steps, peers, the registry, the served model reproducing the evaluated test predictions,
`rnnops predict`, `mlflow models serve` over HTTP, and bad tables failing before anything is written."""
import json
import subprocess

import mlflow
import numpy as np
import optuna
import pandas as pd
import pytest
import yaml

from tests.conftest import (BIN, REPO, env_for, free_port, make_project, post_json, run, stop_server,
                            wait_for_http)

pytestmark = pytest.mark.slow

FOLDS = 3


def small_params() -> dict:
    params = yaml.safe_load((REPO / "regression" / "params.yaml").read_text())
    params["train"].update({"folds": FOLDS, "epochs": 4, "batch_size": 32})
    params["models"] = {"notes_dense": {"architecture": "dense", "hidden_units": [16, 16], "dropout": 0.0}}
    params["tune"].update({"n_trials": 2, "epochs_per_trial": 2, "pruner": "none"})
    params["baselines"]["boosting_max_iter"] = 20
    return params


@pytest.fixture(scope="module")
def regression_project(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("regression") / "project", tasks=("regression",))
    (project / "regression" / "params.yaml").write_text(yaml.safe_dump(small_params(), sort_keys=False))
    result = run(["dvc", "repro", "regression/dvc.yaml"], project, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project


def read_json(path):
    return json.loads(path.read_text())


def test_kfold_outputs_metrics_and_registry(regression_project):
    folder = regression_project / "regression"
    status = run(["dvc", "status", "regression/dvc.yaml"], regression_project)
    assert status.returncode == 0 and "up to date" in status.stdout, status.stdout
    spec = read_json(folder / "data" / "prepared" / "spec.json")
    training_rows = spec["rows"]["train"] + spec["rows"]["val"]
    assert spec["rows"] == {"train": 283, "val": 71, "test": 88}
    folds = read_json(folder / "models" / "notes_dense" / "folds.json")
    assert folds["folds"] == FOLDS and folds["fold_model"] == "refit"
    assert sum(f["rows"] for f in folds["per_fold"]) == training_rows     # the folds partition the rows
    metrics = read_json(folder / "metrics" / "train" / "notes_dense.json")
    assert set(metrics) == {"val", "test", "folds"} and set(metrics["test"]) == {"mae", "rmse", "r2"}
    maes = [f["mae"] for f in folds["per_fold"]]
    assert metrics["folds"]["mae"] == {"mean": round(np.mean(maes), 5), "std": round(np.std(maes), 5)}
    stored = np.load(folder / "models" / "notes_dense" / "predictions.npz")
    with np.load(folder / "data" / "prepared" / "train.npz") as tr, np.load(folder / "data" / "prepared" / "val.npz") as va:
        assert np.array_equal(stored["rows_val"], np.concatenate([tr["rows"], va["rows"]]))  # out of fold
    details = read_json(folder / "evaluation" / "details.json")
    winner = read_json(folder / "evaluation" / "winner.json")
    assert set(details["scores"]) == {"notes_dense", "tuned", "mean", "ridge", "gradient_boosting", "average",
                                      "greedy"}
    assert winner["selection"] == f"out-of-fold ({FOLDS} folds)"
    best_val = min(d["val"]["mae"] for d in details["scores"].values())
    assert details["scores"][winner["winner"]]["val"]["mae"] == best_val          # chosen out of fold
    assert sorted(p.name for p in (folder / "metrics" / "candidates").iterdir()) == [
        "average.json", "gradient_boosting.json", "greedy.json", "mean.json", "ridge.json"]
    folds_table = pd.read_csv(folder / "plots" / "evaluate" / "folds.csv")
    assert sorted(folds_table["model"].unique()) == ["notes_dense", "tuned"] and len(folds_table) == 2 * FOLDS
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{regression_project / 'mlruns' / 'mlflow.db'}")
    version = client.get_model_version_by_alias("rnnops-regression-diabetes", "champion")
    assert str(version.version) == "1"
    assert version.tags["test.mae"] == f"{details['scores'][winner['winner']]['test']['mae']:.6f}"
    report = (folder / "reports" / "report.md").read_text()
    assert "## Validation MAE per fold" in report and f"{np.mean(maes):.4f} ± {np.std(maes):.4f}" in report


def test_each_fold_is_a_nested_run_with_per_epoch_metrics(regression_project):
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{regression_project / 'mlruns' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("rnnops-regression-diabetes")
    runs = client.search_runs([experiment.experiment_id])
    stage = next(r for r in runs if r.data.tags.get("rnnops.stage") == "train@notes_dense")
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == stage.info.run_id]
    assert sorted(r.info.run_name for r in children) == ["fold-0", "fold-1", "fold-2", "refit"]
    folds = read_json(regression_project / "regression" / "models" / "notes_dense" / "folds.json")["per_fold"]
    for fold in folds:
        child = next(r for r in children if r.info.run_name == f"fold-{fold['fold']}")
        history = client.get_metric_history(child.info.run_id, "val_loss")
        assert [m.step for m in history] == list(range(1, fold["epochs_run"] + 1))
        assert child.data.metrics["fold_mae"] == pytest.approx(fold["mae"])


def test_cross_validated_trials_report_every_fold_at_its_own_steps(regression_project):
    storage = f"sqlite:///{regression_project / 'tuning' / 'optuna.db'}"
    study_name = read_json(regression_project / "regression" / "tuning" / "study.json")["study"]
    trials = optuna.load_study(study_name=study_name, storage=storage).trials
    assert len(trials) == 2
    for trial in trials:   # fold k epoch e is step k * epochs_per_trial + e
        steps = sorted(trial.intermediate_values)
        assert {(s - 1) // 2 for s in steps} == {0, 1, 2} and all(1 <= s <= 6 for s in steps)


def test_the_served_model_reproduces_the_evaluated_predictions(regression_project, tmp_path):
    from rnnops.tracking.manifest import copy_folder

    folder = regression_project / "regression"
    model = mlflow.pyfunc.load_model(str(copy_folder(folder / "evaluation" / "model", tmp_path / "model")))
    spec = read_json(folder / "data" / "prepared" / "spec.json")
    with np.load(folder / "data" / "prepared" / "features.npz") as features:
        rows = pd.DataFrame(features["test"], columns=spec["features"])
    expected = pd.read_csv(folder / "plots" / "evaluate" / "predictions.csv")
    out = model.predict(rows)
    assert list(out.columns) == ["target"] and len(out) == 88
    np.testing.assert_allclose(out["target"].to_numpy(), expected["predicted"].to_numpy(), rtol=1e-5)
    rows.head(3).to_csv(regression_project / "rows.csv", index=False)
    cli = run(["rnnops", "predict", "--params", "regression/params.yaml", "--file", "rows.csv"],
              regression_project, timeout=300)
    assert cli.returncode == 0, cli.stderr
    printed = pd.read_csv(pd.io.common.StringIO(cli.stdout))
    np.testing.assert_allclose(printed["target"].to_numpy(), expected["predicted"].to_numpy()[:3], rtol=1e-5)
    bad = rows.head(2).astype(object)
    bad.loc[1, "bmi"] = "tall"
    bad.to_csv(regression_project / "bad.csv", index=False)
    refused = run(["rnnops", "predict", "--params", "regression/params.yaml", "--file", "bad.csv"],
                  regression_project, timeout=300)
    assert refused.returncode == 1 and "bad.csv: line 3: column 'bmi' holds 'tall', not a number" in refused.stderr


def test_mlflow_models_serve_answers_over_http(regression_project):
    port = free_port()
    env = {**env_for(regression_project), "MLFLOW_TRACKING_URI": f"sqlite:///{regression_project / 'mlruns' / 'mlflow.db'}"}
    server = subprocess.Popen([str(BIN / "mlflow"), "models", "serve", "-m", "models:/rnnops-regression-diabetes@champion",
                               "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)],
                              cwd=regression_project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/ping", server)
        folder = regression_project / "regression"
        spec = read_json(folder / "data" / "prepared" / "spec.json")
        with np.load(folder / "data" / "prepared" / "features.npz") as features:
            rows = features["test"][:4].tolist()
        status, text = post_json(port, json.dumps({"dataframe_split": {"columns": spec["features"], "data": rows}}))
        assert status == 200, text
        expected = pd.read_csv(folder / "plots" / "evaluate" / "predictions.csv")["predicted"].to_numpy()[:4]
        np.testing.assert_allclose([r["target"] for r in json.loads(text)["predictions"]], expected, rtol=1e-5)
        status, error = post_json(port, json.dumps({"dataframe_split": {"columns": spec["features"][:3],
                                                                        "data": [r[:3] for r in rows]}}))
        assert status == 400 and "missing" in error, error
    finally:
        stop_server(server)


@pytest.mark.parametrize("target, problem", [
    (["12.5", "x", "3"] + ["1"] * 17, "line 3, column 'y' (data.target): 'x' is not a number"),
    (["5"] * 20, "is 5 on every row: nothing to learn"),
    (["1", "", "2"] + ["3"] * 17, "line 3"),
    (["1", "inf", "2"] + ["3"] * 17, "line 3"),
])
def test_a_bad_target_fails_before_anything_is_written(regression_project, tmp_path, target, problem):
    table = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) ** 2, "y": target})
    table.to_csv(tmp_path / "houses.csv", index=False)
    params = small_params()
    params["data"].update({"source": "csv", "path": str(tmp_path / "houses.csv"), "target": "y"})
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    out = tmp_path / "prepared"
    result = run(["python", str(regression_project / "pipeline" / "prepare.py"), "--params", str(path), "--out",
                  str(out), "--stats", str(tmp_path / "stats.json"), "--plots", str(tmp_path / "plots")],
                 regression_project)
    assert result.returncode == 1 and "houses.csv" in result.stderr and problem in result.stderr \
        and "Fix:" in result.stderr, result.stderr
    assert not out.exists() and not (tmp_path / "stats.json").exists() and not (tmp_path / "plots").exists()
