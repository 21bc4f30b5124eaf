"""The tune stage: a real Optuna study on a real SQLite / journal storage, trials trained through
the project's training loop, nested MLflow runs, resume after SIGKILL, parallel workers."""
import json
import os
import signal
import subprocess
import sys
import time

import mlflow
import optuna
import pytest
import sqlalchemy.exc
import yaml

from tests.conftest import env_for, make_project, mlflow_runs, run, write_params

pytestmark = pytest.mark.slow
TINY_SPACE = {
    "model.cell": {"type": "categorical", "choices": ["lstm", "gru"]},
    "model.embedding_dim": {"type": "int", "low": 8, "high": 16, "step": 8},
    "model.units": {"type": "int", "low": 4, "high": 8, "step": 4},
    "train.learning_rate": {"type": "float", "low": 0.003, "high": 0.01, "log": True},
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project copy with small prepared data (1,500 tweets), shared by the tests below."""
    project = make_project(tmp_path_factory.mktemp("tune") / "project")
    write_params(project / "params.yaml", data={"subsample": 1500, "vocab_size": 2000},
                 models={"lstm": {"embedding_dim": 8, "units": 8}},
                 tune={"n_trials": 3, "epochs_per_trial": 2, "space": TINY_SPACE})
    result = run(["python", "pipeline/prepare.py"], project)
    assert result.returncode == 0, result.stderr[-2000:]
    return project


def tune_params(project, name, **tune):
    """params-<name>.yaml: the project's params with tune.* changed and a storage of its own."""
    raw = yaml.safe_load((project / "params.yaml").read_text())
    raw["tune"].update({"storage": f"sqlite:///{project / 'tuning' / f'{name}.db'}", **tune})
    path = project / f"params-{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path, raw["tune"]["storage"]


def tune_cmd(params, name, *extra):
    return [sys.executable, "pipeline/tune.py", "--params", str(params), "--best", f"out/{name}/best.json",
            "--summary", f"out/{name}/tune.json", "--history", f"out/{name}/history.csv", *extra]


def trials(storage):
    (summary,) = optuna.get_all_study_summaries(storage)
    return optuna.load_study(study_name=summary.study_name, storage=storage).get_trials()


def states(all_trials):
    return [t.state.name for t in all_trials]


def test_three_trial_study_writes_outputs_and_nested_runs(project):
    params, storage = tune_params(project, "basic")
    result = run(tune_cmd(params, "basic"), project)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert result.stdout.count("tune: trial ") == 3  # one line per trial when not a terminal

    best = json.loads((project / "out/basic/best.json").read_text())
    metrics = json.loads((project / "out/basic/tune.json").read_text())
    done = trials(storage)
    assert sum(s in ("COMPLETE", "PRUNED") for s in states(done)) == 3
    assert metrics["trials"]["complete"] + metrics["trials"]["pruned"] == 3
    assert metrics["epochs_spent"] == sum(len(t.intermediate_values) for t in done)
    # Steps are epochs done (1, 2, ...), the unit of Hyperband's rungs, not Keras' 0-based index.
    assert all(sorted(t.intermediate_values) == list(range(1, len(t.intermediate_values) + 1))
               for t in done)
    winner = max((t for t in done if t.state.name == "COMPLETE"), key=lambda t: t.value)
    assert best["trial"] == winner.number and best["value"] == pytest.approx(winner.value)
    assert best["models"]["tuned"]["architecture"] == "rnn"
    assert best["models"]["tuned"]["units"] == winner.params["model.units"]
    assert best["train"]["learning_rate"] == pytest.approx(winner.params["train.learning_rate"])
    history = (project / "out/basic/history.csv").read_text().splitlines()
    assert history[0].startswith("trial,state,value,best_value,epochs") and len(history) == 4

    runs = mlflow_runs(project)
    (parent,) = [r for r in runs if r.data.tags.get("rnnops.stage") == "tune"]
    nested = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.info.status == "FINISHED" and len(nested) == 3
    assert {r.data.tags["optuna.state"] for r in nested} <= {"complete", "pruned"}
    for r in nested:
        assert "train.learning_rate" in r.data.params and "trial_seconds" in r.data.metrics
    artifacts = {a.path for a in mlflow.MlflowClient(
        f"sqlite:///{project / 'mlruns' / 'mlflow.db'}").list_artifacts(parent.info.run_id, "plots")}
    assert "plots/optimization_history.png" in artifacts

    again = run(tune_cmd(params, "basic"), project)  # resumes: the study is complete already
    assert again.returncode == 0 and "tune: trial " not in again.stdout
    assert len(trials(storage)) == len(done)


def test_bad_range_gets_pruned_trials(project):
    # Half the learning rates cannot learn anything in two epochs; the median pruner stops them.
    space = {**TINY_SPACE, "train.learning_rate": {"type": "categorical", "choices": [0.01, 1e-7]}}
    params, storage = tune_params(project, "bad", n_trials=6, space=space, pruner="median",
                                  startup_trials=1, sampler="random")
    result = run(tune_cmd(params, "bad"), project)
    assert result.returncode == 0, result.stderr[-3000:]
    done = trials(storage)
    pruned = [t for t in done if t.state.name == "PRUNED"]
    assert pruned, states(done)
    assert all(t.params["train.learning_rate"] == 1e-7 for t in pruned)


def test_sigkill_mid_trial_then_rerun_finishes_the_study(project):
    params, storage = tune_params(project, "kill", n_trials=3, epochs_per_trial=3, pruner="none",
                                  heartbeat_interval=1, grace_period=3)
    proc = subprocess.Popen(tune_cmd(params, "kill"), cwd=project, env=env_for(project),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # kill once the second trial is under way
            time.sleep(0.5)
            try:
                seen = trials(storage)
            except (ValueError, KeyError, sqlalchemy.exc.OperationalError):
                continue  # the study (or tuning/, which the stage creates for its database) is not there yet
            # a trial is training: it has sampled its hyperparameters (RUNNING alone may precede that)
            if states(seen).count("COMPLETE") >= 1 and any(t.state.name == "RUNNING" and t.params for t in seen):
                time.sleep(1)  # and its MLflow run has started
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    killed_runs = {r.info.run_id: r.info.run_name for r in mlflow_runs(project) if r.info.status == "RUNNING"}
    assert "tune" in killed_runs.values()  # the stage's run (and the trial's, once it had started)
    assert "RUNNING" in states(trials(storage))
    assert not (project / "out/kill/best.json").exists()

    result = run(tune_cmd(params, "kill"), project)
    assert result.returncode == 0, result.stderr[-3000:]
    done = trials(storage)
    assert states(done).count("COMPLETE") == 3 and "RUNNING" not in states(done)
    (killed,) = [t for t in done if t.state.name == "FAIL"]
    retried = [t for t in done if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retried) == 1 and retried[0].params == killed.params
    # the rerun ended the killed process's MLflow runs (stage and trial) as KILLED
    assert {r.info.run_id: r.info.status for r in mlflow_runs(project)
            if r.info.run_id in killed_runs} == dict.fromkeys(killed_runs, "KILLED")


def test_two_workers_on_one_journal_storage(project):
    params, _ = tune_params(project, "journal", n_trials=4, pruner="none",
                            storage="journal:tuning/journal.log")
    result = run(tune_cmd(params, "journal", "--workers", "2"), project)
    assert result.returncode == 0, result.stderr[-3000:]
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    storage = JournalStorage(JournalFileBackend(str(project / "tuning" / "journal.log")))
    done = trials(storage)
    finished = [t for t in done if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == 4 and "RUNNING" not in states(done)
    assert len({t.number for t in done}) == len(done)
    assert len({t.user_attrs["worker"] for t in finished}) == 2  # both processes ran trials


def test_bad_space_is_rejected_before_any_work(project):
    space = {**TINY_SPACE, "model.dropout": {"type": "float", "low": 0.5, "high": 1.5}}
    params, storage = tune_params(project, "invalid", space=space)
    result = run(tune_cmd(params, "invalid"), project)
    assert result.returncode == 2
    assert "tune.space.model.dropout" in result.stderr and "less than 1" in result.stderr
    assert not (project / "tuning" / "invalid.db").exists() and not (project / "out/invalid").exists()


def test_dvc_repro_tunes_and_trains_the_winner(project):
    result = run(["dvc", "repro", "train_tuned"], project)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    best = json.loads((project / "tuning" / "best_params.json").read_text())
    assert json.loads((project / "models/tuned/run.json").read_text())["training"]["architecture"] == "rnn"
    assert (project / "tuning/study.json").exists() and (project / "models/tuned/model.keras").exists()
    assert (project / "plots/train/tuned.csv").exists() and (project / "plots/tune/history.csv").exists()
    info = json.loads((project / "models/tuned/run.json").read_text())
    (tuned_run,) = [r for r in mlflow_runs(project) if r.info.run_id == info["run_id"]]
    assert tuned_run.data.params["models.tuned.cell"] == best["models"]["tuned"]["cell"]
    assert "didn't change" in run(["dvc", "repro", "train_tuned"], project).stdout
