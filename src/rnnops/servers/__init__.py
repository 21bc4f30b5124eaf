"""The team's servers, started from the engines themselves: PostgreSQL (`postgres.py`), `mlflow server`
with a PostgreSQL backend and served artifacts, and `optuna-dashboard` on the study storage.
Everything binds to 127.0.0.1 unless told otherwise. `python -m rnnops.servers --help`; the
Makefile's `postgres`, `mlflow-server` and `optuna-ui` targets call it."""
from __future__ import annotations

import configparser
import os
import secrets
from pathlib import Path

from rnnops.project import project_root
from rnnops.servers.postgres import LocalPostgres

AUTH_ADMIN = "admin"


def local_postgres(directory: Path | None = None, port: int | None = None) -> LocalPostgres:
    """The project's own cluster: $PG_DIR or .servers/postgres, port $PG_PORT or the last one."""
    directory = directory or Path(os.environ.get("PG_DIR") or project_root() / ".servers" / "postgres")
    port = port or (int(os.environ["PG_PORT"]) if os.environ.get("PG_PORT") else None)
    return LocalPostgres.at(directory, port)


def mlflow_server_command(backend_uri: str, artifacts: str, host: str = "127.0.0.1", port: int = 5050,
                          auth: bool = False, extra: tuple[str, ...] = ()) -> tuple[list[str], dict[str, str]]:
    """(argv, environment) of `mlflow server` for a team: runs and the registry in `backend_uri`
    (PostgreSQL), artifacts uploaded to and downloaded through the server (`mlflow-artifacts:/`
    URIs, stored under `artifacts`, a folder or bucket), so clients need no access to the artifact
    store itself. The backend URI, password included, travels in the environment
    (MLFLOW_BACKEND_STORE_URI), not in the command line that `ps` shows every user."""
    command = ["mlflow", "server", "--serve-artifacts", "--artifacts-destination", artifacts,
               "--host", host, "--port", str(port)]
    if auth:
        command += ["--app-name", "basic-auth"]
    return command + list(extra), {"MLFLOW_BACKEND_STORE_URI": backend_uri}


def without_password(url: str) -> tuple[str, dict[str, str]]:
    """(URL without its password, {"PGPASSWORD": password}) for a PostgreSQL URL: libpq reads the
    password from the environment, which other users cannot see, unlike a process's arguments."""
    from sqlalchemy.engine import URL, make_url

    if not url.startswith("postgresql"):
        return url, {}
    parsed = make_url(url)
    if parsed.password is None:
        return url, {}
    bare = URL.create(parsed.drivername, parsed.username, None, parsed.host, parsed.port, parsed.database, parsed.query)
    return bare.render_as_string(hide_password=False), {"PGPASSWORD": parsed.password}


def write_auth_config(path: Path, database_uri: str, admin_password: str | None = None) -> str:
    """MLflow's basic-auth settings (users and permissions in `database_uri`; new users may read
    every experiment, nothing more) with an admin account. The admin password is generated unless
    given and kept beside it in `<path>.admin-password` (0600); returns it. MLflow reads the file
    named by MLFLOW_AUTH_CONFIG_PATH, and sets the admin password only on the first start."""
    secret = path.with_name(path.name + ".admin-password")
    if admin_password is None:
        admin_password = secret.read_text().strip() if secret.exists() else secrets.token_urlsafe(18)
    config = configparser.ConfigParser()
    config["mlflow"] = {"default_permission": "READ", "database_uri": database_uri,
                        "admin_username": AUTH_ADMIN, "admin_password": admin_password,
                        "authorization_function": "mlflow.server.auth:authenticate_request_basic_auth"}
    path.parent.mkdir(parents=True, exist_ok=True)
    for target, text in ((secret, admin_password + "\n"), (path, None)):
        target.touch(mode=0o600)
        with target.open("w") as handle:
            handle.write(text) if text else config.write(handle)
    return admin_password


def secret_key(path: Path) -> str:
    """The auth app's CSRF secret (MLFLOW_FLASK_SERVER_SECRET_KEY), generated once and kept in
    `path` (0600) so a restarted server, or a second one, accepts the same sessions."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def optuna_dashboard_command(storage: str, root: Path, host: str = "127.0.0.1",
                             port: int = 8080) -> tuple[list[str], dict[str, str]]:
    """(argv, environment) of `optuna-dashboard` on a study storage URL; a `journal:<file>` storage
    is passed as its file, resolved as the tune stage resolves it (relative to the project)."""
    from rnnops.training.study import journal_path

    if storage.startswith("journal:"):
        path = journal_path(storage, root)
        return ["optuna-dashboard", str(path), "--storage-class", "JournalFileStorage",
                "--host", host, "--port", str(port)], {}
    url, env = without_password(storage)
    return ["optuna-dashboard", url, "--host", host, "--port", str(port)], env
