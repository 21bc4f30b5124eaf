"""The Optuna study of the `tune` stage: storage, sampler, pruner, and the worker loop.

Trials train through `rnnops.training.fit.fit_model`, the loop of every train@<arch> stage. A study is
persistent and resumable: re-running the stage loads it, and the number of finished trials
(complete + pruned) across runs and worker processes is capped at `tune.n_trials`. A trial whose
worker died (SIGKILL, lost machine) stops sending heartbeats; after `tune.grace_period` seconds it
is failed and retried with the same hyperparameters, so a study never ends with RUNNING trials.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
import time
from pathlib import Path
from typing import Callable

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from rnnops.params.load import Params
from rnnops.params.search_space import TuneParams

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
# The heartbeat and retry API is marked experimental; our lines per trial replace Optuna's log.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
optuna.logging.set_verbosity(optuna.logging.WARNING)
HEARTBEAT_ATTR = "rnnops.heartbeat"


class SurplusTrial(Exception):
    """A trial started by a worker after other workers had already taken the last slots."""


def storage_url(tune: TuneParams, root: Path) -> str:
    return tune.storage or f"sqlite:///{root / 'tuning' / 'optuna.db'}"


def redacted(url: str | None) -> str | None:
    """A storage URL fit to log (MLflow params, messages): its password replaced by ***."""
    if not url or url.startswith(("journal:", "sqlite")):
        return url
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: show no part of it after the scheme
        return url.split("://", 1)[0] + "://***"


def journal_path(url: str, root: Path) -> Path:
    """The file of a `journal:<file>` storage; a relative one lives under the project `root`."""
    path = Path(url.removeprefix("journal:")).expanduser()
    return path if path.is_absolute() else root / path


def open_storage(tune: TuneParams, root: Path):
    """An Optuna storage from `tune.storage`: an RDB URL (sqlite, postgresql, mysql) with Optuna's
    heartbeat, or `journal:<file>` (several processes on one machine; heartbeat by rnnops)."""
    url = storage_url(tune, root)
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path = journal_path(url, root)
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # SQLite allows one writer at a time: wait for the lock instead of failing a trial.
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None
    import random

    import sqlalchemy.exc

    for attempt in range(6):
        try:
            return optuna.storages.RDBStorage(
                url, engine_kwargs=engine, heartbeat_interval=tune.heartbeat_interval, grace_period=tune.grace_period,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(tune.max_retry))
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            # Workers started together on an empty database all create Optuna's tables; on
            # PostgreSQL all but one fail on the catalogue's unique keys. Once one has created
            # them, opening again finds them. (Seen with 3 workers in tests/e2e/test_tune_workers.py.)
            if attempt == 5:
                raise
            time.sleep(0.5 + random.random())


def study_name(params: Params, dataset_fingerprint: str) -> str:
    """<dataset>-<hash of what makes trials comparable>: same data and space -> same study."""
    if params.tune.study_name:
        return params.tune.study_name
    identity = {"data": dataset_fingerprint, "seed": params.seed, "train": params.train.model_dump(),
                "tune": params.tune.model_dump(include={"architecture", "base", "epochs_per_trial",
                                                        "metric", "direction", "space"})}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
    return f"{dataset_fingerprint.split(':')[0]}-{digest[:12]}"


def open_study(params: Params, name: str, storage, worker: int = 0) -> optuna.Study:
    tune = params.tune
    # Warm-up trials of TPE are random; seeding them by (seed, worker, trials so far) keeps a rerun
    # or a second worker from proposing the very same configurations again.
    try:
        done = len(optuna.load_study(study_name=name, storage=storage).trials)
    except KeyError:
        done = 0
    seed = (params.seed * 1_000_003 + worker * 7919 + done) % 2**31
    if tune.sampler == "tpe":
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(2, tune.n_trials // 3)))
    else:
        sampler = optuna.samplers.RandomSampler(seed=seed)
    pruner = {
        "hyperband": lambda: optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=tune.epochs_per_trial * (params.train.folds if tune.cross_validate else 1),
            reduction_factor=3),
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=tune.startup_trials,
                                                      n_warmup_steps=0),
        "none": optuna.pruners.NopPruner,
    }[tune.pruner]()
    return optuna.create_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner,
                               direction=tune.direction, load_if_exists=True)


def machine_cores() -> int:
    """Cores this process may run on (a container's or taskset's share, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def limit_threads(tune: TuneParams, workers: int) -> str:
    """Cap TensorFlow's intra- and inter-op thread pools of this worker process at
    tune.threads_per_worker, or cores // workers: N workers with TensorFlow's default (every core
    each) would oversubscribe the machine. One worker with no setting keeps TensorFlow's default
    (all cores), which is the same count. Must run before TensorFlow runs its first op.
    Returns "<intra>/<inter>" as TensorFlow reports it (0 = TensorFlow's default)."""
    import tensorflow as tf

    threads = tune.threads_per_worker or (max(1, machine_cores() // workers) if workers > 1 else None)
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    return (f"{tf.config.threading.get_intra_op_parallelism_threads()}/"
            f"{tf.config.threading.get_inter_op_parallelism_threads()}")


def finished(study: optuna.Study) -> int:
    c = counts(study)
    return c["complete"] + c["pruned"]


def counts(study: optuna.Study) -> dict[str, int]:
    states = [t.state for t in study.get_trials(deepcopy=False)]
    return {s.name.lower(): states.count(s) for s in TrialState}


def check_not_surplus(study: optuna.Study, trial: optuna.Trial, n_trials: int) -> None:
    """Trial numbers are unique and ordered: the first n_trials live ones win the race."""
    ahead = [t for t in study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING))
             if t.state in FINISHED or t.number < trial.number]
    if len(ahead) >= n_trials:
        trial.set_user_attr("surplus", True)
        raise SurplusTrial(f"trial {trial.number}: the study already has {n_trials} trials")


def fail_stale_trials(study: optuna.Study, tune: TuneParams) -> None:
    """Fail RUNNING trials without a recent heartbeat and queue their retry."""
    optuna.storages.fail_stale_trials(study)  # RDB storages: Optuna's own heartbeat
    if isinstance(study._storage, optuna.storages.RDBStorage):
        return
    now = time.time()
    retry = RetryHeartbeatStaleTrialCallback(tune.max_retry)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        last = trial.user_attrs.get(HEARTBEAT_ATTR, trial.datetime_start.timestamp())
        if now - last > tune.grace_period:
            try:
                if study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                    retry(study, study._storage.get_trial(trial._trial_id))
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # another worker failed it first


class Heartbeat:
    """For storages without Optuna's heartbeat (journal files): a thread stamping the trial."""

    def __init__(self, study: optuna.Study, trial: optuna.Trial, interval: int):
        self.active = not isinstance(study._storage, optuna.storages.RDBStorage)
        self.trial, self.interval, self.stop = trial, interval, threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self):
        while not self.stop.is_set():
            try:
                self.trial.set_user_attr(HEARTBEAT_ATTR, time.time())
            except optuna.exceptions.UpdateFinishedTrialError:
                return
            self.stop.wait(self.interval)

    def __enter__(self):
        if self.active:
            self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        if self.active:
            self.thread.join()


def run_worker(study: optuna.Study, objective: Callable, tune: TuneParams,
               on_trial: Callable | None = None, poll: float = 1.0) -> None:
    """Run trials until the study holds n_trials finished ones (or tune.timeout passes)."""
    deadline = time.monotonic() + tune.timeout if tune.timeout else None
    callbacks = [on_trial] if on_trial else []
    while True:
        fail_stale_trials(study, tune)
        c = counts(study)
        finished = c["complete"] + c["pruned"]
        if finished >= tune.n_trials or (deadline and time.monotonic() > deadline):
            return
        if finished + c["running"] >= tune.n_trials:
            # Other workers hold the last trials: wait until they finish or go stale.
            time.sleep(poll)
            continue
        study.optimize(objective, n_trials=1, catch=(SurplusTrial,), callbacks=callbacks,
                       gc_after_trial=True)
