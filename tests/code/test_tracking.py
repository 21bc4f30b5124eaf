"""MLflow runs of stages: default store location, tags, and the final status of every run."""
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from rnnops.tracking import runs as tracking


@pytest.fixture
def store(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    return mlflow.MlflowClient(tracking_uri=uri)


def only_run(client):
    experiment = client.get_experiment_by_name("rnnops-demo")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    return runs[0]


def test_finished_run_has_params_and_tags(store, monkeypatch):
    monkeypatch.setenv("DVC_EXP_NAME", "my-exp")
    monkeypatch.setenv("DVC_STAGE", "prepare")
    with tracking.stage_run("prepare", "demo", {"data.max_len": 64}):
        mlflow.set_tag("data.sha256", "abc")
        tracking.log_metrics_tree({"size": {"train": 10}, "dataset": "demo", "share": {"a+b": 0.5}})
    run = only_run(store)
    assert run.info.status == "FINISHED" and run.info.run_name == "prepare"
    assert run.data.params == {"data.max_len": "64"}
    assert run.data.metrics == {"size.train": 10.0, "share.a_b": 0.5}
    tags = run.data.tags
    assert tags["dvc.stage"] == "prepare" and tags["dvc.exp_name"] == "my-exp"
    assert tags["data.sha256"] == "abc" and "git.commit" in tags


def test_exception_ends_the_run_failed(store):
    with pytest.raises(ValueError):
        with tracking.stage_run("prepare", "demo"):
            raise ValueError("bad data")
    assert only_run(store).info.status == "FAILED"


def test_ctrl_c_ends_the_run_killed(store):
    with pytest.raises(KeyboardInterrupt):
        with tracking.stage_run("prepare", "demo"):
            raise KeyboardInterrupt
    assert only_run(store).info.status == "KILLED"


def test_sigterm_ends_the_run_killed(store, tmp_path):
    script = ("import os, signal, time\nfrom rnnops.tracking import runs as tracking\n"
              "with tracking.stage_run('prepare', 'demo'):\n"
              "    os.kill(os.getpid(), signal.SIGTERM)\n    time.sleep(30)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path, env=os.environ, timeout=120)
    assert proc.returncode != 0
    assert only_run(store).info.status == "KILLED"


def test_default_store_is_sqlite_under_the_project_root(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    (tmp_path / ".dvc").mkdir()
    (tmp_path / "sub" / "dir").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "sub" / "dir")
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path.resolve() / 'mlruns' / 'mlflow.db'}"
    # DVC sets DVC_ROOT to the original repo, also for `dvc exp run --temp` copies.
    monkeypatch.setenv("DVC_ROOT", str(tmp_path / "elsewhere"))
    assert tracking.project_root() == (tmp_path / "elsewhere").resolve()


def test_default_experiment_keeps_artifacts_in_the_project(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    (tmp_path / ".dvc").mkdir()
    monkeypatch.chdir(tmp_path)
    with tracking.stage_run("prepare", "demo") as run:
        mlflow.log_text("hello", "note.txt")
    artifact_uri = mlflow.get_run(run.info.run_id).info.artifact_uri
    assert artifact_uri.startswith((tmp_path / "mlruns" / "artifacts").as_uri())
    assert list(Path(tmp_path / "mlruns" / "artifacts").rglob("note.txt"))


def test_runs_carry_their_process_and_input_data_and_the_experiment_is_for_training(store):
    with tracking.stage_run("train@x", "demo", data=("demo-prepared", "/data/prepared", "ab" * 32, "training")):
        pass
    run = only_run(store)
    assert run.data.tags["rnnops.host"] == __import__("socket").gethostname()
    assert run.data.tags["rnnops.pid"] == str(os.getpid())
    assert run.data.tags["rnnops.pid_start"] == tracking._start_time(os.getpid())
    (dataset_input,) = run.inputs.dataset_inputs
    assert (dataset_input.dataset.name, dataset_input.dataset.digest) == ("demo-prepared", "ab" * 8)
    assert [(t.key, t.value) for t in dataset_input.tags] == [("mlflow.data.context", "training")]
    experiment = store.get_experiment_by_name("rnnops-demo")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert tracking.runs_url("http://127.0.0.1:5000/", experiment.experiment_id) == \
        f"http://127.0.0.1:5000/#/experiments/{experiment.experiment_id}?workflowType=machine_learning"


def test_reap_ends_only_runs_whose_process_is_gone(store):
    """A dead pid, a live pid reused by another process (other start time), a live process of
    ours, and a run of another host: only the first two are reaped."""
    import socket

    experiment = store.create_experiment("rnnops-demo")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    me, host = str(os.getpid()), socket.gethostname()
    cases = {"dead": {"rnnops.pid": dead, "rnnops.pid_start": "1", "rnnops.host": host},
             "reused": {"rnnops.pid": me, "rnnops.pid_start": "1", "rnnops.host": host},
             "alive": {"rnnops.pid": me, "rnnops.pid_start": tracking._start_time(os.getpid()), "rnnops.host": host},
             "elsewhere": {"rnnops.pid": dead, "rnnops.pid_start": "1", "rnnops.host": "another-host"}}
    ids = {name: store.create_run(experiment, tags=tags, run_name=name).info.run_id for name, tags in cases.items()}
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    assert sorted(r.info.run_name for r in tracking.reap()) == ["dead", "reused"]
    status = {name: store.get_run(run_id).info.status for name, run_id in ids.items()}
    assert status == {"dead": "KILLED", "reused": "KILLED", "alive": "RUNNING", "elsewhere": "RUNNING"}
    assert store.get_run(ids["dead"]).data.tags["rnnops.reaped"] == "process gone"
    assert tracking.reap() == []
