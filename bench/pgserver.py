"""A throwaway PostgreSQL for benchmarks (the shape of tests/pg_server.py, which the
benchmarks must not import): ``initdb`` in a temp dir (as ``postgres`` through
``runuser`` when run as root), a free port of 127.0.0.1, trust authentication, durable
commits as in production (``synchronous_commit`` on), removed by :meth:`PgBench.stop`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from district_collector.admin.local_broker import free_port


def available() -> bool:
    """Whether Debian's PostgreSQL server binaries and psycopg (the district extra) are installed."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return False
    return any(Path("/usr/lib/postgresql").glob("*/bin/initdb"))


class PgBench:
    """One running server; :meth:`database` gives a fresh migrated database's URL."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                       key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
        if not found:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bindir = found[-1].parent
        self.dir = Path(tempfile.mkdtemp(prefix="pgbench-"))
        self.port = free_port()
        self._as_root = os.geteuid() == 0
        self._count = 0
        if self._as_root:
            shutil.chown(self.dir, "postgres")
        data = self.dir / "data"
        self._run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8",
                  "--no-sync")
        self._run("pg_ctl", "-D", str(data), "-l", str(self.dir / "log"), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=100", "start")

    def _run(self, tool: str, *args: str) -> None:
        argv = [str(self.bindir / tool), *args]
        if self._as_root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()}")

    def database(self) -> str:
        """A fresh database with the current schema: its URL."""
        import psycopg

        from district_collector.store.migrations.runner import migrate

        self._count += 1
        name = f"bench{self._count}"
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql://postgres@127.0.0.1:{self.port}/{name}"
        with psycopg.connect(url) as conn:
            migrate(conn, url)
        return url

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
