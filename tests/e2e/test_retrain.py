"""The CI retraining job as `make retrain`, a local DVC remote round-trip, and the workflow files
checked by actionlint."""
import subprocess

import pytest

from tests.conftest import BIN, REPO, env_for, run
from tests.robustness.conftest import small_project

pytestmark = pytest.mark.slow


def test_workflows_pass_actionlint():
    files = sorted(str(p) for p in (REPO / ".github" / "workflows").glob("*.yml"))
    assert len(files) == 2
    result = subprocess.run([str(BIN / "actionlint"), *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def with_venv(project):
    """Share the repo's environment: its install stamp is newer than the copied pyproject.toml,
    so the Makefile's set-up step has nothing to do."""
    if not (project / ".venv").exists():
        (project / ".venv").symlink_to(REPO / ".venv")
    return project


def test_make_retrain_with_a_local_remote_round_trips(tmp_path):
    project = with_venv(small_project(tmp_path / "project"))
    remote = tmp_path / "remote"
    made = run(["make", "remote", f"URL={remote}"], project)
    assert made.returncode == 0, made.stdout + made.stderr
    run(["git", "commit", "-qam", "remote"], project)

    retrain = run(["make", "retrain"], project, timeout=900)
    assert retrain.returncode == 0, retrain.stdout[-3000:] + retrain.stderr[-3000:]
    assert "skipping pull and push" not in retrain.stdout
    assert (project / "retrain" / "metrics_diff.md").exists()
    assert (project / "retrain" / "outcome.env").read_text().strip() == "CHAMPION_CHANGED=true"
    assert any(remote.rglob("*")), "dvc push sent nothing"
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "retrained"], project)

    clone = tmp_path / "clone"
    assert run(["git", "clone", "-q", str(project), str(clone)], tmp_path).returncode == 0
    with_venv(clone)
    pulled = run(["dvc", "pull", "--run-cache"], clone)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert (clone / "data" / "prepared" / "spec.json").exists() and (clone / "models" / "lstm" / "model.keras").exists()
    status = run(["dvc", "status"], clone)
    assert "up to date" in status.stdout, status.stdout

    again = run(["make", "retrain"], project, timeout=900)
    assert again.returncode == 0 and "CHAMPION_CHANGED=false" in (project / "retrain" / "outcome.env").read_text()


def test_retrain_without_a_remote_skips_pull_and_push(tmp_path):
    project = with_venv(small_project(tmp_path / "project", tune={"n_trials": 1, "epochs_per_trial": 1,
                        "space": {"model.units": {"type": "int", "low": 4, "high": 8, "step": 4}}}))
    result = run(["bash", "scripts/retrain.sh"], project, timeout=900,
                 env={**env_for(project), "RETRAIN_OUT": "out"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "no DVC remote configured; skipping pull and push" in result.stdout
    assert (project / "out" / "outcome.env").exists()
