"""MLflow tracking shared by every stage: one run per stage execution, one experiment per dataset.

Default store: SQLite at <repo>/mlruns/mlflow.db with artifacts under <repo>/mlruns/artifacts,
from absolute paths, so runs of `dvc exp run` in a temporary copy land in the project's store.
MLFLOW_TRACKING_URI overrides it (an MLflow server, another database).
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
from pathlib import Path
from typing import Iterator

from rnnops.errors import RnnopsError
from rnnops.project import flatten, git_commit, project_root


def default_uri() -> str:
    return f"sqlite:///{project_root() / 'mlruns' / 'mlflow.db'}"


def tracking_uri() -> str:
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    (project_root() / "mlruns").mkdir(parents=True, exist_ok=True)
    return default_uri()


def experiment_name(dataset: str) -> str:
    return f"rnnops-{dataset}"


# Marks a model-training experiment: MLflow 3's UI then offers the runs table (`runs_url` gives
# the link that opens it directly; the tag alone does not change a browser's remembered view).
TRAINING_KIND = {"mlflow.experimentKind": "custom_model_development"}


def _experiment_id(client, name: str, default_store: bool) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.tags.get("mlflow.experimentKind") != TRAINING_KIND["mlflow.experimentKind"]:
            client.set_experiment_tag(found.experiment_id, *next(iter(TRAINING_KIND.items())))
        return found.experiment_id
    # With the default SQLite store, artifacts go beside it (not to ./mlruns of whatever the cwd
    # is); a user's server or database decides its own artifact location.
    location = (project_root() / "mlruns" / "artifacts").as_uri() if default_store else None
    try:
        return client.create_experiment(name, artifact_location=location, tags=TRAINING_KIND)
    except Exception:  # created by a concurrent stage in the meantime
        return client.get_experiment_by_name(name).experiment_id


def is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail fast on an unreachable tracking server or refused credentials: MLflow's own client
    retries for minutes, and a 401 surfaces deep inside the first call that logs something."""
    if not is_server(uri):
        return
    import base64
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"{uri.rstrip('/')}/api/2.0/mlflow/experiments/search?max_results=1")
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user:
        token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            who = f"user '{user}'" if user else "no credentials"
            raise RnnopsError(
                f"MLflow tracking server {uri} refused {who} (HTTP {exc.code}). Fix: set "
                "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to an account of its "
                "basic-auth app (README: From one machine to a team).") from None
        return  # the server answers (a proxy without this endpoint, say): good enough
    except (OSError, ValueError) as exc:
        raise RnnopsError(f"MLflow tracking server {uri} (MLFLOW_TRACKING_URI) is unreachable "
                          f"({getattr(exc, 'reason', exc)}). Fix: start it, or unset "
                          "MLFLOW_TRACKING_URI to use the project's local store.") from None


# How long a stage waits for a tracking server that stops answering mid-stage, unless the user set
# MLflow's own variables: 4 retries, backoff 2 s doubling (about 30 s in all; MLflow's default
# of 7 retries waits about 4 minutes). Then the stage fails with ServerGone's message.
SERVER_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "4", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "2"}


def server_gone(exc: BaseException) -> bool:
    """Whether `exc` is MLflow's client giving up on an unreachable tracking server."""
    if not is_server(tracking_uri()):
        return False
    import requests

    if isinstance(exc, requests.exceptions.ConnectionError):
        return True
    text = str(exc)
    return text.startswith("API request to") and ("Max retries exceeded" in text or "Connection" in text)


def server_gone_error(stage: str, run_id: str | None, exc: BaseException) -> RnnopsError:
    detail = str(exc).splitlines()[0][:300]
    run = f"Its MLflow run {run_id} stays RUNNING on the server; the next stage run on this host " \
          "ends it as KILLED. " if run_id else ""
    return RnnopsError(
        f"the MLflow tracking server {tracking_uri()} stopped answering during stage {stage} ({detail}). "
        f"Nothing of this stage was written: DVC keeps dvc.lock and the previous outputs in its cache "
        f"(`dvc checkout` restores them). {run}Fix: restart the server (make mlflow-server), then run "
        "`dvc repro` again.")


def use_store(dataset: str) -> str:
    """Point MLflow at the project's store; returns the id of the dataset's experiment."""
    import mlflow

    check_reachable(tracking_uri())
    if is_server(tracking_uri()):
        for name, value in SERVER_RETRIES.items():
            os.environ.setdefault(name, value)

    # Read before set_tracking_uri: MLflow 3 also exports the URI it is given to the environment.
    default_store = os.environ.get("MLFLOW_TRACKING_URI") in (None, "", default_uri())
    mlflow.set_tracking_uri(tracking_uri())
    return _experiment_id(mlflow.MlflowClient(), experiment_name(dataset), default_store)


def runs_url(ui: str, experiment_id: str) -> str:
    """The MLflow UI page of an experiment's runs table ("Model training" view)."""
    return f"{ui.rstrip('/')}/#/experiments/{experiment_id}?workflowType=machine_learning"


def run_url(ui: str, experiment_id: str, run_id: str) -> str:
    """The MLflow UI page of one run."""
    return f"{ui.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def process_tags() -> dict[str, str]:
    """Who runs this: the host, the process id and its start time (pids are reused)."""
    return {"rnnops.host": socket.gethostname(), "rnnops.pid": str(os.getpid()),
            "rnnops.pid_start": _start_time(os.getpid()) or ""}


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), None if it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        pass
    try:  # no /proc (macOS): existence only
        os.kill(pid, 0)
        return ""
    except ProcessLookupError:
        return None
    except PermissionError:
        return ""


def _alive(tags: dict) -> bool:
    started = _start_time(int(tags["rnnops.pid"]))
    if started is None:
        return False
    return not (started and tags.get("rnnops.pid_start") and started != tags["rnnops.pid_start"])


def reap() -> list:
    """End as KILLED every RUNNING run of the project's experiments (`rnnops-*`) that was started
    on this host by a process that is gone (SIGKILL, OOM killer, power loss). Returns those runs.
    Runs of other hosts are left alone: their processes cannot be checked from here."""
    import mlflow

    client = mlflow.MlflowClient()
    experiments = [e.experiment_id for e in client.search_experiments(filter_string="name LIKE 'rnnops-%'")]
    if not experiments:
        return []
    host = socket.gethostname().replace("'", "")
    running = client.search_runs(experiments, f"attributes.status = 'RUNNING' and tags.`rnnops.host` = '{host}'",
                                 max_results=10_000)
    gone = [r for r in running if "rnnops.pid" in r.data.tags and not _alive(r.data.tags)]
    for r in gone:
        client.set_tag(r.info.run_id, "rnnops.reaped", "process gone")
        client.set_terminated(r.info.run_id, status="KILLED")
    return gone


def log_dataset_input(name: str, source: str, digest: str, context: str) -> None:
    """The stage's input data as an MLflow dataset input (the Runs table's Dataset column)."""
    import warnings

    import mlflow
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    with warnings.catch_warnings():  # a local path matches two equivalent source types
        warnings.simplefilter("ignore", UserWarning)
        resolved = resolve_dataset_source(source)
    dataset = MetaDataset(resolved, name=name, digest=digest[:16])
    mlflow.log_input(dataset, context=context)


class StageKilled(KeyboardInterrupt):
    """SIGTERM, turned into an exception so the run can be closed as KILLED."""


@contextlib.contextmanager
def stage_run(stage: str, dataset: str, params: dict | None = None, tags: dict | None = None,
              data: tuple[str, str, str, str] | None = None) -> Iterator["mlflow.ActiveRun"]:
    """An MLflow run for one stage execution, ended FINISHED, FAILED (exception) or KILLED
    (SIGTERM / Ctrl-C). A SIGKILL cannot be caught: the run carries its host and process id, and
    the next stage run of the project (or `rnnops runs reap`) ends it KILLED. `data` is the input
    dataset (name, source path or URI, digest, context) shown in the Runs table."""
    import mlflow

    experiment_id = use_store(dataset)
    for gone in reap():
        print(f"mlflow: run {gone.info.run_id[:12]} ({gone.info.run_name}) was left RUNNING by a "
              "process that is gone: ended as KILLED")
    dvc_stage = os.environ.get("DVC_STAGE", stage)
    commit = git_commit(Path.cwd())
    run_tags = {"rnnops.stage": stage, "dvc.stage": dvc_stage, "git.commit": commit,
                "mlflow.source.git.commit": commit, **process_tags()}
    if os.environ.get("DVC_EXP_NAME"):
        run_tags["dvc.exp_name"] = os.environ["DVC_EXP_NAME"]
    run = mlflow.start_run(experiment_id=experiment_id, run_name=dvc_stage, tags={**run_tags, **(tags or {})})

    def on_sigterm(signum, frame):
        raise StageKilled()

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    status, gone = "FAILED", None
    try:
        if params:
            mlflow.log_params(params)
        if data:
            log_dataset_input(*data)
        yield run
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    except Exception as exc:
        if not server_gone(exc):
            raise
        gone = exc
    finally:
        signal.signal(signal.SIGTERM, previous)
        if gone is not None:  # one wait for a dead server is enough: closing the run tries once
            os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
        try:
            mlflow.end_run(status=status)
        except Exception as exc:
            if not server_gone(exc):
                raise
            gone = gone or exc
    if gone is not None:  # the run could not be closed; the next stage run reaps it
        raise server_gone_error(dvc_stage, run.info.run_id, gone) from None


def log_metrics_tree(metrics: dict, prefix: str = "") -> None:
    """Log every number of a nested metrics dict under its dotted name."""
    import mlflow

    numbers = {k: float(v) for k, v in flatten(metrics, prefix).items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    mlflow.log_metrics({_metric_key(k): v for k, v in numbers.items()})


def _metric_key(key: str) -> str:
    # MLflow keys allow alphanumerics, _ - . / and space; class names may hold other characters.
    return "".join(ch if ch.isalnum() or ch in "_-./ " else "_" for ch in key)
