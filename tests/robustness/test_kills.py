"""Kills and failures mid-stage, as real processes: nothing half-written, the previous outputs
byte-for-byte intact, MLflow runs closed honestly (a SIGKILLed run ends KILLED at the next stage
run), DVC's lock file untouched, and the next `dvc repro` completes."""
import json
import os
import signal
import subprocess
import time

import pytest

from tests.conftest import BIN, env_for, mlflow_runs, run

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


def folder_bytes(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def runs_named(project, name):
    return sorted((r for r in mlflow_runs(project) if r.info.run_name == name), key=lambda r: r.info.start_time)


@pytest.fixture(scope="module")
def trained(prepared_project):
    """The small project with train@lstm done (its outputs are what the kills must not damage)."""
    result = run(["dvc", "repro", "train@lstm"], prepared_project)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return prepared_project


@pytest.fixture
def slow_params(trained):
    """params.yaml edited for a long training; restored whatever happens."""
    original = (trained / "params.yaml").read_text()
    (trained / "params.yaml").write_text(original.replace("epochs: 2", "epochs: 40").replace("patience: 2", "patience: 40"))
    yield trained
    (trained / "params.yaml").write_text(original)


def test_sigkill_of_dvc_repro_during_training_then_next_run_reaps_it(slow_params):
    project = slow_params
    lock, before = (project / "dvc.lock").read_text(), folder_bytes(project / "models" / "lstm")
    proc = subprocess.Popen(["dvc", "repro", "train@lstm"], cwd=project, env=env_for(project),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert wait_for(lambda: training_started(project, "train@lstm")), "training never started"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # DVC and the stage process, mid-epoch
        proc.wait()

    assert (project / "dvc.lock").read_text() == lock
    # DVC removes a stage's outputs before it runs it; the lock still names the previous ones,
    # and the cache gives them back byte for byte.
    assert run(["dvc", "checkout", "train@lstm"], project).returncode == 0
    assert folder_bytes(project / "models" / "lstm") == before
    killed = runs_named(project, "train@lstm")[-1]
    assert killed.info.status == "RUNNING"  # nobody could close it yet
    assert {"rnnops.host", "rnnops.pid", "rnnops.pid_start"} <= set(killed.data.tags)

    (project / "params.yaml").write_text((project / "params.yaml").read_text()
                                         .replace("epochs: 40", "epochs: 2").replace("patience: 40", "patience: 2"))
    again = run(["dvc", "repro", "--force", "train@lstm"], project, timeout=600)  # the next stage run
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert f"run {killed.info.run_id[:12]} (train@lstm) was left RUNNING" in again.stdout
    statuses = {r.info.run_id: r.info.status for r in runs_named(project, "train@lstm")}
    assert statuses[killed.info.run_id] == "KILLED"
    assert "RUNNING" not in statuses.values()
    assert not list((project / "models").glob(".lstm.*"))  # no temp or moved-aside folder left
    assert run(["dvc", "status", "train@lstm"], project).stdout.strip() == "Data and pipelines are up to date."


def test_rnnops_runs_reap_ends_a_sigkilled_stage_run(slow_params):
    project = slow_params
    proc = subprocess.Popen(["python", "pipeline/train.py", "multihot_dense"], cwd=project,
                            env=env_for(project), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: training_started(project, "train@multihot_dense"))
    finally:
        proc.kill()
        proc.wait()
    killed = runs_named(project, "train@multihot_dense")[-1]
    reap = run([str(BIN / "rnnops"), "runs", "reap"], project)
    assert reap.returncode == 0, reap.stderr[-2000:]
    assert reap.stdout.splitlines() == [f"KILLED {killed.info.run_id} train@multihot_dense (pid "
                                        f"{killed.data.tags['rnnops.pid']} is gone)", "reaped 1 run(s)"]
    assert runs_named(project, "train@multihot_dense")[-1].info.status == "KILLED"
    assert run([str(BIN / "rnnops"), "runs", "reap"], project).stdout.splitlines() == ["reaped 0 run(s)"]


def test_sigterm_during_training_ends_the_run_killed(slow_params):
    project = slow_params
    before = folder_bytes(project / "models" / "lstm")
    proc = subprocess.Popen(["python", "pipeline/train.py", "lstm"], cwd=project,
                            env=env_for(project), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: training_started(project, "train@lstm"))
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130 and stderr.decode().strip().splitlines()[-1] == "interrupted"
    assert "Traceback" not in stderr.decode()
    assert runs_named(project, "train@lstm")[-1].info.status == "KILLED"
    assert folder_bytes(project / "models" / "lstm") == before


def test_exception_during_training_ends_the_run_failed(trained, tmp_path):
    project = trained
    before = folder_bytes(project / "models" / "lstm")
    # Token ids beyond the (edited) vocabulary: refused before the first batch, inside the run.
    bad = tmp_path / "prepared"
    subprocess.run(["cp", "-r", str(project / "data" / "prepared"), str(bad)], check=True)
    spec = json.loads((bad / "spec.json").read_text())
    (bad / "spec.json").write_text(json.dumps({**spec, "vocab_size": 5}))
    import numpy as np

    top = max(int(np.load(bad / f"{s}.npz")["x"].max()) for s in ("train", "val", "test"))
    result = run(["python", "pipeline/train.py", "lstm", "--prepared", str(bad)], project)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: prepared data: token id {top} but spec.json says vocab_size 5; the prepared files do "
        "not belong together. Fix: rebuild them with `dvc repro -f prepare`.")
    assert "Traceback" not in result.stderr
    assert runs_named(project, "train@lstm")[-1].info.status == "FAILED"
    assert folder_bytes(project / "models" / "lstm") == before


def test_failure_after_training_commits_nothing(trained):
    project = trained
    before = folder_bytes(project / "models" / "lstm")
    env = {**env_for(project), "RNNOPS_FAULT": "train.before_outputs"}
    result = run(["python", "pipeline/train.py", "lstm"], project, env=env)
    assert result.returncode == 1 and "InjectedFault: fault injected at train.before_outputs" in result.stderr
    assert runs_named(project, "train@lstm")[-1].info.status == "FAILED"
    assert folder_bytes(project / "models" / "lstm") == before
    assert not list((project / "models").glob(".lstm.*"))


def test_kill_between_the_renames_of_a_commit_is_recovered(trained):
    project = trained
    before = folder_bytes(project / "models" / "lstm")
    env = {**env_for(project), "RNNOPS_FAULT": "atomic.between_renames:kill"}
    killed = run(["python", "pipeline/train.py", "lstm"], project, env=env)
    assert killed.returncode == -signal.SIGKILL
    assert not (project / "models" / "lstm").exists()  # moved aside, the new one not yet in place
    (aside,) = (project / "models").glob(".lstm.old-*")
    assert folder_bytes(aside) == before

    # The next run puts the previous model back before anything else: here it then fails while
    # writing, so what remains is exactly the previous model, and DVC sees it as up to date.
    env = {**env_for(project), "RNNOPS_FAULT": "train.writing"}
    failed = run(["python", "pipeline/train.py", "lstm"], project, env=env)
    assert failed.returncode == 1 and "fault injected at train.writing" in failed.stderr
    assert folder_bytes(project / "models" / "lstm") == before
    assert sorted(p.name for p in (project / "models").iterdir() if p.name.startswith(".lstm")) == []
    assert run(["dvc", "status", "train@lstm"], project).stdout.strip() == "Data and pipelines are up to date."


def test_unreachable_mlflow_server_fails_fast_and_touches_nothing(prepared_project):
    project = prepared_project
    before = folder_bytes(project / "data" / "prepared")
    env = {**env_for(project), "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}  # nothing listens
    start = time.monotonic()
    result = run(["python", "pipeline/prepare.py"], project, env=env, timeout=120)
    assert result.returncode == 1 and time.monotonic() - start < 60
    assert result.stderr.strip().splitlines()[-1].startswith(
        "error: MLflow tracking server http://127.0.0.1:9 (MLFLOW_TRACKING_URI) is unreachable")
    assert "Fix:" in result.stderr and "Traceback" not in result.stderr
    assert folder_bytes(project / "data" / "prepared") == before
