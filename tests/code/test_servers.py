"""rnnops.servers without starting anything: the commands bind loopback, secrets stay out of argv and
in 0600 files, storages resolve like the tune stage's, and the tune params for workers validate."""
import configparser
import stat

import pytest

from rnnops import servers
from rnnops.errors import ParamsError, RnnopsError
from rnnops.servers.postgres import LocalPostgres, binaries
from tests.conftest import write_params


def test_mlflow_server_binds_loopback_and_keeps_the_database_password_out_of_argv():
    url = "postgresql+psycopg://postgres:s3cret@10.0.0.5:5432/mlflow"
    command, env = servers.mlflow_server_command(url, "/srv/artifacts")
    assert command == ["mlflow", "server", "--serve-artifacts", "--artifacts-destination", "/srv/artifacts",
                       "--host", "127.0.0.1", "--port", "5050"]
    assert env == {"MLFLOW_BACKEND_STORE_URI": url}
    auth, _ = servers.mlflow_server_command(url, "s3://bucket/mlflow", auth=True, extra=("--workers", "2"))
    assert auth[-4:] == ["--app-name", "basic-auth", "--workers", "2"] and "s3cret" not in " ".join(auth)


def test_optuna_dashboard_gets_the_password_through_pgpassword(tmp_path):
    command, env = servers.optuna_dashboard_command("postgresql+psycopg://team:p%40ss@db.internal:5432/optuna",
                                                    tmp_path, port=8090)
    assert command == ["optuna-dashboard", "postgresql+psycopg://team@db.internal:5432/optuna",
                       "--host", "127.0.0.1", "--port", "8090"]
    assert env == {"PGPASSWORD": "p@ss"}
    sqlite = f"sqlite:///{tmp_path}/tuning/optuna.db"
    assert servers.optuna_dashboard_command(sqlite, tmp_path) == (
        ["optuna-dashboard", sqlite, "--host", "127.0.0.1", "--port", "8080"], {})


def test_a_relative_journal_is_the_tune_stages_file(tmp_path):
    command, env = servers.optuna_dashboard_command("journal:tuning/journal.log", tmp_path)
    assert command[:4] == ["optuna-dashboard", str(tmp_path / "tuning" / "journal.log"), "--storage-class",
                           "JournalFileStorage"] and env == {}


def test_auth_config_and_its_secrets_are_private_and_stable(tmp_path):
    config = tmp_path / "servers" / "basic_auth.ini"
    password = servers.write_auth_config(config, "sqlite:////srv/users.db")
    assert len(password) >= 20
    parsed = configparser.ConfigParser()
    parsed.read(config)
    assert dict(parsed["mlflow"]) == {
        "default_permission": "READ", "database_uri": "sqlite:////srv/users.db", "admin_username": "admin",
        "admin_password": password, "authorization_function": "mlflow.server.auth:authenticate_request_basic_auth"}
    secret = config.with_name("basic_auth.ini.admin-password")
    for path in (config, secret):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert servers.write_auth_config(config, "sqlite:////srv/users.db") == password  # rewritten, same admin
    key = servers.secret_key(tmp_path / "key")
    assert servers.secret_key(tmp_path / "key") == key and stat.S_IMODE((tmp_path / "key").stat().st_mode) == 0o600


def test_missing_postgresql_binaries_name_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("PG_BIN", str(tmp_path / "nowhere"))
    with pytest.raises(RnnopsError) as error:
        LocalPostgres(tmp_path / "pg", 5999).start()
    assert str(error.value) == (f"PG_BIN={tmp_path / 'nowhere'} holds no pg_ctl. Fix: point PG_BIN at the folder "
                                "of PostgreSQL's server binaries (Debian: /usr/lib/postgresql/15/bin), or unset it.")
    assert not (tmp_path / "pg").exists()


def test_a_cluster_remembers_its_port(tmp_path):
    (tmp_path / "server.json").write_text('{"port": 6123}\n')
    assert LocalPostgres.at(tmp_path).port == 6123
    assert LocalPostgres.at(tmp_path, 7000).port == 7000
    assert LocalPostgres.at(tmp_path / "new").port == 5433


@pytest.mark.parametrize("tune, key", [({"workers": 0}, "tune.workers"), ({"threads_per_worker": 0}, "tune.threads_per_worker"),
                                       ({"workers": "two"}, "tune.workers")])
def test_worker_params_are_validated(tmp_path, tune, key):
    from rnnops.params.load import load_params

    with pytest.raises(ParamsError) as error:
        load_params(write_params(tmp_path / "params.yaml", tune=tune))
    assert key in str(error.value)


def test_worker_params_default_to_one_worker_and_all_cores(tmp_path):
    from rnnops.params.load import load_params

    tune = load_params(write_params(tmp_path / "params.yaml")).tune
    assert (tune.workers, tune.threads_per_worker) == (1, None)


@pytest.mark.parametrize("url, shown", [
    ("postgresql+psycopg://optuna:p%40ss@db:5432/optuna", "postgresql+psycopg://optuna:***@db:5432/optuna"),
    ("postgresql+psycopg://optuna@db/optuna", "postgresql+psycopg://optuna@db/optuna"),
    ("sqlite:////srv/optuna.db", "sqlite:////srv/optuna.db"), ("journal:tuning/j.log", "journal:tuning/j.log"),
    (None, None)])
def test_storage_urls_are_logged_without_their_password(url, shown):
    from rnnops.training.study import redacted

    assert redacted(url) == shown
