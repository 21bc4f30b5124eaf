"""Text regression end to end (`data.text_column`: texts in, a number out) with 2 folds through
the token-input path: the vocabulary sees training rows only, the peers are the training mean and
TF-IDF ridge, and the served model and `rnnops predict` give the evaluated test predictions."""
import json

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import REPO, make_project, run

pytestmark = pytest.mark.slow
WORDS = ["good", "bad", "great", "awful", "fine", "plot", "actor", "scene", "music", "ending"]


def reviews(rows: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    texts, ratings = [], []
    for _ in range(rows):
        words = list(rng.choice(WORDS, size=rng.integers(4, 12)))
        texts.append(" ".join(words))
        score = 5 + 1.5 * (words.count("good") + words.count("great")) - 1.5 * (words.count("bad") + words.count("awful"))
        ratings.append(float(np.clip(round(score), 1, 10)))
    return pd.DataFrame({"review": texts, "stars": ratings})


@pytest.fixture(scope="module")
def text_project(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("textreg") / "project", tasks=("regression",))
    table = reviews()
    table.to_csv(project / "reviews.csv", index=False)
    params = yaml.safe_load((REPO / "regression" / "params.yaml").read_text())
    params["data"].update({"source": "csv", "path": "reviews.csv", "target": "stars", "text_column": "review",
                           "text": {**params["data"]["text"], "vocab_size": 100, "max_len": 16}})
    params["train"].update({"folds": 2, "epochs": 3, "batch_size": 32, "optimizer": "adam", "learning_rate": 0.01})
    params["models"] = {"gru": {"units": 8, "embedding_dim": 8}}
    params["tune"].update({"architecture": "gru", "base": {}, "n_trials": 1, "epochs_per_trial": 1,
                           "cross_validate": False, "pruner": "none",
                           "space": {"model.units": {"type": "int", "low": 4, "high": 8, "step": 4}}})
    params["baselines"]["models"] = ["mean", "ridge"]
    (project / "regression" / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    # The trained model and the evaluate stage (its peers, ensembles, registry); the tune stages
    # are the tabular test's (tests/e2e/test_regression_pipeline.py).
    result = run(["dvc", "repro", "regression/dvc.yaml:train@gru"], project, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    result = run(["python", "../pipeline/evaluate.py", "--members", "gru"], project / "regression", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project


def test_text_regression_outputs_and_training_only_vocabulary(text_project):
    folder = text_project / "regression"
    spec = json.loads((folder / "data" / "prepared" / "spec.json").read_text())
    assert spec["inputs"] == "text" and spec["target"] == "stars" and spec["features"] == []
    texts = pd.read_parquet(folder / "data" / "prepared" / "texts.parquet")
    vocabulary = set((folder / "data" / "prepared" / "vocabulary.txt").read_text().split())
    training_words = set(" ".join(texts.loc[texts["split"] != "test", "text"]).split())
    assert vocabulary == training_words                       # every training word, nothing else
    details = json.loads((folder / "evaluation" / "details.json").read_text())
    assert set(details["scores"]) == {"gru", "mean", "ridge", "average", "greedy"}
    assert [f["fold"] for f in details["folds"]["gru"]] == [0, 1]
    metrics = json.loads((folder / "metrics" / "train" / "gru.json").read_text())
    assert set(metrics["test"]) == {"mae", "rmse", "r2"} and set(metrics) == {"val", "test", "folds"}


def test_served_text_model_and_cli_give_the_evaluated_predictions(text_project, tmp_path):
    from rnnops.tracking.manifest import copy_folder

    folder = text_project / "regression"
    texts = pd.read_parquet(folder / "data" / "prepared" / "texts.parquet")
    test_texts = texts.loc[texts["split"] == "test", "text"].tolist()
    expected = pd.read_csv(folder / "plots" / "evaluate" / "predictions.csv")["predicted"].to_numpy()
    model = mlflow.pyfunc.load_model(str(copy_folder(folder / "evaluation" / "model", tmp_path / "model")))
    out = model.predict(pd.DataFrame({"review": test_texts}))
    assert list(out.columns) == ["stars"]
    np.testing.assert_allclose(out["stars"].to_numpy(), expected, rtol=1e-4, atol=1e-4)
    cli = run(["rnnops", "predict", "--params", "regression/params.yaml", "--json", *test_texts[:2]], text_project,
              timeout=300)
    assert cli.returncode == 0, cli.stderr
    printed = json.loads(cli.stdout)
    assert [r["text"] for r in printed] == test_texts[:2]
    np.testing.assert_allclose([r["stars"] for r in printed], expected[:2], rtol=1e-4, atol=1e-4)
