"""`python -m rnnops.servers postgres start|stop|url`, `... mlflow`, `... optuna-ui`: the servers of
README's "From one machine to a team", bound to 127.0.0.1 unless --host says otherwise."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rnnops import servers
from rnnops.errors import RnnopsError, run_main
from rnnops.project import project_root


def postgres(args) -> None:
    cluster = servers.local_postgres()
    if args.action == "stop":
        cluster.stop()
        print(f"postgres: stopped ({cluster.cluster})")
        return
    if args.action == "start":
        cluster.start()
        print(f"postgres: running on 127.0.0.1:{cluster.port} (data in {cluster.cluster})")
    elif not cluster.running():
        raise RnnopsError(f"no PostgreSQL runs in {cluster.cluster}. Fix: make postgres")
    for database in args.databases:
        print(f"{database}: {cluster.create_database(database)}")


def mlflow(args) -> None:
    backend = args.backend_store_uri or os.environ.get("BACKEND_URI")
    if not backend:  # the project's own cluster, started on demand
        backend = servers.local_postgres().start().create_database("mlflow")
    artifacts = args.artifacts_destination or os.environ.get("ARTIFACTS") or str(project_root() / ".servers" / "mlartifacts")
    if not artifacts.partition("://")[1]:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if args.auth:
        config = Path(env.get("MLFLOW_AUTH_CONFIG_PATH") or project_root() / ".servers" / "basic_auth.ini")
        auth_db = env.get("AUTH_DB_URI") or f"sqlite:///{config.parent / 'basic_auth.db'}"
        servers.write_auth_config(config, auth_db)
        env["MLFLOW_AUTH_CONFIG_PATH"] = str(config)
        env.setdefault("MLFLOW_FLASK_SERVER_SECRET_KEY", servers.secret_key(config.with_name(config.name + ".secret-key")))
        print(f"mlflow: basic auth on; admin user '{servers.AUTH_ADMIN}', password in {config}.admin-password")
    command, secrets = servers.mlflow_server_command(backend, artifacts, args.host, args.port, args.auth,
                                                     tuple(args.extra))
    env.update(secrets)
    print(f"mlflow: tracking server on http://{args.host}:{args.port} (export MLFLOW_TRACKING_URI=http://"
          f"{args.host}:{args.port}); artifacts in {artifacts}", flush=True)
    os.execvpe(command[0], command, env)


def optuna_ui(args) -> None:
    storage = args.storage
    if not storage:
        from rnnops.params.load import load_params
        from rnnops.training.study import storage_url

        storage = storage_url(load_params(args.params).tune, project_root())
    from rnnops.training.study import journal_path

    missing = (Path(storage.removeprefix("sqlite:///")) if storage.startswith("sqlite:///")
               else journal_path(storage, project_root()) if storage.startswith("journal:") else None)
    if missing is not None and not missing.exists():
        raise RnnopsError(f"no study storage at {missing} yet. Fix: run the tune stage first (dvc repro tune)")
    command, secrets = servers.optuna_dashboard_command(storage, project_root(), args.host, args.port)
    print(f"optuna-ui: http://{args.host}:{args.port}/dashboard on {storage.split('@')[-1]}", flush=True)
    os.execvpe(command[0], command, {**os.environ, **secrets})


def listen_on(parser: argparse.ArgumentParser, port: int) -> None:
    """--host (loopback unless told otherwise) and --port of a server."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m rnnops.servers", description=__doc__)
    sub = parser.add_subparsers(dest="server", required=True)
    pg = sub.add_parser("postgres", help="the project's PostgreSQL cluster ($PG_DIR, default .servers/postgres)")
    pg.add_argument("action", choices=["start", "stop", "url"])
    pg.add_argument("databases", nargs="*", default=[], help="create these databases and print their URLs")
    pg.set_defaults(run=postgres)
    ml = sub.add_parser("mlflow", help="mlflow server: PostgreSQL backend, served artifacts")
    ml.add_argument("--backend-store-uri", help="default: $BACKEND_URI, else database mlflow of the local cluster")
    ml.add_argument("--artifacts-destination", help="folder or bucket; default: $ARTIFACTS, else .servers/mlartifacts")
    listen_on(ml, 5050)
    ml.add_argument("--auth", action="store_true", help="MLflow's basic-auth app (users, passwords, permissions)")
    ml.add_argument("extra", nargs="*", help="more `mlflow server` options, after --")
    ml.set_defaults(run=mlflow)
    ui = sub.add_parser("optuna-ui", help="optuna-dashboard on the study storage of params.yaml")
    ui.add_argument("--params", default="params.yaml")
    ui.add_argument("--storage", help="a storage URL instead of params' tune.storage")
    listen_on(ui, 8080)
    ui.set_defaults(run=optuna_ui)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    run_main(main)
    sys.exit(0)
