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


def registry_state(project):
    """(version, aliases, test metric tag) of every version of rnnops-tweets."""
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
    versions = [client.get_model_version("rnnops-tweets", v.version)  # search omits aliases
                for v in client.search_model_versions("name='rnnops-tweets'")]
    return sorted((int(v.version), sorted(v.aliases), v.tags.get("test.accuracy")) for v in versions)


def evaluate_into(project, out, *extra, env=None):
    """`pipeline/evaluate.py` writing into `out` (the project's outputs stay untouched)."""
    paths = ["--metrics", out / "evaluate.json", "--evaluation", out / "evaluation",
             "--confusion", out / "confusion.csv", "--roc", out / "roc.csv"]
    return run(["python", "pipeline/evaluate.py", *map(str, paths), *extra], project, env=env)


def test_a_second_evaluation_that_does_not_win_becomes_challenger(project, tmp_path):
    before = registry_state(project)
    result = evaluate_into(project, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    decision = json.loads((tmp_path / "evaluation" / "registry.json").read_text())
    version = max(v for v, _, _ in before) + 1
    assert decision["version"] == str(version) and decision["alias"] == "challenger"  # equal is not better
    assert f"rnnops-tweets v{version} -> @challenger" in result.stdout
    assert registry_state(project)[-1] == (version, ["challenger"], before[-1][2] if before else None)


def test_a_failure_right_after_registration_leaves_the_registry_and_outputs_as_they_were(project, tmp_path):
    def failed_runs():
        return [r for r in mlflow_runs(project) if r.info.run_name == "evaluate" and r.info.status == "FAILED"]

    before, outputs, failed = registry_state(project), (project / "metrics" / "evaluate.json").read_bytes(), failed_runs()
    env = {**env_for(project), "RNNOPS_FAULT": "evaluate.after_register"}
    result = evaluate_into(project, tmp_path, env=env)
    assert result.returncode == 1 and "fault injected at evaluate.after_register" in result.stderr
    assert registry_state(project) == before  # the new version deleted, the aliases back
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing committed, no temp left
    assert (project / "metrics" / "evaluate.json").read_bytes() == outputs
    assert len(failed_runs()) == len(failed) + 1


def test_registry_false_registers_nothing(project, tmp_path):
    before = registry_state(project)
    params = tmp_path / "params.yaml"
    params.write_text((project / "params.yaml").read_text().replace("registry: true", "registry: false"))
    out = tmp_path / "out"
    result = evaluate_into(project, out, "--params", str(params))
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((out / "evaluation" / "registry.json").read_text()) == {}
    assert "registry:" not in result.stdout and registry_state(project) == before


@pytest.mark.parametrize("damage", ["missing", "corrupt", "other_data"])
def test_bad_member_probabilities_are_a_clear_error(project, tmp_path, damage):
    models = tmp_path / "models"
    subprocess.run(["cp", "-r", str(project / "models"), str(models)], check=True)
    npz = models / "lstm" / "probabilities.npz"
    if damage == "missing":
        npz.unlink()
    elif damage == "corrupt":
        npz.write_bytes(npz.read_bytes()[:100])
    else:
        with np.load(npz) as stored:
            arrays = dict(stored)
        np.savez(npz, **{**arrays, "y_test": arrays["y_test"][::-1]})
    before = registry_state(project)
    result = evaluate_into(project, tmp_path / "out", "--models", str(models))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    expected = {"missing": f"error: {npz}: missing. Fix: train the model first (`dvc repro train@lstm`).",
                "corrupt": f"error: {npz}: unreadable (",
                "other_data": f"error: {models / 'lstm'} was trained on other prepared data. Fix: `dvc repro` "
                              "retrains it on the current data."}[damage]
    assert result.stderr.strip().splitlines()[-1].startswith(expected), result.stderr[-1000:]
    assert not (tmp_path / "out").exists() and registry_state(project) == before


def test_no_model_gives_the_fix(tmp_path):
    fresh = make_project(tmp_path / "fresh")
    result = run([str(BIN / "rnnops"), "predict", "hello"], fresh)
    assert result.returncode == 1 and "Fix: run `make repro`" in result.stderr
    assert "Traceback" not in result.stderr
