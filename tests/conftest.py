"""Shared fixtures: the repo root, temporary project copies, a real MLflow store, shared data."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
BIN = Path(sys.executable).parent


def shared_file(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{path} is absent: this test needs the real datasets in ../shared/data")
    return path


def default_params() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def write_params(path: Path, **sections) -> Path:
    """params.yaml from the repo's defaults with `data={...}` etc. merged in; `models` replaces
    the default set, since only the listed models get stages."""
    params = default_params()
    for key, value in sections.items():
        if key != "models" and isinstance(value, dict) and isinstance(params.get(key), dict):
            params[key] = {**params[key], **value}
        else:
            params[key] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def env_for(project: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "MLFLOW_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = "rnnops tests"
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = "tests@rnnops.invalid"
    return env


def run(cmd: list[str], cwd: Path, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=kw.pop("env", None) or env_for(cwd), capture_output=True,
                          text=True, timeout=timeout, **kw)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh copy of the repository (code, params, DVC config) in its own git repo."""
    return make_project(tmp_path / "project")


def make_project(dest: Path, tasks: tuple[str, ...] = ()) -> Path:
    """A copy of the code and the text classification pipeline; `tasks` adds other tasks'
    pipeline folders (their dvc.yaml and params.yaml only, e.g. "forecast")."""
    dest.mkdir(parents=True)
    for task in tasks:
        (dest / task).mkdir()
        for name in ("dvc.yaml", "params.yaml"):
            shutil.copy2(REPO / task / name, dest / task / name)
    for name in ("pipeline", "src", "dvc.yaml", "params.yaml", "pyproject.toml", ".gitignore", ".dvcignore",
                 "Makefile", "scripts", "presets", "recipes"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif source.exists():
            shutil.copy2(source, dest / name)
    (dest / ".dvc").mkdir()
    for name in ("config", ".gitignore"):
        if (REPO / ".dvc" / name).exists():
            shutil.copy2(REPO / ".dvc" / name, dest / ".dvc" / name)
    shutil.copytree(REPO / ".dvc" / "plots", dest / ".dvc" / "plots")  # the plot templates
    (dest / "mlruns").mkdir()
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "copy"]):
        subprocess.run(cmd, cwd=dest, env=env_for(dest), check=True, capture_output=True)
    return dest


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, server: subprocess.Popen, timeout: float = 180) -> None:
    """Poll `url` until it answers; fail if the server exits or `timeout` seconds pass."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            assert time.monotonic() < deadline and server.poll() is None, f"{url} never answered"
            time.sleep(1)


def stop_server(server: subprocess.Popen) -> None:
    """End a server started with start_new_session=True: its whole process group (mlflow and the
    uvicorn it started), SIGKILL if SIGTERM is not enough."""
    import signal

    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def post_json(port: int, body: str, path: str = "/invocations") -> tuple[int, str]:
    """(status, body text) of a JSON POST to a local server, on a connection of its own."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("POST", path, body.encode(), {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def mlflow_runs(project: Path) -> list:
    """Every run in the project's default store (sqlite under mlruns/)."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
    experiments = client.search_experiments()
    if not experiments:
        return []
    return client.search_runs([e.experiment_id for e in experiments])


@pytest.fixture(scope="session")
def finished_project(tmp_path_factory):
    """The robustness tests' small profile after a full `dvc repro`: one pipeline run shared by
    the end-to-end modules that read it and by `two_runs` (tests/robustness/conftest.py). Tests
    that change it run after every reader (file order: e2e before robustness)."""
    from tests.robustness.conftest import small_project

    project = small_project(tmp_path_factory.mktemp("finished") / "project")
    result = run(["dvc", "repro"], project, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server (the machine's binaries, e.g. Debian's postgresql 15) on a free
    loopback port for the whole session, as `rnnops.servers.postgres.LocalPostgres`; stopped and
    removed at the end. Without server binaries the tests that need it skip, except under CI=true,
    where they fail (.ci/run installs the package)."""
    import tempfile

    from rnnops.errors import RnnopsError
    from rnnops.servers.postgres import LocalPostgres, binaries

    try:
        binaries()
    except RnnopsError as exc:
        if in_ci():
            pytest.fail(f"{exc} (under CI=true the PostgreSQL tests must run; .ci/run installs it)")
        pytest.skip(str(exc))
    # In /tmp, not pytest's 0700 tmp_path: as root the server runs as `postgres`, which must enter it.
    directory = Path(tempfile.mkdtemp(prefix="rnnops-pg-"))
    directory.chmod(0o755)
    cluster = LocalPostgres(directory, free_port()).start()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)
