"""Figures 9 and 10: the web console's answers over real HTTP, from a real
``radio-district web`` process (uvicorn), as a browser or a script gets them.

- ``GET /api/v1/stations`` and the fleet page (``GET /fleet``) for 10,000 stations with
  events and signed statuses: target 300 ms each.
- ``GET /api/v1/compliance`` and the compliance page for 1,000 communes over one month:
  target 1 s each.

The stores are the ones :mod:`bench.views` builds (shared cache, same sizes), so these
figures are the views' figures plus HTTP, auth, JSON or HTML. Each answer is timed on a
kept-alive connection with a bearer token, after one warm-up request; the median of the
runs is printed beside the target. The fleet page renders its first 200 rows on the
server (its script fills the rest from the API on its first poll).
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import REPO, Figure, median
from bench.report import build_store
from bench.views import COMPLIANCE_TARGET_S, FLEET_TARGET_S, MONTH, _add_statuses

PERIOD = f"from={MONTH[0]}&to={MONTH[1]}"


def _token(config_path: Path) -> str:
    """An API token of a district user ``bench`` (added once per store)."""
    from district_collector.accounts import service as accounts
    from district_collector.accounts.model import AccountError
    from district_collector.config import load_district_config
    from district_collector.store.opening import open_store

    config = load_district_config(config_path)
    with open_store(config) as store:
        try:
            accounts.create_user(store, config, "bench", "district", None, "bench-password-0123", "bench")
        except AccountError:
            pass  # made by an earlier run on this cached store
        return accounts.issue_token(store, "bench", None, "bench")


class Console:
    """``radio-district web`` on a free port for one store; ``close()`` ends it."""

    def __init__(self, config_path: Path, log_path: Path) -> None:
        from district_collector.admin.local_broker import free_port

        self.port = free_port()
        self.token = _token(config_path)
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "district_collector.cli", "-c", str(config_path), "web",
             "--listen", f"127.0.0.1:{self.port}"], stdout=self._log, stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")))
        deadline = time.monotonic() + 60
        while True:
            try:
                self.get("/healthz")
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError(f"the console did not start (see {log_path})") from None
                time.sleep(0.2)

    def get(self, path: str, conn: http.client.HTTPConnection | None = None) -> bytes:
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request("GET", path, headers={"Authorization": f"Bearer {self.token}"})
            answer = conn.getresponse()
            body = answer.read()
            if answer.status != 200:
                raise RuntimeError(f"GET {path}: HTTP {answer.status}: {body[:300]!r}")
            return body
        finally:
            if own:
                conn.close()

    def timed(self, path: str, runs: int) -> tuple[list[float], int]:
        """Seconds of ``runs`` GETs after one warm-up, and the answer's size in bytes."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            size = len(self.get(path, conn))
            samples = []
            for _ in range(runs):
                begin = time.perf_counter()
                self.get(path, conn)
                samples.append(time.perf_counter() - begin)
            return samples, size
        finally:
            conn.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def _figures(console: Console, what: list[tuple[str, str]], target: float, label: str,
             runs: int) -> list[Figure]:
    figures = []
    for name, path in what:
        samples, size = console.timed(path, runs)
        figures.append(Figure("web", f"{name}, {label}", "s", median(samples), target=target, runs=runs,
                              samples=samples, note=f"{size / 1000:,.0f} kB over HTTP"))
    return figures


def run(ctx: Any) -> list[Figure]:
    runs = 1 if ctx.quick else 5
    stations, per_year, communes = (200, 10, 50) if ctx.quick else (10000, 30, 1000)
    figures: list[Figure] = []
    root = ctx.workdir / f"views-fleet-{stations}x{per_year}"
    district = build_store(root, stations, per_year, ctx.log)
    _add_statuses(district, root / "collector.sqlite3")
    console = Console(district.config_path, ctx.workdir / "web-fleet.log")
    try:
        figures += _figures(console, [("GET /api/v1/stations", "/api/v1/stations"), ("GET /fleet page", "/fleet")],
                            FLEET_TARGET_S, f"{stations} stations", runs)
    finally:
        console.close()
    root = ctx.workdir / f"views-compliance-{communes}x365"
    district = build_store(root, communes, 365, ctx.log)
    console = Console(district.config_path, ctx.workdir / "web-compliance.log")
    try:
        figures += _figures(console, [("GET /api/v1/compliance", f"/api/v1/compliance?{PERIOD}"),
                                      ("GET /compliance page", f"/compliance?{PERIOD}")],
                            COMPLIANCE_TARGET_S, f"{communes} communes x {MONTH[0]:%Y-%m}", runs)
    finally:
        console.close()
    return figures
