"""A throwaway PostgreSQL server for benchmarks (no pytest: ``tests/pg_server.py`` is
the tests' fixture of the same recipe).

``initdb`` in a temp dir (as the ``postgres`` user through ``runuser`` when run as root:
the server refuses root), a free port on 127.0.0.1, its Unix socket in the temp dir,
trust authentication; ``stop()`` stops it (``pg_ctl -m fast``) and removes the directory.
Durability settings are the server's defaults (fsync on, synchronous commit), so
timings are those of a real deployment's disk, not of a test server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from district_collector.admin.local_broker import free_port


def bindir() -> Path | None:
    """The newest installed PostgreSQL server's bin directory, or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else None


class BenchPgServer:
    """One running server; ``url(db)`` names a database on it; ``tool(name, ...)`` runs one
    of its client programs (``pgbench``, ``psql``) as the server's user."""

    def __init__(self, workdir: Path) -> None:
        found = bindir()
        if found is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bindir = found
        workdir.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="pgbench-", dir=workdir))
        self.port = free_port()
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        self.tool("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        self.tool("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-t", "120", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1", "start")

    def tool(self, name: str, *args: str, timeout_s: float = 600.0) -> str:
        """Run ``name`` from the server's bin directory; its stdout. RuntimeError on failure."""
        argv = [str(self.bindir / name), *args]
        if self._as_root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False,
                                cwd=self.dir)
        if result.returncode != 0:
            log = self.dir / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{name} failed ({result.returncode}): {result.stderr[-2000:]}\n{tail}")
        return result.stdout

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A fresh empty database ``name`` (dropped first if it exists); its URL."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\'')
        return self.url(name)

    def stop(self) -> None:
        try:
            self.tool("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
