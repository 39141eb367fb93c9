"""A private PostgreSQL cluster for tests: initdb'd into a temporary directory and started on a
free port, so nothing depends on (or disturbs) a PostgreSQL service the machine may run."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql

USER = "floorwatch"


def find_bindir() -> Path:
    """The server binaries: pg_config's bindir if initdb is there, else Debian's newest
    /usr/lib/postgresql/<ver>/bin (Debian keeps initdb off PATH)."""
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        bindir = Path(out.stdout.strip())
        if out.stdout.strip() and (bindir / "initdb").is_file():
            return bindir
    except (OSError, subprocess.CalledProcessError):
        pass

    def version(bindir: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in bindir.parent.name.split(".") if p.isdigit())

    found = [d for d in Path("/usr/lib/postgresql").glob("*/bin") if (d / "initdb").is_file()]
    if not found:
        raise RuntimeError("no PostgreSQL server binaries (initdb) found: install Debian's "
                           "`postgresql` package (scripts/test does) or put pg_config on PATH")
    return max(found, key=version)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresCluster:
    """initdb + pg_ctl in `directory`, trust auth for user `floorwatch` on 127.0.0.1 only.

    As root, initdb and postgres refuse to run, so they run as the `postgres` system user in a
    directory of ours under /tmp (pytest's tmp dirs sit in a mode-700 /tmp/pytest-of-root that
    user cannot traverse); close() removes that directory.
    """

    def __init__(self, directory: Path, settings: dict[str, str] | None = None) -> None:
        self.directory = Path(directory)
        self.port = 0
        self.settings = settings or {}  # written to postgresql.conf before the first start
        self._bindir = find_bindir()
        self._as_root = os.geteuid() == 0
        self._started = False

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self._bindir / tool), *args]
        if self._as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, cwd=self.directory, capture_output=True, text=True)
        if done.returncode != 0:
            log = self.directory / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}{tail}")

    def start(self) -> PostgresCluster:
        self._make_directory()
        self._run("initdb", "-D", str(self.directory / "data"), "--auth=trust", "-U", USER, "-E", "UTF8",
                  "--no-locale")
        return self._configure_and_start()

    def start_standby_of(self, primary: PostgresCluster) -> PostgresCluster:
        """A streaming-replication standby of `primary` (pg_basebackup -R: a copy of its data that
        goes on receiving its WAL), started read-only on a port of its own."""
        self._make_directory()
        self._run("pg_basebackup", "-D", str(self.directory / "data"), "-h", "127.0.0.1", "-p", str(primary.port),
                  "-U", USER, "-X", "stream", "-R")
        return self._configure_and_start()

    def promote(self) -> None:
        """Make this standby the primary (what an operator or Patroni does when the primary is lost)."""
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-w", "promote")

    def _make_directory(self) -> None:
        if self._as_root:
            self.directory = Path(tempfile.mkdtemp(prefix="floorwatch-pg-", dir="/tmp"))
            self.directory.chmod(0o755)
            shutil.chown(self.directory, "postgres", "postgres")
        self.directory.mkdir(parents=True, exist_ok=True)

    def _configure_and_start(self) -> PostgresCluster:
        if self.settings:  # appended last, so they win over what initdb or the primary's copy set
            with (self.directory / "data" / "postgresql.conf").open("a") as conf:
                conf.writelines(f"{k} = '{v}'\n" for k, v in self.settings.items())
        for attempt in range(3):  # the free port may be taken between our probe and postgres' bind
            self.port = free_port()
            try:
                self.start_server()
                break
            except RuntimeError:
                if attempt == 2:
                    self.close()
                    raise
        return self

    def start_server(self) -> None:
        """Start the server (again, after stop_server: same data, same port)."""
        opts = (f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -F"
                " -c max_connections=300 -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-l", str(self.directory / "log"), "-w",
                  "start", "-o", opts)
        self._started = True

    def stop_server(self) -> None:
        """Stop the server as a crash would (-m immediate), keeping its data: a database outage."""
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", "immediate", "-w", "stop")
        self._started = False

    def url(self, dbname: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """A fresh, empty database (a copy of template1), or a copy of database `template` (which
        nobody may be connected to); returns its URL."""
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(query)
        return self.url(name)

    def close(self) -> None:
        """Stop at once (-m immediate: test data needs no clean shutdown)."""
        if self._started:
            self._started = False
            self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", "immediate", "-w", "stop")
        if self._as_root:
            shutil.rmtree(self.directory, ignore_errors=True)
