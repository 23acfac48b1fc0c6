"""A REAL PostgreSQL for tests: one throwaway server per test session.

For every test that needs the PostgreSQL store (tests/conftest.py re-exports the fixtures):

- ``pg_server`` (session scope): a :class:`PgServer`, ``initdb`` in a temp dir (as the
  ``postgres`` user through ``runuser`` when the tests run as root: the server refuses
  root), listening on a free port of 127.0.0.1 with its Unix socket in the temp dir,
  trust authentication (except the role ``collector``, which needs
  its password over TCP: for the password file tests); stopped (``pg_ctl -m fast stop``) and removed at the end. Its
  ``template`` database holds nothing; ``pg_server.new_database()`` gives a fresh empty
  database's URL (``CREATE DATABASE ... TEMPLATE``, milliseconds).
- ``pg_url``: a fresh database's ``postgresql://`` URL per test.

The server binaries are Debian's ``postgresql`` package (``/usr/lib/postgresql/N/bin``).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from district_collector.admin.local_broker import free_port


def _bindir() -> Path:
    """The newest installed PostgreSQL server's bin directory."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not found:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    return found[-1].parent


class PgServer:
    """One running server; ``url(db)`` names a database on it."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pgtest-"))
        self.bindir = _bindir()
        self.port = free_port()
        self._as_root = os.geteuid() == 0
        self._counter = itertools.count(1)
        if self._as_root:
            shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        hba = self.data / "pg_hba.conf"  # the role "collector" must give its password (scram)
        hba.write_text(f"host all collector 127.0.0.1/32 scram-sha-256\n{hba.read_text()}")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                  "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300", "start")
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE template_test TEMPLATE template0 ENCODING 'UTF8'")

    def _run(self, tool: str, *args: str) -> None:
        argv = [str(self.bindir / tool), *args]
        if self._as_root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            log = self.dir / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr}\n{tail}")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self, template: str = "template_test") -> str:
        """A fresh database's URL: empty, or a copy of ``template`` (which nobody may be connected to)."""
        name = f"t{os.getpid()}_{next(self._counter)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = PgServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    return pg_server.new_database()
