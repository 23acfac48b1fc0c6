"""The district's services for the demo: Mosquitto, the media HTTP server, the collector.

Each is started as the district server would run it (Mosquitto with the config
``radio-district broker-config`` wrote; ``radio-district run``), as a child in the demo's
:class:`~demo.procs.ProcessSet`; the media server is Python's ``http.server`` on 127.0.0.1
in a thread of the demo, serving the district's media directory read-only.
"""

from __future__ import annotations

import functools
import json
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from demo.district import DemoError, Paths, cli
from demo.procs import ProcessSet
from district_collector.admin.local_broker import BrokerStartError, wait_listening
from radio_protocol.jose import parse_jws


def wait_port(port: int, timeout_s: float, what: str) -> None:
    try:
        wait_listening(port, timeout_s, what)
    except BrokerStartError as exc:
        raise DemoError(str(exc)) from exc


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return


class MediaServer:
    """``http.server`` on 127.0.0.1 serving one directory (the district's media)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port: int = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="media-http", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def start_broker(procs: ProcessSet, paths: Paths, port: int) -> None:
    """Mosquitto with the broker-config directory's config; returns once ``port`` (the
    stations' listener; Mosquitto opens the collector's at the same time) accepts connections."""
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    procs.start("mosquitto", [mosquitto, "-c", str(paths.broker_dir / "mosquitto.conf")])
    wait_port(port, 10, "mosquitto")


def start_collector(procs: ProcessSet, paths: Paths, env: dict[str, str]) -> None:
    procs.start("collector", [*cli("radio-district"), "-c", str(paths.district_yaml), "run"], env=env)


class CollectorView:
    """Read-only look into the collector's SQLite store (WAL: safe while it runs)."""

    def __init__(self, database: Path) -> None:
        self.database = database

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=5)
        try:
            yield conn
        finally:
            conn.close()

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if not self.database.exists():
            return []
        try:
            with self._conn() as conn:
                return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError:
            return []  # not created yet

    def event_counts(self) -> dict[str, int]:
        return {station: count for station, count in
                self._query("SELECT station, COUNT(DISTINCT seq) FROM events GROUP BY station")}

    def outcomes(self, station: str) -> dict[tuple[str, str | None], int]:
        rows = self._query("SELECT jws FROM events WHERE station=?", (station,))
        out: dict[tuple[str, str | None], int] = {}
        for (jws,) in rows:
            payload = json.loads(parse_jws(bytes(jws))[2])
            key = (str(payload.get("outcome")), payload.get("reason"))
            out[key] = out.get(key, 0) + 1
        return out

    def status(self, station: str) -> dict[str, Any] | None:
        rows = self._query("SELECT jws FROM status WHERE station=?", (station,))
        if not rows:
            return None
        payload: dict[str, Any] = json.loads(parse_jws(bytes(rows[0][0]))[2])
        return payload

    def schedule_payloads(self) -> dict[str, dict[str, Any]]:
        rows = self._query("SELECT station, jws FROM schedules s WHERE version = "
                           "(SELECT MAX(version) FROM schedules t WHERE t.station = s.station)")
        return {station: json.loads(parse_jws(bytes(jws))[2]) for station, jws in rows}


def outbox_last_seq(data_dir: Path) -> int:
    """The highest seq in a (stopped) station's outbox."""
    path = data_dir / "outbox.sqlite"
    if not path.exists():
        return 0
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as conn:
        row = conn.execute("SELECT MAX(seq) FROM events").fetchone()
    return int(row[0] or 0)
