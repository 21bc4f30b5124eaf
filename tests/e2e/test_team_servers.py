"""The team set-up with the real servers: `mlflow server` on PostgreSQL with served artifacts (started
as `make mlflow-server` starts it) and the Optuna study on the same PostgreSQL.

- the small pipeline, `dvc repro` with MLFLOW_TRACKING_URI set and two tuning workers, logs every
  stage, every trial, the models and the registry's champion to the server and nothing locally;
- the champion is predicted (`rnnops predict`) and served (`mlflow models serve -m models:/...`)
  through the server, with the evaluate stage's own probabilities;
- the server stopped mid-training: the stage fails with the "Fix:" message, DVC keeps dvc.lock, and
  after a restart the next `dvc repro` completes and ends the orphaned run as KILLED;
- MLflow's basic-auth app: no or wrong credentials are refused with the variables to set, a user's
  MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD let the stages log."""
import base64
import json
import subprocess
import sys
import time
import urllib.request

import mlflow
import pytest

from tests.conftest import BIN, env_for, free_port, make_project, post_json, run, stop_server, wait_for_http, write_params
from tests.robustness.conftest import small_project

pytestmark = pytest.mark.slow
STAGES = {"prepare", "train@lstm", "train@multihot_dense", "tune", "train_tuned", "evaluate", "report"}
TEXTS = ["the flight was late again", "love the new seats"]


class MlflowServer:
    """`python -m rnnops.servers mlflow` (what `make mlflow-server` runs) on a free loopback port."""

    def __init__(self, backend, artifacts, log, auth_config=None):
        self.backend, self.artifacts, self.log, self.auth_config = backend, artifacts, log, auth_config
        self.port, self.process = free_port(), None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        env = env_for(self.log.parent)
        if self.auth_config:
            env["MLFLOW_AUTH_CONFIG_PATH"] = str(self.auth_config)
        command = [sys.executable, "-m", "rnnops.servers", "mlflow", "--backend-store-uri", self.backend,
                   "--artifacts-destination", str(self.artifacts), "--port", str(self.port),
                   *(["--auth"] if self.auth_config else []), "--", "--workers", "2"]
        with self.log.open("a") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        wait_for_http(f"{self.url}/health", self.process)
        return self

    def stop(self):
        stop_server(self.process)


def client_env(project, server, **extra):
    return {**env_for(project), "MLFLOW_TRACKING_URI": server.url, **extra}


@pytest.fixture(scope="module")
def server(postgres, tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow-server")
    server = MlflowServer(postgres.create_database("mlflow_team"), folder / "artifacts", folder / "server.log")
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def team_project(server, postgres, tmp_path_factory):
    """The small profile, tuned by two workers on PostgreSQL, after `dvc repro` against the server."""
    project = small_project(tmp_path_factory.mktemp("team") / "project",
                            tune={"n_trials": 6, "epochs_per_trial": 2, "workers": 2,
                                  "storage": postgres.create_database("optuna_team"),
                                  "space": {"model.units": {"type": "int", "low": 4, "high": 8, "step": 4}}})
    result = run(["dvc", "repro"], project, env=client_env(project, server), timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project


def server_runs(server):
    client = mlflow.MlflowClient(server.url)
    experiment = client.get_experiment_by_name("rnnops-tweets")
    return client, client.search_runs([experiment.experiment_id], max_results=1000)


def test_every_stage_trial_and_model_is_on_the_server(team_project, server):
    assert not (team_project / "mlruns" / "mlflow.db").exists()  # nothing went to the local store
    client, runs = server_runs(server)
    stages = [r for r in runs if r.data.tags.get("rnnops.stage") != "tune.trial"]
    assert sorted(r.info.run_name for r in stages) == sorted(STAGES)
    assert {r.info.status for r in runs} == {"FINISHED"}
    (tune,) = [r for r in stages if r.info.run_name == "tune"]
    trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == tune.info.run_id]
    assert len(trials) == 6 and {r.data.tags["optuna.state"] for r in trials} <= {"complete", "pruned"}
    assert len({r.data.tags["rnnops.pid"] for r in trials}) == 2  # both workers logged trials
    study = json.loads((team_project / "tuning" / "study.json").read_text())
    assert study["trials"]["complete"] + study["trials"]["pruned"] == 6
    # Artifacts went through the server into its artifacts folder.
    (lstm,) = [r for r in stages if r.info.run_name == "train@lstm"]
    assert lstm.info.artifact_uri.startswith("mlflow-artifacts:/")
    assert "plots" in {a.path for a in client.list_artifacts(lstm.info.run_id)}
    assert len(list(server.artifacts.rglob("MLmodel"))) >= 3  # the logged models (two members, tuned, ...)


def test_the_champion_is_predicted_and_served_through_the_server(team_project, server):
    env = client_env(team_project, server)
    version = mlflow.MlflowClient(server.url).get_model_version_by_alias("rnnops-tweets", "champion")
    assert version.version == "1" and version.source.startswith("models:/m-")
    uri = run([str(BIN / "rnnops"), "predict", "--serve-uri"], team_project, env=env)
    assert (uri.returncode, uri.stdout) == (0, "models:/rnnops-tweets@champion\n"), uri.stderr[-2000:]
    local = run([str(BIN / "rnnops"), "predict", "--model", "winner", "--json", *TEXTS], team_project)
    remote = run([str(BIN / "rnnops"), "predict", "--json", *TEXTS], team_project, env=env, timeout=300)
    assert remote.returncode == 0 and local.returncode == 0, remote.stderr[-2000:] + local.stderr[-2000:]
    expected = json.loads(local.stdout)
    assert [r["label"] for r in json.loads(remote.stdout)] == [r["label"] for r in expected]
    for mine, theirs in zip(json.loads(remote.stdout), expected):
        assert mine["probabilities"] == pytest.approx(theirs["probabilities"], abs=1e-6)

    port = free_port()
    serving = subprocess.Popen([str(BIN / "mlflow"), "models", "serve", "-m", "models:/rnnops-tweets@champion",
                                "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)],
                               cwd=team_project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/ping", serving, timeout=300)
        status, body = post_json(port, json.dumps({"inputs": TEXTS}))
    finally:
        stop_server(serving)
    assert status == 200, body
    served = json.loads(body)["predictions"]
    assert [row["label"] for row in served] == [r["label"] for r in expected]


def training_on_server(server, run_name):
    """The RUNNING run of `run_name` once the server holds one epoch of its metrics."""
    try:
        client, runs = server_runs(server)
    except Exception:
        return None
    for r in runs:
        if r.info.run_name == run_name and r.info.status == "RUNNING" and client.get_metric_history(r.info.run_id, "val_loss"):
            return r
    return None


def test_server_stopped_mid_training_fails_clearly_and_the_restart_recovers(team_project, server):
    project, lock = team_project, (team_project / "dvc.lock").read_text()
    params = (project / "params.yaml").read_text()
    (project / "params.yaml").write_text(params.replace("epochs: 2", "epochs: 60").replace("patience: 2", "patience: 60"))
    stage = subprocess.Popen(["dvc", "repro", "train@lstm"], cwd=project, env=client_env(project, server),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, started = time.monotonic() + 300, None
    while started is None and time.monotonic() < deadline and stage.poll() is None:
        started = training_on_server(server, "train@lstm")
        time.sleep(0.5)
    assert started is not None, "training never logged to the server"
    server.stop()
    stopped = time.monotonic()
    out, err = stage.communicate(timeout=600)
    waited = time.monotonic() - stopped
    print(f"stage failed {waited:.0f} s after the server stopped")
    assert stage.returncode != 0
    assert (f"error: the MLflow tracking server {server.url} stopped answering during stage train@lstm"
            in err + out), err[-3000:]
    assert f"Its MLflow run {started.info.run_id} stays RUNNING" in err + out
    assert "Fix: restart the server (make mlflow-server), then run `dvc repro` again." in err + out
    assert "Traceback" not in err
    assert (project / "dvc.lock").read_text() == lock  # DVC recorded nothing
    assert not (project / "models" / "lstm" / "model.keras").exists() or \
        run(["dvc", "status", "train@lstm"], project).returncode == 0

    server.start()  # same database, artifacts and port
    (project / "params.yaml").write_text(params.replace("epochs: 2", "epochs: 3"))
    result = run(["dvc", "repro", "train@lstm"], project, env=client_env(project, server), timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"mlflow: run {started.info.run_id[:12]} (train@lstm) was left RUNNING by a process that is gone" \
        in result.stdout
    client, runs = server_runs(server)
    by_id = {r.info.run_id: r for r in runs}
    assert by_id[started.info.run_id].info.status == "KILLED"
    latest = max((r for r in runs if r.info.run_name == "train@lstm"), key=lambda r: r.info.start_time)
    assert latest.info.status == "FINISHED" and len(client.get_metric_history(latest.info.run_id, "val_loss")) == 3
    assert run(["dvc", "status", "train@lstm"], project).stdout.strip() == "Data and pipelines are up to date."


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    """`--app-name basic-auth`: users in SQLite, runs in SQLite (the auth layer is what is tested)."""
    from rnnops import servers

    folder = tmp_path_factory.mktemp("auth-server")
    config = folder / "basic_auth.ini"
    password = servers.write_auth_config(config, f"sqlite:///{folder / 'users.db'}")
    server = MlflowServer(f"sqlite:///{folder / 'runs.db'}", folder / "artifacts", folder / "server.log", config)
    server.start()
    request = urllib.request.Request(  # the admin creates a user, as a team's admin would
        f"{server.url}/api/2.0/mlflow/users/create", json.dumps({"username": "alice", "password": "alice-pw-2026"}).encode(),
        {"Content-Type": "application/json",
         "Authorization": "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()})
    assert urllib.request.urlopen(request, timeout=30).status == 200
    yield server
    server.stop()


@pytest.mark.parametrize("user, password, refused", [(None, None, "no credentials"),
                                                     ("alice", "wrong", "user 'alice'")])
def test_basic_auth_refuses_missing_or_wrong_credentials(auth_server, tmp_path, user, password, refused):
    project = make_project(tmp_path / "project")
    write_params(project / "params.yaml", data={"subsample": 300, "vocab_size": 500})
    extra = {"MLFLOW_TRACKING_USERNAME": user, "MLFLOW_TRACKING_PASSWORD": password} if user else {}
    result = run(["python", "pipeline/prepare.py"], project, env=client_env(project, auth_server, **extra))
    assert result.returncode == 1, result.stdout[-2000:]
    assert result.stderr.strip() == (
        f"error: MLflow tracking server {auth_server.url} refused {refused} (HTTP 401). Fix: set "
        "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to an account of its basic-auth app "
        "(README: From one machine to a team).")
    assert not (project / "data" / "prepared").exists()


def test_basic_auth_user_runs_stages(auth_server, tmp_path, monkeypatch):
    project = make_project(tmp_path / "project")
    write_params(project / "params.yaml", data={"subsample": 300, "vocab_size": 500})
    env = client_env(project, auth_server, MLFLOW_TRACKING_USERNAME="alice", MLFLOW_TRACKING_PASSWORD="alice-pw-2026")
    result = run(["dvc", "repro", "prepare"], project, env=env, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "alice-pw-2026")
    client = mlflow.MlflowClient(auth_server.url)
    runs = client.search_runs([client.get_experiment_by_name("rnnops-tweets").experiment_id])
    assert [(r.info.run_name, r.info.status) for r in runs] == [("prepare", "FINISHED")]
    assert (project / "data" / "prepared" / "spec.json").exists()
