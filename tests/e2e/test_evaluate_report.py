"""`dvc repro` on a small profile ends with the evaluation, the report, a registered champion,
and raw-text prediction from the shell and over HTTP that agree."""
import json
import subprocess
import urllib.request

import numpy as np
import pytest

from tests.conftest import BIN, env_for, free_port, make_project, mlflow_runs, run, wait_for_http

pytestmark = pytest.mark.slow
EDGE_TEXTS = ["love this airline", "", "   ", "late " * 20_000, "🙂🙂 ✈️", "日本語のテキスト", "Привет"]


@pytest.fixture(scope="module")
def project(finished_project):
    """The session's finished small project (tests/conftest.py): these tests add registry
    versions only as challengers, so the champion other modules read stays the same."""
    return finished_project


def predict(project, *args):
    result = run([str(BIN / "rnnops"), "predict", "--json", *args], project)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_evaluation_report_and_registry(project):
    metrics = json.loads((project / "metrics" / "evaluate.json").read_text())
    winner = json.loads((project / "evaluation" / "winner.json").read_text())
    details = json.loads((project / "evaluation" / "details.json").read_text())
    assert set(details) == {"lstm", "multihot_dense", "tuned", "soft_vote", "greedy"}
    assert winner["winner"] in details and winner["end_to_end"]["predictions_identical"]
    assert metrics["test"]["accuracy"] == round(details[winner["winner"]]["test"]["accuracy"], 5)
    assert metrics["promote_metric"] == "test.accuracy" and len(metrics["test_split_sha256"]) == 64
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
    assert "didn't change" in run(["dvc", "repro"], project).stdout


def test_dvc_metrics_show_is_one_short_table_of_scores(project):
    """A row per model and ensemble, the same score columns for all: no names, counts or timings."""
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], project).stdout)
    files = shown[""]["data"]
    assert set(files) == {"metrics/evaluate.json", "metrics/ensembles/greedy.json", "metrics/ensembles/soft_vote.json",
                          "metrics/train/lstm.json", "metrics/train/multihot_dense.json", "metrics/train/tuned.json"}
    columns = set()
    for name, content in files.items():
        assert "error" not in content, (name, content)
        columns |= {f"{split}.{k}" for split in ("val", "test") for k in content["data"][split]}
    assert columns == {"val.accuracy", "val.macro_f1", "val.loss",
                       "test.accuracy", "test.macro_f1", "test.loss", "test.roc_auc"}
    table = run(["dvc", "metrics", "show"], project).stdout.splitlines()
    assert len(table) == 7 and table[0].split() == [
        "Path", "promote_metric", "test.accuracy", "test.loss", "test.macro_f1", "test.roc_auc",
        "test_split_sha256", "val.accuracy", "val.loss", "val.macro_f1"]


def test_every_defined_plot_renders_with_data(project, tmp_path):
    shown = json.loads(run(["dvc", "plots", "show", "--json"], project).stdout)
    assert not shown.get("errors"), shown.get("errors")
    models = ("lstm", "multihot_dense", "tuned")
    expected = {"plots/data/lengths.csv", "plots/data/classes.csv", *(f"plots/train/{m}.csv" for m in models),
                "plots/tune/history.csv", "plots/evaluate/confusion.csv", "plots/evaluate/roc.csv",
                "plots/curves.csv", "val_accuracy_per_model"}
    assert set(shown["data"]) == expected
    for name, renders in shown["data"].items():
        assert len(renders) == 1 and renders[0]["content"]["data"]["values"], name
    # The per-model curves: one line per model (colour = model), every epoch of every model.
    epochs = sum(len((project / "plots" / "train" / f"{m}.csv").read_text().splitlines()) - 1 for m in models)
    for name in ("plots/curves.csv", "val_accuracy_per_model"):
        content = shown["data"][name][0]["content"]
        assert {v["model"] for v in content["data"]["values"]} == set(models) and len(content["data"]["values"]) == epochs
        assert content["encoding"]["color"]["field"] == "model"
    html = run(["dvc", "plots", "show", "-o", str(tmp_path / "html")], project)
    assert html.returncode == 0 and (tmp_path / "html" / "index.html").read_text().count("vegaEmbed") == len(expected)


def test_make_compare_is_a_short_table(project):
    """`make compare` on `dvc exp show`: the winner's scores and each model's test accuracy."""
    result = run([str(BIN / "python"), "scripts/compare.py"], project)
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["Experiment", "Created", "lstm", "acc", "multihot_dense", "acc", "tuned", "acc",
                              "val.acc", "val.f1", "val.loss", "test.acc", "test.f1", "test.loss", "test.auc"]
    metrics = json.loads((project / "metrics" / "evaluate.json").read_text())
    assert rows[0].split()[0] == "workspace" and rows[0].split()[-4] == str(metrics["test"]["accuracy"])
    assert max(len(line) for line in result.stdout.splitlines()) < 160


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
    paths = ["--metrics", out / "evaluate.json", "--ensembles", out / "ensembles", "--evaluation", out / "evaluation",
             "--plots", out / "plots"]
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
