"""Figures 7 and 8: the web console's data, in-process as the web app calls it.

- ``fleet_json()`` (``fleet()`` as the JSON of ``GET /api/v1/stations``) for 10,000
  stations, each with events and a signed status: target 300 ms. "cold" is the first call
  of a process (every row built), "warm" the next ones (what a console polling the fleet
  sees: rows whose inputs did not change are kept).
- ``compliance()`` for 1,000 communes over one month (one airing a day each), with its
  JSON: target 1 s.

Stores are built once per size by :func:`bench.report.build_store` (really signed,
really chained events through the real store API) and cached in the bench work dir.
Baseline: the least the fleet must read, every latest status row (``SELECT * FROM status``).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bench.common import Figure, median
from bench.district import District
from bench.report import build_store

FLEET_TARGET_S = 0.3
COMPLIANCE_TARGET_S = 1.0
MONTH = (date(2025, 3, 1), date(2025, 3, 31))
NOW = datetime(2025, 3, 20, 3, 0, tzinfo=UTC)


def _add_statuses(district: District, db: Path) -> None:
    """One signed status per station (every tenth offline, every seventh missing media),
    stored once through ``add_batch`` (the status log fills with them)."""
    from district_collector.store.records import StatusRecord
    from district_collector.store.sqlite import SqliteStore
    from radio_protocol.messages.status import Status, build_status
    from radio_protocol.names import STATUS_TYP

    with SqliteStore(db) as store:
        if store.latest_statuses():
            return
        records = []
        for i, (sid, st) in enumerate(district.stations.items()):
            state = "offline" if i % 10 == 0 else "online"
            status = Status(sid, state, NOW, schedule_version=1, outbox_pending=0, clock_synced=True,
                            media_missing=("cds-2025-a",) if i % 7 == 0 else ())
            records.append(StatusRecord(sid, state, "2025-03-20T10:00:00.000+07:00",
                                        st.signer.sign(build_status(status), STATUS_TYP), NOW))
        store.add_batch([], statuses=records)


def _load_note() -> str:
    """The machine's load while measuring: these figures are wall times of one process."""
    return f"load avg {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def _timed(call: Callable[[], Any], runs: int) -> tuple[float, list[float]]:
    """(first call's seconds, the following calls' seconds)."""
    samples = []
    for _ in range(runs + 1):
        begin = time.perf_counter()
        call()
        samples.append(time.perf_counter() - begin)
    return samples[0], samples[1:]


def _fleet_figures(ctx: Any, stations: int, per_year: int, runs: int) -> list[Figure]:
    from district_collector.config import load_district_config
    from district_collector.store.opening import open_store
    from district_collector.views.fleet import fleet_json

    root = ctx.workdir / f"views-fleet-{stations}x{per_year}"
    district = build_store(root, stations, per_year, ctx.log)
    _add_statuses(district, root / "collector.sqlite3")
    config = load_district_config(district.config_path)
    store = open_store(config, read_only=True)
    try:
        def answer() -> str:
            return fleet_json(store, config, NOW)

        cold, warm = _timed(answer, runs)
    finally:
        store.close()
    db = sqlite3.connect(root / "collector.sqlite3")
    _, base = _timed(lambda: db.execute("SELECT * FROM status").fetchall(), runs)
    db.close()
    label = f"{stations} stations x {per_year} events"
    return [
        Figure("views", f"fleet + JSON, warm, {label}", "s", median(warm), target=FLEET_TARGET_S,
               baseline=median(base), baseline_name="SELECT * FROM status", runs=runs, samples=warm,
               note=_load_note()),
        Figure("views", f"fleet + JSON, cold (first call), {label}", "s", cold, target=FLEET_TARGET_S, runs=1,
               note=_load_note()),
    ]


def _compliance_figure(ctx: Any, communes: int, runs: int) -> Figure:
    from district_collector.config import load_district_config
    from district_collector.store.opening import open_store
    from district_collector.views.compliance import compliance

    root = ctx.workdir / f"views-compliance-{communes}x365"
    district = build_store(root, communes, 365, ctx.log)
    config = load_district_config(district.config_path)
    store = open_store(config, read_only=True)
    try:
        def answer() -> str:
            return json.dumps(compliance(store, config, *MONTH, now=NOW).as_json(), ensure_ascii=False)

        _, samples = _timed(answer, runs)
    finally:
        store.close()
    return Figure("views", f"compliance grid + JSON, {communes} communes x {MONTH[0]:%Y-%m} "
                  f"({communes * 31} airings)", "s", median(samples), target=COMPLIANCE_TARGET_S,
                  runs=runs, samples=samples, note=_load_note())


def run(ctx: Any) -> list[Figure]:
    runs = 1 if ctx.quick else 5
    if ctx.quick:
        return _fleet_figures(ctx, 200, 10, runs) + [_compliance_figure(ctx, 50, runs)]
    return _fleet_figures(ctx, 10000, 30, runs) + [_compliance_figure(ctx, 1000, runs)]
