"""A PostgreSQL cluster on 127.0.0.1 from the machine's own PostgreSQL binaries (Debian's
`postgresql` package): the database behind Optuna's study storage and MLflow's tracking server
on one machine, and the real server the tests run against.

Layout of `directory`: `password` (the `postgres` role's, mode 0600), `server.json` (the port),
`cluster/` (data, log and socket). PostgreSQL refuses to run as root, so as root the cluster
belongs to, and runs as, the `postgres` user (`runuser`); `cluster/` must then be reachable by it.
Connections need the password (scram-sha-256), and the server listens on loopback only.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from rnnops.errors import RnnopsError

OS_USER = "postgres"  # who runs the server when we are root


def binaries() -> Path:
    """The folder of pg_ctl/initdb: $PG_BIN, else PATH, else the newest /usr/lib/postgresql/*/bin."""
    if os.environ.get("PG_BIN"):
        folder = Path(os.environ["PG_BIN"])
        if not (folder / "pg_ctl").is_file():
            raise RnnopsError(f"PG_BIN={folder} holds no pg_ctl. Fix: point PG_BIN at the folder of "
                              "PostgreSQL's server binaries (Debian: /usr/lib/postgresql/15/bin), or unset it.")
        return folder
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if versions:
        return versions[-1].parent
    raise RnnopsError("no PostgreSQL server binaries (pg_ctl, initdb) found. Fix: install them "
                      "(Debian/Ubuntu: apt-get install postgresql) or set PG_BIN to their folder.")


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", OS_USER, "--", *command] if os.geteuid() == 0 else command


@dataclass
class LocalPostgres:
    directory: Path
    port: int = 5433

    @property
    def cluster(self) -> Path:
        return self.directory / "cluster"

    @property
    def password(self) -> str:
        return (self.directory / "password").read_text().strip()

    def url(self, database: str, driver: str = "postgresql+psycopg") -> str:
        """SQLAlchemy URL (what Optuna and `mlflow server` take); driver "postgresql" for libpq."""
        return f"{driver}://postgres:{quote(self.password, safe='')}@127.0.0.1:{self.port}/{database}"

    def running(self) -> bool:
        pid = self.cluster / "data" / "postmaster.pid"
        return pid.exists() and self._pg_ctl("status").returncode == 0

    def start(self) -> "LocalPostgres":
        """Initialise the cluster on first use, then start it (a no-op when it runs already)."""
        binaries()  # no binaries: say so before creating anything
        if not (self.cluster / "data" / "PG_VERSION").exists():
            self._init()
        self._remember_port()
        if self.running():
            return self
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.cluster}"
        result = self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.cluster / "server.log"), "-o", options)
        if result.returncode != 0:
            log = (self.cluster / "server.log")
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            raise RnnopsError(f"PostgreSQL in {self.cluster} did not start on 127.0.0.1:{self.port} "
                              f"({result.stderr.strip() or result.stdout.strip()}).\n{tail}\nFix: choose "
                              "another port (PG_PORT=...), or read the log above.")
        return self

    def stop(self) -> None:
        if self.running():
            self._pg_ctl("stop", "-w", "-m", "fast")

    def create_database(self, name: str) -> str:
        """Create database `name` unless it exists; returns its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(self.url("postgres", "postgresql"), autocommit=True) as connection:
            exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    @classmethod
    def at(cls, directory: Path, port: int | None = None) -> "LocalPostgres":
        """The cluster in `directory`, on `port`, else the port it last ran on, else 5433."""
        saved = directory / "server.json"
        if port is None and saved.exists():
            port = json.loads(saved.read_text())["port"]
        return cls(directory.resolve(), port or 5433)

    def _remember_port(self) -> None:
        (self.directory / "server.json").write_text(json.dumps({"port": self.port}) + "\n")

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess:
        command = _as_owner([str(binaries() / "pg_ctl"), "-D", str(self.cluster / "data"), *args])
        return subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)

    def _init(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.cluster.mkdir(mode=0o700, exist_ok=True)
        secret = self.directory / "password"
        if not secret.exists():
            secret.touch(mode=0o600)
            secret.write_text(secrets.token_urlsafe(24) + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.cluster, OS_USER, OS_USER)
            probe = subprocess.run(_as_owner(["test", "-w", str(self.cluster)]), capture_output=True)
            if probe.returncode != 0:
                raise RnnopsError(f"the {OS_USER} user cannot reach {self.cluster} (PostgreSQL does not run "
                                  f"as root). Fix: put the cluster in a folder every user can enter, e.g. "
                                  "PG_DIR=/var/tmp/rnnops-postgres.")
        pwfile = self.cluster / "initdb-password"  # initdb reads it as the server's user; removed below
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(pwfile, OS_USER, OS_USER)
        try:
            result = subprocess.run(_as_owner([str(binaries() / "initdb"), "-D", str(self.cluster / "data"),
                                               "-U", "postgres", "--auth=scram-sha-256", f"--pwfile={pwfile}",
                                               "-E", "UTF8", "--locale=C"]),
                                    capture_output=True, text=True, stdin=subprocess.DEVNULL)
        finally:
            pwfile.unlink()
        if result.returncode != 0:
            raise RnnopsError(f"initdb in {self.cluster} failed: {result.stderr.strip()[-1500:]}")
