"""`dvc repro` on a small profile ends with the evaluation, the report, a registered champion,
and raw-text prediction from the shell and over HTTP that agree."""
import json
import subprocess
import urllib.request

import numpy as np
import pytest

from tests.conftest import BIN, env_for, free_port, make_project, mlflow_runs, run, wait_for_http, write_params

pytestmark = pytest.mark.slow
EDGE_TEXTS = ["love this airline", "", "   ", "late " * 20_000, "🙂🙂 ✈️", "日本語のテキスト", "Привет"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("evaluate") / "project")
    write_params(project / "params.yaml", data={"subsample": 1500, "vocab_size": 2000},
                 train={"epochs": 2}, models={"lstm": {"embedding_dim": 8, "units": 8},
                                              "multihot_dense": {"hidden_units": [8]}},
                 tune={"n_trials": 2, "epochs_per_trial": 1,
                       "space": {"model.units": {"type": "int", "low": 4, "high": 8, "step": 4}}})
    run(["git", "commit", "-qam", "small profile"], project)
    result = run(["dvc", "repro"], project, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project


def predict(project, *args):
    result = run([str(BIN / "rnnops"), "predict", "--json", *args], project)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_evaluation_report_and_registry(project):
    metrics = json.loads((project / "metrics" / "evaluate.json").read_text())
    assert set(metrics["models"]) == {"lstm", "multihot_dense", "tuned", "soft_vote", "greedy"}
    assert metrics["winner"] in metrics["models"] and metrics["end_to_end"]["predictions_identical"]
    details = json.loads((project / "evaluation" / "details.json").read_text())
    assert sum(details["greedy"]["weights"].values()) == pytest.approx(1)
    assert set(details["lstm"]["test"]["per_class"]) == {"negative", "neutral", "positive"}
    confusion = (project / "plots" / "evaluate" / "confusion.csv").read_text().splitlines()
    assert confusion[0] == "actual,predicted" and len(confusion) == 301

    report = (project / "reports" / "report.md").read_text()
    for name in ("lstm", "multihot_dense", "tuned", "soft_vote", "greedy", "## Tuning", "champion"):
        assert name in report
    html = (project / "reports" / "report.html").read_text()
    assert html.count('src="data:image/png;base64,') == 4 and 'src="figures/' not in html

    decision = json.loads((project / "evaluation" / "registry.json").read_text())
    assert decision["name"] == "rnnops-tweets" and decision["alias"] == "champion"
    runs = {r.info.run_name: r for r in mlflow_runs(project)}
    assert runs["evaluate"].info.status == "FINISHED" and runs["report"].info.status == "FINISHED"
    assert runs["evaluate"].data.tags["registry.alias"] == "champion"
    assert run(["dvc", "metrics", "diff"], project).returncode == 0
    assert "didn't change" in run(["dvc", "repro"], project).stdout


def test_served_model_and_cli_agree_on_every_kind_of_text(project):
    cli = predict(project, *EDGE_TEXTS)
    assert [row["text"] for row in cli] == EDGE_TEXTS
    for row in cli:
        assert row["label"] in row["probabilities"] and sum(row["probabilities"].values()) == pytest.approx(1, abs=1e-5)

    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "mlflow"), "models", "serve", "-m", "models:/rnnops-tweets@champion", "--env-manager",
         "local", "--host", "127.0.0.1", "--port", str(port)], cwd=project,
        env={**env_for(project), "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlruns' / 'mlflow.db'}"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/ping", server)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations",
                                         data=json.dumps({"inputs": EDGE_TEXTS}).encode(),
                                         headers={"Content-Type": "application/json"})
        served = json.loads(urllib.request.urlopen(request, timeout=60).read())["predictions"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert [p["label"] for p in served] == [row["label"] for row in cli]
    for p, row in zip(served, cli):
        assert np.allclose([p[c] for c in row["probabilities"]], list(row["probabilities"].values()), atol=1e-5)


def test_predict_from_a_model_folder_and_stdin(project):
    texts = "the flight was late\nbest crew ever\n"
    result = run([str(BIN / "rnnops"), "predict", "--model", "models/lstm"], project, input=texts)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[0].split()[0] in ("negative", "neutral", "positive")


def test_a_second_evaluation_that_does_not_win_becomes_challenger(project):
    result = run(["dvc", "repro", "--single-item", "--force", "evaluate"], project)
    assert result.returncode == 0, result.stderr[-2000:]
    decision = json.loads((project / "evaluation" / "registry.json").read_text())
    assert decision["version"] == "2" and decision["alias"] == "challenger"  # equal is not better
    assert "rnnops-tweets v2 -> @challenger" in result.stdout


def test_no_model_gives_the_fix(tmp_path):
    fresh = make_project(tmp_path / "fresh")
    result = run([str(BIN / "rnnops"), "predict", "hello"], fresh)
    assert result.returncode == 1 and "Fix: run `make repro`" in result.stderr
    assert "Traceback" not in result.stderr
