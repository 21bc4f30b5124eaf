"""Tuning workers as separate processes on one study, on a real PostgreSQL server (the team set-up)
and on a journal file: exactly tune.n_trials finished trials with no duplicate or lost one; a worker
killed with SIGKILL mid-trial has its trial failed by the heartbeat and retried once with the same
hyperparameters; a worker started after the study is complete changes nothing; each worker's
TensorFlow threads are the machine's cores divided among the workers."""
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
import yaml

from rnnops.training.study import machine_cores
from tests.conftest import env_for, make_project, mlflow_runs, run, write_params
from tests.e2e.test_tune_stage import TINY_SPACE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project copy with small prepared data (1,500 tweets), shared by the tests below."""
    project = make_project(tmp_path_factory.mktemp("workers") / "project")
    write_params(project / "params.yaml", data={"subsample": 1500, "vocab_size": 2000},
                 models={"lstm": {"embedding_dim": 8, "units": 8}},
                 tune={"epochs_per_trial": 1, "pruner": "none", "space": TINY_SPACE})
    result = run(["python", "pipeline/prepare.py"], project)
    assert result.returncode == 0, result.stderr[-2000:]
    return project


def params_file(project, name, storage, **tune):
    raw = yaml.safe_load((project / "params.yaml").read_text())
    raw["tune"].update({"storage": storage, "study_name": name, **tune})
    path = project / f"params-{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def worker(project, params, workers):
    """`pipeline/tune.py --worker`, as on another machine: trials only, no stage outputs."""
    return subprocess.Popen([sys.executable, "pipeline/tune.py", "--params", str(params), "--worker",
                             "--workers", str(workers)], cwd=project, env=env_for(project),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def study_trials(storage, name):
    if storage.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        storage = JournalStorage(JournalFileBackend(storage.removeprefix("journal:")))
    return optuna.load_study(study_name=name, storage=storage).get_trials()


def snapshot(trials):
    return [(t.number, t.state.name, t.params, t.value, t.datetime_complete, t.user_attrs) for t in trials]


def trial_runs(project, study):
    return [r for r in mlflow_runs(project) if r.data.tags.get("optuna.study") == study
            and r.data.tags.get("rnnops.stage") == "tune.trial"]


OPEN_AT = """
import sys, time
from pathlib import Path
from rnnops.params.search_space import TuneParams
from rnnops.training.study import open_storage
import yaml
tune = TuneParams.model_validate(yaml.safe_load(Path(sys.argv[1]).read_text())["tune"])
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # all processes open the storage at once
open_storage(tune, Path.cwd())
"""


def test_workers_opening_an_empty_database_at_once_all_get_the_storage(project, postgres):
    """Each worker's first connection creates Optuna's tables; on an empty PostgreSQL database
    the losers of that race must retry, not fail (it failed 3 workers' test in CI once)."""
    for round_ in range(3):
        params = params_file(project, f"race{round_}", postgres.create_database(f"tune_race_{round_}"))
        start = time.time() + 8
        procs = [subprocess.Popen([sys.executable, "-c", OPEN_AT, str(params), str(start)], cwd=project,
                                  env=env_for(project), stderr=subprocess.PIPE, text=True) for _ in range(4)]
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0, 0], "\n".join(e[-1500:] for e in errors)


@pytest.fixture(scope="module")
def three_workers(project, postgres):
    """Three worker processes started together on one PostgreSQL study of 6 trials."""
    storage = postgres.create_database("tune_workers")
    params = params_file(project, "three", storage, n_trials=6)
    procs = [worker(project, params, 3) for _ in range(3)]
    outputs = [p.communicate(timeout=900) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, out[-2000:] + err[-3000:]
    return storage, params


def test_three_workers_on_postgresql_finish_exactly_n_trials(project, three_workers):
    storage, _ = three_workers
    trials = study_trials(storage, "three")
    finished = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == 6
    assert sorted(t.number for t in trials) == list(range(len(trials)))  # no duplicate number
    # Nothing lost: every other trial is one a worker opened after the last slot was taken.
    assert all(t.state.name == "FAIL" and t.user_attrs.get("surplus") for t in trials if t not in finished)
    workers = {t.user_attrs["worker"] for t in finished}
    assert 2 <= len(workers) <= 3  # several processes shared the study
    runs = trial_runs(project, "three")
    assert sorted(int(r.data.tags["optuna.trial"]) for r in runs if r.data.tags["optuna.state"] == "complete") \
        == sorted(t.number for t in finished)
    threads = max(1, machine_cores() // 3)
    assert {r.data.tags["rnnops.tf_threads"] for r in runs} == {f"{threads}/{threads}"}


def test_a_worker_started_after_the_study_is_complete_changes_nothing(project, three_workers):
    storage, params = three_workers
    before, runs_before = snapshot(study_trials(storage, "three")), len(mlflow_runs(project))
    late = worker(project, params, 1)
    out, err = late.communicate(timeout=300)
    assert late.returncode == 0, err[-3000:]
    assert "tune: study three already has 6 finished trials; nothing to do" in out
    assert snapshot(study_trials(storage, "three")) == before
    assert len(mlflow_runs(project)) == runs_before


def wait_until_training(storage, name, timeout=300):
    """The RUNNING trial once it has reported an epoch (it is mid-training), else fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            running = [t for t in study_trials(storage, name) if t.state.name == "RUNNING" and t.intermediate_values]
        except (KeyError, FileNotFoundError):  # the study (or the folder of its journal) is not there yet
            running = []
        if running:
            return running[0]
        time.sleep(0.3)
    pytest.fail("no trial started training")


@pytest.mark.parametrize("kind", ["postgresql", "journal"])
def test_sigkill_mid_trial_is_failed_by_the_heartbeat_and_retried_once(project, postgres, kind):
    storage = (postgres.create_database(f"tune_kill_{kind}") if kind == "postgresql"
               else f"journal:{project / 'tuning' / 'kill.log'}")
    name = f"kill-{kind}"
    params = params_file(project, name, storage, n_trials=2, epochs_per_trial=4, heartbeat_interval=1,
                         grace_period=3)
    victim = worker(project, params, 1)
    try:
        killed = wait_until_training(storage, name)
    finally:
        os.kill(victim.pid, signal.SIGKILL)
        victim.communicate()
    assert [t.state.name for t in study_trials(storage, name) if t.number == killed.number] == ["RUNNING"]

    survivor = worker(project, params, 1)
    out, err = survivor.communicate(timeout=600)
    assert survivor.returncode == 0, out[-2000:] + err[-3000:]
    trials = study_trials(storage, name)
    assert [t.state.name for t in trials if t.number == killed.number] == ["FAIL"]
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retries) == 1 and retries[0].state.name == "COMPLETE"
    assert retries[0].params == killed.params
    assert sum(t.state.name == "COMPLETE" for t in trials) == 2
    assert not [t for t in trials if t.state.name in ("RUNNING", "WAITING")]
