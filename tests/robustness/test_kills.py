"""Kills and failures mid-stage, as real processes: nothing half-written, MLflow runs closed
honestly, DVC's lock file untouched, and the next `dvc repro` completes."""
import json
import os
import signal
import subprocess
import time

import pytest

from tests.conftest import env_for, mlflow_runs, run

pytestmark = pytest.mark.slow


def wait_for(predicate, timeout=300, step=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def training_started(project, stage):
    """The stage's MLflow run exists and has logged at least one epoch."""
    import mlflow

    for r in mlflow_runs(project):
        if r.info.run_name == stage and r.info.status == "RUNNING":
            client = mlflow.MlflowClient(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
            return bool(client.get_metric_history(r.info.run_id, "val_loss"))
    return False


def slow_training(project):
    raw = (project / "params.yaml").read_text().replace("epochs: 2", "epochs: 40")
    (project / "params.yaml").write_text(raw.replace("patience: 2", "patience: 40"))


def test_sigkill_of_dvc_repro_during_training(prepared_project):
    project = prepared_project
    slow_training(project)
    lock = (project / "dvc.lock").read_text()
    proc = subprocess.Popen(["dvc", "repro", "train@lstm"], cwd=project, env=env_for(project),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    assert wait_for(lambda: training_started(project, "train@lstm")), "training never started"
    os.killpg(proc.pid, signal.SIGKILL)  # DVC and the stage process, mid-epoch
    proc.wait()

    assert (project / "dvc.lock").read_text() == lock
    assert not (project / "models" / "lstm" / "model.keras").exists()
    (killed,) = [r for r in mlflow_runs(project) if r.info.run_name == "train@lstm"]
    assert killed.info.status != "FINISHED"

    run(["git", "checkout", "params.yaml"], project)
    start = time.monotonic()
    again = run(["dvc", "repro", "train@lstm"], project, timeout=600)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert time.monotonic() - start < 300  # no hang on a stale lock
    assert (project / "models" / "lstm" / "model.keras").exists()
    assert not list((project / "models").glob(".lstm.*.tmp"))  # the killed run's temp is gone


def test_sigterm_during_training_ends_the_run_killed(prepared_project):
    project = prepared_project
    slow_training(project)
    proc = subprocess.Popen(["python", "pipeline/train.py", "multihot_dense"], cwd=project,
                            env=env_for(project), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: training_started(project, "train@multihot_dense"))
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        run(["git", "checkout", "params.yaml"], project)
    assert proc.returncode != 0
    (killed,) = [r for r in mlflow_runs(project) if r.info.run_name == "train@multihot_dense"]
    assert killed.info.status == "KILLED"
    assert not (project / "models" / "multihot_dense").exists()


def test_exception_during_training_ends_the_run_failed(prepared_project, tmp_path):
    project = prepared_project
    # Token ids beyond the (edited) vocabulary: the embedding lookup fails inside fit().
    bad = tmp_path / "prepared"
    subprocess.run(["cp", "-r", str(project / "data" / "prepared"), str(bad)], check=True)
    spec = json.loads((bad / "spec.json").read_text())
    (bad / "spec.json").write_text(json.dumps({**spec, "vocab_size": 5}))
    result = run(["python", "pipeline/train.py", "lstm", "--prepared", str(bad)], project)
    assert result.returncode != 0
    failed = [r for r in mlflow_runs(project) if r.info.run_name == "train@lstm" and r.info.status == "FAILED"]
    assert failed


def test_unreachable_mlflow_server_fails_fast_and_touches_nothing(prepared_project):
    project = prepared_project
    before = {p: p.read_bytes() for p in (project / "data" / "prepared").iterdir()}
    env = {**env_for(project), "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}  # nothing listens
    start = time.monotonic()
    result = run(["python", "pipeline/prepare.py"], project, env=env, timeout=120)
    assert result.returncode == 1 and time.monotonic() - start < 60
    assert "MLflow tracking server http://127.0.0.1:9" in result.stderr and "Fix:" in result.stderr
    assert "Traceback" not in result.stderr
    assert {p: p.read_bytes() for p in (project / "data" / "prepared").iterdir()} == before
