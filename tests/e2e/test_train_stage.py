"""`dvc repro` trains each configured model as its own stage, logs it to MLflow, and re-runs
only what changed."""
import json

import mlflow
import numpy as np
import pytest
import yaml

from tests.conftest import mlflow_runs, run, write_params

pytestmark = pytest.mark.slow
MODELS = {"lstm": {"embedding_dim": 8, "units": 8}, "multihot_dense": {"hidden_units": [8]}}


def test_dvc_repro_trains_each_model_and_tracks_it(project):
    write_params(project / "params.yaml", data={"subsample": 1500, "vocab_size": 2000},
                 train={"epochs": 2, "batch_size": 64}, models=MODELS)
    run(["git", "commit", "-qam", "two small models"], project)
    dag = run(["dvc", "dag"], project)
    assert "train@lstm" in dag.stdout and "train@multihot_dense" in dag.stdout
    assert "train@gru" not in dag.stdout  # only the configured models get stages

    repro = run(["dvc", "repro", "train"], project)  # every train@ stage (and prepare)
    assert repro.returncode == 0, repro.stdout[-3000:] + repro.stderr[-3000:]

    runs = {r.info.run_name: r for r in mlflow_runs(project)}
    assert set(runs) == {"prepare", "train@lstm", "train@multihot_dense"}
    for name in MODELS:
        model_dir = project / "models" / name
        metrics = json.loads((project / "metrics" / "train" / f"{name}.json").read_text())
        proba = np.load(model_dir / "probabilities.npz")
        y_test = np.load(project / "data" / "prepared" / "test.npz")["y"]
        facts = json.loads((model_dir / "run.json").read_text())["training"]
        assert facts["epochs_run"] == 2  # patience 2: no early stop within 2 epochs
        assert metrics["test"]["accuracy"] == round(float((proba["test"].argmax(1) == y_test).mean()), 5)
        # The DVC metric holds scores only; names, epochs, size and timings are run facts.
        assert set(metrics) == {"val", "test"} and set(metrics["test"]) == {"accuracy", "macro_f1", "loss"}
        assert {"model", "architecture", "best_epoch", "params_count", "train_seconds", "samples_per_second"} <= set(facts)
        history = (project / "plots" / "train" / f"{name}.csv").read_text().splitlines()
        assert history[0] == "epoch,accuracy,learning_rate,loss,val_accuracy,val_loss"
        assert [line.split(",")[0] for line in history[1:]] == ["1", "2"]
        assert np.allclose(proba["test"].sum(axis=1), 1) and proba["test"].shape[1] == 3

        info = json.loads((model_dir / "run.json").read_text())
        mlrun = runs[f"train@{name}"]
        assert info["run_id"] == mlrun.info.run_id and mlrun.info.status == "FINISHED"
        assert mlrun.data.params["train.epochs"] == "2" and mlrun.data.tags["dvc.stage"] == f"train@{name}"
        assert mlrun.data.metrics["test.accuracy"] == pytest.approx(metrics["test"]["accuracy"], abs=1e-5)
        client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
        assert len(client.get_metric_history(mlrun.info.run_id, "val_loss")) == facts["epochs_run"]
        assert mlrun.data.metrics["samples_per_second"] == facts["samples_per_second"]
        mlflow.set_tracking_uri(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
        served = mlflow.pyfunc.load_model(info["text_model_uri"])
        answer = served.predict(["what a great day", ""])  # what {"inputs": [...]} becomes
        assert list(answer.columns) == ["label", "negative", "neutral", "positive"] and len(answer) == 2
        tokens = mlflow.pyfunc.load_model(info["model_uri"]).predict(
            np.load(project / "data" / "prepared" / "test.npz")["x"][:4])
        assert np.allclose(tokens, proba["test"][:4], atol=1e-5)

    assert "didn't change" in run(["dvc", "repro", "train"], project).stdout
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["models"]["multihot_dense"]["hidden_units"] = [16]
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = run(["dvc", "status", "prepare", "train"], project).stdout
    changed = [line[:-1] for line in status.splitlines() if line.endswith(":") and not line.startswith("\t")]
    assert changed == ["train@multihot_dense"], status
