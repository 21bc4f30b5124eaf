"""K-fold for text classification (train.folds 3, stratified): each fold a nested MLflow run, the
stage's metrics the folds' mean and std, out-of-fold probabilities over every training row that
evaluate chooses by, and the refit model's test scores."""
import json

import numpy as np
import pytest

from tests.conftest import mlflow_runs, run, write_params

pytestmark = pytest.mark.slow


def test_stratified_kfold_trains_and_evaluate_chooses_out_of_fold(project):
    write_params(project / "params.yaml", data={"subsample": 600, "vocab_size": 1000},
                 train={"epochs": 2, "batch_size": 64, "folds": 3},
                 models={"lstm": {"embedding_dim": 8, "units": 8}})
    repro = run(["dvc", "repro", "train@lstm"], project)
    assert repro.returncode == 0, repro.stdout[-3000:] + repro.stderr[-3000:]
    prepared = project / "data" / "prepared"
    y_train, y_val = (np.load(prepared / f"{s}.npz")["y"] for s in ("train", "val"))
    y_rows = np.concatenate([y_train, y_val])
    folds = json.loads((project / "models" / "lstm" / "folds.json").read_text())
    assert [f["fold"] for f in folds["per_fold"]] == [0, 1, 2] and folds["fold_model"] == "refit"
    assert sum(f["rows"] for f in folds["per_fold"]) == len(y_rows)
    proba = np.load(project / "models" / "lstm" / "probabilities.npz")
    assert np.array_equal(proba["y_val"], y_rows) and proba["val"].shape == (len(y_rows), 3)
    metrics = json.loads((project / "metrics" / "train" / "lstm.json").read_text())
    accuracies = [f["accuracy"] for f in folds["per_fold"]]
    assert metrics["folds"]["accuracy"] == {"mean": round(np.mean(accuracies), 5), "std": round(np.std(accuracies), 5)}
    assert metrics["val"]["accuracy"] == round(float((proba["val"].argmax(1) == y_rows).mean()), 5)

    runs = mlflow_runs(project)
    stage = next(r for r in runs if r.info.run_name == "train@lstm")
    children = sorted(r.info.run_name for r in runs if r.data.tags.get("mlflow.parentRunId") == stage.info.run_id)
    assert children == ["fold-0", "fold-1", "fold-2", "refit"]
    refit = next(r for r in runs if r.info.run_name == "refit")
    assert refit.data.tags["rnnops.stage"] == "train.refit"

    evaluate = run(["python", "pipeline/evaluate.py", "--members", "lstm"], project)
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    details = json.loads((project / "evaluation" / "details.json").read_text())
    assert details["lstm"]["val"]["accuracy"] == pytest.approx(metrics["val"]["accuracy"], abs=1e-5)
