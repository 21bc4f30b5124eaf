"""The seq2seq pipeline end to end on a small slice of the embedded date pairs (`dvc repro
seq2seq/dvc.yaml`: real DVC, MLflow, Optuna): every stage's outputs, the scores recomputed from
the stored outputs, the peer and the ensemble in one table chosen on validation, attention maps,
the registry, the saved pyfunc reproducing the evaluated test outputs exactly, `rnnops translate`,
`mlflow models serve` over HTTP, and bad pairs failing before anything is written."""
import gzip
import json
import subprocess

import mlflow
import pandas as pd
import pytest
import yaml

from tests.conftest import (BIN, REPO, env_for, free_port, make_project, post_json, run, stop_server,
                            wait_for_http)

pytestmark = pytest.mark.slow

MODELS = ("no_attention", "bahdanau", "transformer")
REGISTERED = "rnnops-seq2seq-dates"


def small_params() -> dict:
    params = yaml.safe_load((REPO / "seq2seq" / "params.yaml").read_text())
    params["data"]["dates"].update({"train": 600, "val": 60, "test": 80, "locales": ["en_US", "fr_FR", "de_DE"],
                                    "held_out": ["fr_FR:long"]})
    params["data"].update({"source_vocab_size": 80})
    params["train"].update({"epochs": 2, "batch_size": 64})
    params["models"] = {
        "no_attention": {"architecture": "seq2seq_rnn", "cell": "gru", "units": 16, "embedding_dim": 8,
                         "attention": "none"},
        "bahdanau": {"architecture": "seq2seq_rnn", "cell": "lstm", "units": 16, "embedding_dim": 8,
                     "bidirectional": True, "attention": "bahdanau", "attention_units": 8},
        "transformer": {"architecture": "seq2seq_transformer", "embedding_dim": 16, "heads": 2, "ff_dim": 16,
                        "blocks": 1}}
    params["tune"].update({"n_trials": 2, "epochs_per_trial": 1, "pruner": "none",
                           "base": {"embedding_dim": 8, "bidirectional": True},
                           "space": {"model.attention": {"type": "categorical", "choices": ["luong_dot", "luong_general"]},
                                     "model.units": {"type": "categorical", "choices": [8, 16]}}})
    params["decoding"].update({"beam_width": 3})
    params["evaluate"].update({"ensemble_size": 2, "attention_examples": 2})
    return params


@pytest.fixture(scope="module")
def seq2seq_project(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("seq2seq") / "project", tasks=("seq2seq",))
    (project / "seq2seq" / "params.yaml").write_text(yaml.safe_dump(small_params(), sort_keys=False))
    result = run(["dvc", "repro", "seq2seq/dvc.yaml"], project, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project


def read_json(path):
    return json.loads(path.read_text(encoding="utf-8"))


def client_for(project):
    return mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")


def test_outputs_scores_and_registry(seq2seq_project):
    from rnnops.tasks.seq2seq.metrics import translation_scores

    folder = seq2seq_project / "seq2seq"
    status = run(["dvc", "status", "seq2seq/dvc.yaml"], seq2seq_project)
    assert status.returncode == 0 and "up to date" in status.stdout, status.stdout
    spec = read_json(folder / "data" / "prepared" / "spec.json")
    assert spec["pairs"] == {"train": 600, "val": 60, "test": 80} and spec["target_len"] == 11
    stats = read_json(folder / "data" / "stats.json")
    assert set(stats["groups"]["train"]) == {"seen_format"} and "held_out_format" in stats["groups"]["test"]
    for name in (*MODELS, "tuned"):
        metrics = read_json(folder / "metrics" / "train" / f"{name}.json")
        outputs = pd.read_parquet(folder / "models" / name / "predictions.parquet")
        test = outputs[outputs["split"] == "test"]
        recomputed = translation_scores(test["beam"].tolist(), test["reference"].tolist(), "char")
        assert metrics["test"]["exact_match"] == round(recomputed["exact_match"], 5)
        assert metrics["test"]["chrf"] == round(recomputed["chrf"], 5)
    details = read_json(folder / "evaluation" / "details.json")
    winner = read_json(folder / "evaluation" / "winner.json")
    assert {*MODELS, "tuned", "memory"} <= set(details["scores"])
    neural = [n for n in details["scores"] if n != "memory"]
    best = max((details["scores"][n]["val"]["exact_match"], details["scores"][n]["val"]["chrf"]) for n in neural)
    chosen = details["scores"][winner["winner"]]["val"]
    assert (chosen["exact_match"], chosen["chrf"]) == best                         # chosen on val
    assert winner["end_to_end"] == {"test_pairs": 80, "identical": True}
    assert set(details["scores"]["memory"]["test_by_group"]) == {"seen_format", "held_out_format"}
    evaluate = read_json(folder / "metrics" / "evaluate.json")
    assert evaluate["test"]["exact_match"] == round(details["scores"][winner["winner"]]["test"]["exact_match"], 5)
    version = client_for(seq2seq_project).get_model_version_by_alias(REGISTERED, "champion")
    assert str(version.version) == "1"
    assert version.tags["test.exact_match"] == f"{details['scores'][winner['winner']]['test']['exact_match']:.6f}"
    by_length = pd.read_csv(folder / "plots" / "evaluate" / "by_length.csv")
    assert by_length.groupby("candidate")["pairs"].sum().eq(80).all()
    report = (folder / "reports" / "report.md").read_text(encoding="utf-8")
    assert "## Test exact match by source length" in report and "| memory " in report


def test_attention_maps_are_logged(seq2seq_project):
    folder = seq2seq_project / "seq2seq"
    client = client_for(seq2seq_project)
    experiment = client.get_experiment_by_name(REGISTERED)
    runs = client.search_runs([experiment.experiment_id])
    stage = next(r for r in runs if r.data.tags.get("rnnops.stage") == "train@bahdanau")
    plots = sorted(a.path for a in client.list_artifacts(stage.info.run_id, "plots"))
    assert plots == ["plots/attention_01.png", "plots/attention_02.png", "plots/attention_03.png",
                     "plots/attention_04.png", "plots/training_curves.png"]
    plain = next(r for r in runs if r.data.tags.get("rnnops.stage") == "train@no_attention")
    assert [a.path for a in client.list_artifacts(plain.info.run_id, "plots")] == ["plots/training_curves.png"]
    winner = read_json(folder / "evaluation" / "winner.json")
    maps = sorted(p.name for p in (folder / "evaluation" / "attention").glob("*.png"))
    assert maps == winner["attention_maps"]
    assert all((folder / "evaluation" / "attention" / m).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for m in maps)


def test_the_saved_model_reproduces_the_test_outputs(seq2seq_project, tmp_path):
    from rnnops.tracking.manifest import copy_folder

    folder = seq2seq_project / "seq2seq"
    model = mlflow.pyfunc.load_model(str(copy_folder(folder / "evaluation" / "model", tmp_path / "model")))
    outputs = pd.read_parquet(folder / "evaluation" / "test_outputs.parquet")
    served = model.predict(pd.DataFrame({"source": outputs["source"]}))      # the schema's default params
    assert served["target"].tolist() == outputs["output"].tolist()
    greedy = model.predict(outputs[["source"]].head(10), params={"beam_width": 1, "attention": True})
    maps = [json.loads(a) for a in greedy["attention"]]
    assert len(greedy) == 10 and all(m is None or len(m["source"]) == len(m["weights"][0]) for m in maps)
    unknown = model.predict(pd.DataFrame({"source": ["\u2603\u2603 3 mars 1998"]}))
    assert len(unknown) == 1 and len(unknown["target"][0]) <= 10          # unknown characters: <unk>, no error


def test_translate_command(seq2seq_project):
    def translate(*args):
        return run(["rnnops", "translate", *args], seq2seq_project, timeout=300)

    first = translate("3 mars 1998", "March 3, 1998", "--json")
    assert first.returncode == 0, first.stderr
    rows = json.loads(first.stdout)
    assert [r["source"] for r in rows] == ["3 mars 1998", "March 3, 1998"] and all(len(r["target"]) <= 10 for r in rows)
    assert translate("3 mars 1998", "March 3, 1998", "--json").stdout == first.stdout           # deterministic
    greedy = translate("3 mars 1998", "--greedy", "--attention")
    assert greedy.returncode == 0 and greedy.stdout.startswith("3 mars 1998\t"), greedy.stderr
    refused = translate("3 mars 1998", "--beam-width", "0")
    assert refused.returncode == 1 and "beam_width 0 (1..64)" in refused.stderr, refused.stderr
    too_long = translate("x" * 41)
    assert too_long.returncode == 1 and "source 1 has 41 tokens; this model reads at most 40" in too_long.stderr


def test_mlflow_models_serve_translates_a_batch(seq2seq_project):
    port = free_port()
    env = {**env_for(seq2seq_project), "MLFLOW_TRACKING_URI": f"sqlite:///{seq2seq_project / 'mlruns' / 'mlflow.db'}"}
    server = subprocess.Popen([str(BIN / "mlflow"), "models", "serve", "-m", f"models:/{REGISTERED}@champion",
                               "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)],
                              cwd=seq2seq_project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/ping", server)
        sources = ["3 mars 1998", "Tuesday, March 3, 1998", "3. März 1998"]
        body = {"dataframe_records": [{"source": s} for s in sources], "params": {"beam_width": 2}}
        status, text = post_json(port, json.dumps(body))
        assert status == 200, text
        predictions = json.loads(text)["predictions"]
        assert [p["source"] for p in predictions] == sources and all(len(p["target"]) <= 10 for p in predictions)
        local = mlflow.pyfunc.load_model(str(seq2seq_project / "seq2seq" / "evaluation" / "model"))
        assert [p["target"] for p in predictions] == local.predict(pd.DataFrame({"source": sources}), params={"beam_width": 2})["target"].tolist()
        status, error = post_json(port, json.dumps({**body, "params": {"beam_width": 100}}))
        assert status >= 400 and "beam_width" in error, error
    finally:
        stop_server(server)


def test_bad_pairs_fail_before_anything_is_written(seq2seq_project, tmp_path):
    good = "".join(f"source {i}\ttarget {i}\n" for i in range(40))
    cases = {"no_tab.tsv": (good + "a line without a tab\n").encode(), "bad.tsv.gz": gzip.compress(
        good.encode() + b"caf\xe9\tcoffee\n")}
    out = seq2seq_project / "seq2seq" / "data" / "prepared"
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        params = small_params()
        params["data"].update({"source": "tsv", "path": str(tmp_path / name), "source_level": "word",
                               "target_level": "word"})
        path = tmp_path / "params.yaml"
        path.write_text(yaml.safe_dump(params, sort_keys=False))
        result = run(["python", str(seq2seq_project / "pipeline" / "prepare.py"), "--params", str(path), "--out",
                      str(out), "--stats", str(tmp_path / "stats.json"), "--plots", str(tmp_path / "plots")],
                     seq2seq_project)
        assert result.returncode == 1 and name in result.stderr and "line 41" in result.stderr \
            and "Fix:" in result.stderr, result.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before     # the earlier results are intact
    assert not (tmp_path / "stats.json").exists() and not (tmp_path / "plots").exists()
