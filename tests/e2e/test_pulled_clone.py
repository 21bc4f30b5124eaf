"""A second clone filled by `dvc pull` (its own, empty MLflow store) predicts and serves the
evaluate stage's winner from the pulled files, as the original project's registry champion does;
a changed member file is refused with the command that restores it; a clone with nothing pulled
is told to `dvc pull`; and with the team's store (MLFLOW_TRACKING_URI) the registry serves it."""
import json
import shutil
import subprocess
import urllib.request

import numpy as np
import pytest

from benchmarks.bench_serve import stop_server
from tests.conftest import BIN, env_for, free_port, run, wait_for_http

pytestmark = pytest.mark.slow
TEXTS = ["the flight was late again", "love the new seats", ""]
NOTE = ("rnnops: no rnnops-tweets@champion in sqlite:///{store}; using the evaluate stage's winner "
        "(evaluation/winner.json: {winner} of {members})")


def git_clone(origin, dest):
    """A clone of `origin` as if its results were committed: git clone, then every file git would
    commit (dvc.lock, metrics, plots) copied over and committed; the team's DVC remote configured.
    A DVC 3 local remote has the cache's layout, so `origin`'s cache is that remote (no push)."""
    assert run(["git", "clone", "-q", str(origin), str(dest)], origin).returncode == 0
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], origin).stdout
    for name in filter(None, listed.split("\0")):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin / name, dest / name)
    for cmd in (["dvc", "remote", "add", "-d", "team", str(origin / ".dvc" / "cache")],
                ["git", "add", "-A"], ["git", "commit", "-qm", "results"]):
        result = run(cmd, dest)
        assert result.returncode == 0, result.stderr[-2000:]
    return dest


@pytest.fixture(scope="module")
def pulled(finished_project, tmp_path_factory):
    clone = git_clone(finished_project, tmp_path_factory.mktemp("pulled") / "clone")
    result = run(["dvc", "pull"], clone)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert not (clone / "mlruns" / "mlflow.db").exists()
    return clone


def predict(project, *args, env=None):
    return run([str(BIN / "rnnops"), "predict", *args], project, env=env, timeout=300)


def probabilities(result):
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(result.stdout)
    assert [r["text"] for r in rows] == TEXTS
    return rows


def assert_same(rows, expected, atol=1e-6):
    assert [r["label"] for r in rows] == [r["label"] for r in expected]
    for mine, theirs in zip(rows, expected):
        assert list(mine["probabilities"]) == list(theirs["probabilities"])
        np.testing.assert_allclose(list(mine["probabilities"].values()), list(theirs["probabilities"].values()),
                                   atol=atol, rtol=1e-9)  # rtol: the float error of a 1e-6 difference


@pytest.fixture(scope="module")
def original(finished_project):
    """The original project's answers: its registry champion."""
    return probabilities(predict(finished_project, "--json", *TEXTS))


def test_a_clone_with_nothing_pulled_is_told_to_dvc_pull(finished_project, tmp_path):
    clone = git_clone(finished_project, tmp_path / "clone")
    for args in (["hello"], ["--serve-uri"]):
        result = predict(clone, *args)
        assert result.returncode == 1 and result.stdout == "", result.stderr[-3000:]
        assert "Traceback" not in result.stderr and "no evaluation/winner.json" in result.stderr
        for command in ("`dvc pull` then `rnnops predict`", "`make repro`", "MLFLOW_TRACKING_URI",
                        "--model models/<name>"):
            assert command in result.stderr, result.stderr


def test_the_pulled_clone_predicts_the_champions_probabilities(pulled, original):
    assert "up to date" in run(["dvc", "status"], pulled).stdout  # nothing to reproduce
    winner = json.loads((pulled / "evaluation" / "winner.json").read_text())
    result = predict(pulled, "--json", *TEXTS)
    assert_same(probabilities(result), original)
    note = NOTE.format(store=pulled / "mlruns" / "mlflow.db", winner=winner["winner"],
                       members=", ".join(winner["weights"]))
    assert result.stderr.strip() == note


def test_with_the_team_store_the_registry_serves_the_clone(pulled, finished_project, original):
    env = {**env_for(pulled), "MLFLOW_TRACKING_URI": f"sqlite:///{finished_project / 'mlruns' / 'mlflow.db'}"}
    result = predict(pulled, "--json", *TEXTS, env=env)
    assert_same(probabilities(result), original)
    assert "rnnops:" not in result.stderr
    uri = predict(pulled, "--serve-uri", env=env)
    assert (uri.returncode, uri.stdout) == (0, "models:/rnnops-tweets@champion\n"), uri.stderr[-2000:]


def test_a_changed_member_file_is_refused_and_dvc_checkout_restores_it(pulled, original):
    winner = json.loads((pulled / "evaluation" / "winner.json").read_text())
    relative = winner["members"][next(iter(winner["weights"]))]["text_model"]
    with open(pulled / relative, "ab") as handle:
        handle.write(b"changed")
    for model in ("champion", "winner"):
        result = predict(pulled, "--model", model, "hello")
        assert result.returncode == 1 and result.stdout == "", result.stderr[-3000:]
        assert "Traceback" not in result.stderr
        assert f"error: {pulled / relative}: refused: its sha256 " in result.stderr
        assert f"Fix: `dvc checkout --force {relative}`" in result.stderr, result.stderr
    assert run(["dvc", "checkout", "--force", relative], pulled).returncode == 0
    assert_same(probabilities(predict(pulled, "--model", "winner", "--json", *TEXTS)), original)


def test_a_changed_model_folder_is_not_served(pulled):
    served = pulled / "evaluation" / "model" / "serving.py"
    text = served.read_text()
    try:
        served.write_text(text + "\nprint('changed')\n")
        result = predict(pulled, "--serve-uri")
        assert result.returncode == 1 and result.stdout == "", result.stderr[-3000:]
        assert "refused: 1 file(s) differ from evaluation/winner.json (serving.py)" in result.stderr
        assert "`dvc checkout --force evaluation`" in result.stderr
    finally:
        served.write_text(text)


def invocations(port, texts):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", json.dumps({"inputs": texts}).encode(),
                                     {"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(request, timeout=60).read())["predictions"]


def test_make_serve_in_the_pulled_clone_serves_the_pulled_winner(pulled, original, tmp_path):
    port, log = free_port(), tmp_path / "serve.log"
    # BIN: the test's venv (the clone has none); -o: `setup` does not install into it.
    command = ["make", "-o", ".venv/.rnnops-installed-cpu", "serve", f"BIN={BIN}", f"PORT={port}"]
    with open(log, "w") as out:
        server = subprocess.Popen(command, cwd=pulled, env=env_for(pulled), stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/ping", server)
        served = invocations(port, TEXTS)
    finally:
        stop_server(server)  # the whole process group: make, mlflow and the uvicorn it started
    assert f"serving {pulled / 'evaluation' / 'model'} on 127.0.0.1:{port}" in log.read_text()
    rows = [{"label": p.pop("label"), "probabilities": p} for p in served]
    assert_same(rows, original, atol=1e-5)  # the CLI rounds to 1e-6
