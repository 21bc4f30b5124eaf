"""The generation pipeline end to end on a small slice of the embedded tweets (`dvc repro
generation/dvc.yaml`: real DVC, MLflow, Optuna): every stage's outputs, samples logged per epoch,
the n-gram peer and mixtures in one table, the registry, the served model reproducing the
evaluated test bits per character, `rnnops generate`, `mlflow models serve` over HTTP with a batch
of prompts, and a bad corpus failing before anything is written."""
import json
import subprocess

import mlflow
import numpy as np
import pytest
import yaml

from tests.conftest import (BIN, REPO, env_for, free_port, make_project, post_json, run, stop_server,
                            wait_for_http)

pytestmark = pytest.mark.slow

MODELS = ("notes_lstm", "transformer")


def small_params() -> dict:
    params = yaml.safe_load((REPO / "generation" / "params.yaml").read_text())
    params["data"].update({"subsample": 300})
    params["train"].update({"seq_len": 32, "epochs": 2, "batch_size": 64})
    params["models"] = {
        "notes_lstm": {"architecture": "rnn", "cell": "lstm", "layers": 2, "units": 32, "one_hot": True, "dropout": 0.2},
        "transformer": {"embedding_dim": 32, "heads": 2, "ff_dim": 64, "blocks": 1, "dropout": 0.1}}
    params["tune"].update({"n_trials": 2, "epochs_per_trial": 1, "pruner": "none", "base": {"embedding_dim": 16},
                           "space": {"train.seq_len": {"type": "categorical", "choices": [16, 32]},
                                     "model.cell": {"type": "categorical", "choices": ["gru", "lstm"]},
                                     "model.units": {"type": "categorical", "choices": [16, 32]}}})
    params["baselines"]["ngram"]["orders"] = [2, 3, 4]
    params["sampling"].update({"prompts": ["", "I "], "temperatures": [0.5, 1.0], "max_tokens": 20})
    return params


@pytest.fixture(scope="module")
def generation_project(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("generation") / "project", tasks=("generation",))
    (project / "generation" / "params.yaml").write_text(yaml.safe_dump(small_params(), sort_keys=False))
    result = run(["dvc", "repro", "generation/dvc.yaml"], project, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project


def read_json(path):
    return json.loads(path.read_text(encoding="utf-8"))


def client_for(project):
    return mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")


def test_outputs_scores_and_registry(generation_project):
    folder = generation_project / "generation"
    status = run(["dvc", "status", "generation/dvc.yaml"], generation_project)
    assert status.returncode == 0 and "up to date" in status.stdout, status.stdout
    spec = read_json(folder / "data" / "prepared" / "spec.json")
    assert spec["documents"] == {"train": 240, "val": 30, "test": 30} and spec["level"] == "char"
    streams = np.load(folder / "data" / "prepared" / "streams.npz")
    assert {s: len(streams[s]) for s in ("train", "val", "test")} == spec["tokens"]
    for name in (*MODELS, "tuned"):
        metrics = read_json(folder / "metrics" / "train" / f"{name}.json")
        assert set(metrics) == {"val", "test"} and set(metrics["test"]) == {"bits_per_token", "perplexity"}
        probs = np.load(folder / "models" / name / "token_probs.npz")
        assert len(probs["test"]) == spec["tokens"]["test"] - 1     # every token after the first
        bits = float(-np.mean(np.log2(probs["test"])))
        assert metrics["test"]["bits_per_token"] == round(bits, 5)
        assert metrics["test"]["perplexity"] == round(2 ** bits, 5)
    details = read_json(folder / "evaluation" / "details.json")
    winner = read_json(folder / "evaluation" / "winner.json")
    assert set(details["scores"]) == {*MODELS, "tuned", "ngram", "average", "greedy"}
    best_val = min(d["val"]["bits_per_token"] for d in details["scores"].values())
    assert details["scores"][winner["winner"]]["val"]["bits_per_token"] == best_val   # chosen on val
    assert set(winner["ngram_order_bits"]) == {"2", "3", "4"}
    assert sorted(p.name for p in (folder / "metrics" / "candidates").iterdir()) == [
        "average.json", "greedy.json", "ngram.json"]
    evaluate = read_json(folder / "metrics" / "evaluate.json")
    assert evaluate["test"]["bits_per_token"] == round(details["scores"][winner["winner"]]["test"]["bits_per_token"], 5)
    assert winner["end_to_end"]["difference"] < 1e-4
    version = client_for(generation_project).get_model_version_by_alias("rnnops-generation-tweets-char", "champion")
    assert str(version.version) == "1"
    assert version.tags["test.bits_per_token"] == f"{details['scores'][winner['winner']]['test']['bits_per_token']:.6f}"
    report = (folder / "reports" / "report.md").read_text(encoding="utf-8")
    assert "## Samples of the winner" in report and "| ngram " in report and "bits per character" in report
    samples = read_json(folder / "evaluation" / "samples.json")
    assert [(s["prompt"], s["temperature"]) for s in samples] == [("", 0.5), ("I ", 0.5), ("", 1.0), ("I ", 1.0)]


def test_samples_are_logged_after_every_epoch(generation_project):
    client = client_for(generation_project)
    experiment = client.get_experiment_by_name("rnnops-generation-tweets-char")
    runs = client.search_runs([experiment.experiment_id])
    stage = next(r for r in runs if r.data.tags.get("rnnops.stage") == "train@notes_lstm")
    files = sorted(a.path for a in client.list_artifacts(stage.info.run_id, "samples"))
    history = client.get_metric_history(stage.info.run_id, "val_loss")
    assert files == [f"samples/epoch_{e:03d}.txt" for e in range(1, len(history) + 1)] + ["samples/final.txt"]
    text = open(client.download_artifacts(stage.info.run_id, "samples/epoch_001.txt"), encoding="utf-8").read()
    lines = text.splitlines()
    assert len([line for line in lines if line.startswith("[T=")]) == 4 and lines[0].startswith("[T=0.5] '' -> ")


def test_the_served_model_reproduces_the_evaluated_bits(generation_project, tmp_path):
    from rnnops.tracking.manifest import copy_folder

    folder = generation_project / "generation"
    model = mlflow.pyfunc.load_model(str(copy_folder(folder / "evaluation" / "model", tmp_path / "model")))
    import pandas as pd

    documents = pd.read_parquet(folder / "data" / "prepared" / "documents.parquet")
    test_docs = documents.loc[documents["split"] == "test", "text"].tolist()
    probabilities = model.unwrap_python_model().token_probabilities(test_docs)
    evaluate = read_json(folder / "metrics" / "evaluate.json")
    assert round(float(-np.mean(np.log2(probabilities))), 5) == evaluate["test"]["bits_per_token"]
    # One trained model's own pyfunc (logged by its train stage) reproduces its metrics file.
    run_info = read_json(folder / "models" / "transformer" / "run.json")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{generation_project / 'mlruns' / 'mlflow.db'}")
    try:
        single = mlflow.pyfunc.load_model(run_info["generator_uri"]).unwrap_python_model()
    finally:
        mlflow.set_tracking_uri(previous)
    single_bits = float(-np.mean(np.log2(single.token_probabilities(test_docs))))
    assert round(single_bits, 5) == read_json(folder / "metrics" / "train" / "transformer.json")["test"]["bits_per_token"]
    out = model.predict(pd.DataFrame({"prompt": ["I ", "", "\u2603 snow"]}), params={"max_tokens": 15, "seed": 7})
    assert list(out.columns) == ["prompt", "text"] and len(out) == 3
    assert all(len(t) <= 15 for t in out["text"])
    again = model.predict(pd.DataFrame({"prompt": ["\u2603 snow", "I "]}), params={"max_tokens": 15, "seed": 7})
    assert again["text"].tolist() == [out["text"][2], out["text"][0]]    # a prompt's text ignores its batch


def test_generate_command(generation_project):
    def generate(*args):
        return run(["rnnops", "generate", *args], generation_project, timeout=300)

    first = generate("I ", "The ", "--max-chars", "25", "--temperature", "0.8", "--seed", "3", "--json")
    assert first.returncode == 0, first.stderr
    rows = json.loads(first.stdout)
    assert [r["prompt"] for r in rows] == ["I ", "The "] and all(len(r["text"]) <= 25 for r in rows)
    assert generate("I ", "The ", "--max-chars", "25", "--temperature", "0.8", "--seed", "3", "--json").stdout == first.stdout
    greedy = generate("I ", "--max-chars", "25", "--greedy")
    assert greedy.returncode == 0 and greedy.stdout.startswith("I "), greedy.stderr
    for bad, message in ((["--temperature", "0"], "temperature 0.0: must be > 0"),
                         (["--top-p", "1.5"], "top_p 1.5: must be in (0, 1]")):
        refused = generate("I ", *bad)
        assert refused.returncode == 1 and message in refused.stderr and "Fix:" in refused.stderr, refused.stderr


def test_mlflow_models_serve_takes_a_batch_of_prompts(generation_project):
    port = free_port()
    env = {**env_for(generation_project), "MLFLOW_TRACKING_URI": f"sqlite:///{generation_project / 'mlruns' / 'mlflow.db'}"}
    server = subprocess.Popen([str(BIN / "mlflow"), "models", "serve", "-m",
                               "models:/rnnops-generation-tweets-char@champion", "--env-manager", "local",
                               "--host", "127.0.0.1", "--port", str(port)],
                              cwd=generation_project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/ping", server)
        body = {"dataframe_records": [{"prompt": "I "}, {"prompt": ""}, {"prompt": "The "}],
                "params": {"max_tokens": 12, "temperature": 0.7, "seed": 5}}
        status, text = post_json(port, json.dumps(body))
        assert status == 200, text
        predictions = json.loads(text)["predictions"]
        assert [p["prompt"] for p in predictions] == ["I ", "", "The "]
        assert all(len(p["text"]) <= 12 for p in predictions)
        status, again = post_json(port, json.dumps(body))
        assert status == 200 and json.loads(again)["predictions"] == predictions       # seeded
        status, error = post_json(port, json.dumps({**body, "params": {"temperature": -1.0}}))
        assert status >= 400 and "temperature" in error, error
    finally:
        stop_server(server)


def test_a_bad_corpus_fails_before_anything_is_written(generation_project, tmp_path):
    (tmp_path / "corpus.txt").write_text("\n   \n\n", encoding="utf-8")
    params = small_params()
    params["data"].update({"source": "txt", "path": str(tmp_path / "corpus.txt")})
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    out = generation_project / "generation" / "data" / "prepared"
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = run(["python", str(generation_project / "pipeline" / "prepare.py"), "--params", str(path), "--out",
                  str(out), "--stats", str(tmp_path / "stats.json"), "--plots", str(tmp_path / "plots")],
                 generation_project)
    assert result.returncode == 1 and "corpus.txt: the corpus has no non-empty document" in result.stderr \
        and "Fix:" in result.stderr, result.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before     # the earlier results are intact
    assert not (tmp_path / "stats.json").exists() and not (tmp_path / "plots").exists()
