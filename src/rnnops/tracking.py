"""MLflow tracking shared by every stage: one run per stage execution, one experiment per dataset.

Default store: SQLite at <repo>/mlruns/mlflow.db with artifacts under <repo>/mlruns/artifacts,
from absolute paths, so runs of `dvc exp run` in a temporary copy land in the project's store.
MLFLOW_TRACKING_URI overrides it (an MLflow server, another database).
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path
from typing import Iterator


def project_root() -> Path:
    """The DVC project: DVC_ROOT (set by DVC for stage commands, pointing at the original repo
    even for `dvc exp run --temp`), else the nearest folder above cwd that holds `.dvc/`."""
    if os.environ.get("DVC_ROOT"):
        return Path(os.environ["DVC_ROOT"]).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / ".dvc").is_dir():
            return folder
    return here


def default_uri() -> str:
    return f"sqlite:///{project_root() / 'mlruns' / 'mlflow.db'}"


def tracking_uri() -> str:
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    (project_root() / "mlruns").mkdir(parents=True, exist_ok=True)
    return default_uri()


def experiment_name(dataset: str) -> str:
    return f"rnnops-{dataset}"


def _experiment_id(client, name: str, default_store: bool) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    # With the default SQLite store, artifacts go beside it (not to ./mlruns of whatever the cwd
    # is); a user's server or database decides its own artifact location.
    location = (project_root() / "mlruns" / "artifacts").as_uri() if default_store else None
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:  # created by a concurrent stage in the meantime
        return client.get_experiment_by_name(name).experiment_id


def git_commit(cwd: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail fast on an unreachable tracking server: MLflow's own client retries for minutes."""
    if not uri.startswith(("http://", "https://")):
        return
    import urllib.error
    import urllib.request

    from rnnops.errors import RnnopsError

    try:
        urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout)
    except urllib.error.HTTPError:
        return  # the server answers (some servers have no /health): good enough
    except (OSError, ValueError) as exc:
        raise RnnopsError(f"MLflow tracking server {uri} (MLFLOW_TRACKING_URI) is unreachable "
                          f"({getattr(exc, 'reason', exc)}). Fix: start it, or unset "
                          "MLFLOW_TRACKING_URI to use the project's local store.") from None


def use_store(dataset: str) -> str:
    """Point MLflow at the project's store; returns the id of the dataset's experiment."""
    import mlflow

    check_reachable(tracking_uri())

    # Read before set_tracking_uri: MLflow 3 also exports the URI it is given to the environment.
    default_store = os.environ.get("MLFLOW_TRACKING_URI") in (None, "", default_uri())
    mlflow.set_tracking_uri(tracking_uri())
    return _experiment_id(mlflow.MlflowClient(), experiment_name(dataset), default_store)


class StageKilled(KeyboardInterrupt):
    """SIGTERM, turned into an exception so the run can be closed as KILLED."""


@contextlib.contextmanager
def stage_run(stage: str, dataset: str, params: dict | None = None,
              tags: dict | None = None) -> Iterator["mlflow.ActiveRun"]:
    """An MLflow run for one stage execution, ended FINISHED, FAILED (exception) or KILLED
    (SIGTERM / Ctrl-C), never left RUNNING."""
    import mlflow

    # Read before set_tracking_uri: MLflow 3 also exports the URI it is given to the environment.
    experiment_id = use_store(dataset)
    dvc_stage = os.environ.get("DVC_STAGE", stage)
    run_tags = {
        "rnnops.stage": stage,
        "dvc.stage": dvc_stage,
        "git.commit": git_commit(Path.cwd()),
        "mlflow.source.git.commit": git_commit(Path.cwd()),
    }
    if os.environ.get("DVC_EXP_NAME"):
        run_tags["dvc.exp_name"] = os.environ["DVC_EXP_NAME"]
    run = mlflow.start_run(experiment_id=experiment_id, run_name=dvc_stage, tags={**run_tags, **(tags or {})})

    def on_sigterm(signum, frame):
        raise StageKilled()

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    status = "FAILED"
    try:
        if params:
            mlflow.log_params(params)
        yield run
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        mlflow.end_run(status=status)


def log_metrics_tree(metrics: dict, prefix: str = "") -> None:
    """Log every number of a nested metrics dict under its dotted name."""
    import mlflow

    from rnnops.config import flatten

    numbers = {k: float(v) for k, v in flatten(metrics, prefix).items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    mlflow.log_metrics({_metric_key(k): v for k, v in numbers.items()})


def _metric_key(key: str) -> str:
    # MLflow keys allow alphanumerics, _ - . / and space; class names may hold other characters.
    return "".join(ch if ch.isalnum() or ch in "_-./ " else "_" for ch in key)
