"""Figure 5 on PostgreSQL: the same report over the same events in the PostgreSQL store.

A throwaway server (:class:`bench.pg_server.BenchPgServer`, default durability settings)
per run. For each size of :mod:`bench.report`: the SQLite store that benchmark built (and
caches) is read back and its events stored again through the Store API
(:class:`~district_collector.store.postgres.PostgresStore` ``add_batch``, 5,000 a batch)
into a database the real ``radio-district db migrate`` created. Printed:

- the store's ingest rate (events/s through ``add_batch``) beside the server's raw INSERT
  rate of the same rows (``executemany`` INSERT into a table of the same columns with no
  key nor index, same batches: what PostgreSQL alone does on this machine);
- ``radio-district report --format json`` as a fresh process on PostgreSQL (median of
  runs), beside the same command on the SQLite store in the same run, and whether the two
  outputs are byte-identical.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from bench.common import PYTHON, Figure, bench_env, median, not_measured, run_measured
from bench.pg_server import BenchPgServer, bindir
from bench.report import PERIOD, TARGET_10K_S, build_store

BATCH = 5000
_RAW_COLUMNS = "station, seq, payload_sha256, jws, kid, received_at, source"


def _sqlite_events(db: Path) -> Any:
    """``(jws, kid, received_at, source)`` of every event of the SQLite store, in key order."""
    src = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        yield from src.execute("SELECT jws, kid, received_at, source FROM events ORDER BY station, seq")
    finally:
        src.close()


def load_pg(url: str, sqlite_db: Path) -> tuple[int, float, float, float]:
    """Store the SQLite store's events in PostgreSQL with the Store API; then the same rows
    with raw INSERTs, then with a raw COPY. ``(events, store events/s, raw INSERT rows/s,
    raw COPY rows/s)``, wall clock."""
    import psycopg

    from district_collector.store.postgres import PostgresStore
    from district_collector.store.records import StoredEvent
    from radio_protocol.timefmt import parse_rfc3339

    store = PostgresStore(url)
    total = 0
    store_s = 0.0
    batch: list[StoredEvent] = []
    raw_rows: list[tuple[Any, ...]] = []

    def flush() -> float:
        begin = time.monotonic()
        store.add_batch(batch)
        return time.monotonic() - begin

    try:
        for jws, kid, received_at, source in _sqlite_events(sqlite_db):
            ev = StoredEvent.from_jws(bytes(jws), kid, parse_rfc3339(received_at), source)
            batch.append(ev)
            raw_rows.append((ev.station, ev.seq, ev.payload_sha256, ev.jws, kid, received_at, source))
            if len(batch) >= BATCH:
                store_s += flush()
                total += len(batch)
                batch = []
        if batch:
            store_s += flush()
            total += len(batch)
    finally:
        store.close()
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE bench_raw_insert (station text, seq bigint, payload_sha256 text, jws bytea,"
                     " kid text, received_at text, source text)")
        conn.commit()
        begin = time.monotonic()
        for start in range(0, len(raw_rows), BATCH):
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO bench_raw_insert ({_RAW_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s)",
                                raw_rows[start:start + BATCH])
            conn.commit()
        raw_s = time.monotonic() - begin
        conn.execute("TRUNCATE bench_raw_insert")
        conn.commit()
        begin = time.monotonic()
        for start in range(0, len(raw_rows), BATCH):
            with conn.cursor() as cur, cur.copy(f"COPY bench_raw_insert ({_RAW_COLUMNS}) FROM STDIN") as copy:
                for row in raw_rows[start:start + BATCH]:
                    copy.write_row(row)
            conn.commit()
        copy_s = time.monotonic() - begin
        conn.execute("DROP TABLE bench_raw_insert")
        conn.commit()
    n = len(raw_rows)
    return total, total / max(store_s, 1e-9), n / max(raw_s, 1e-9), n / max(copy_s, 1e-9)


def pg_config(sqlite_config: Path, url: str) -> Path:
    """``district-pg.yaml`` beside ``sqlite_config``: the same file with ``database: url``."""
    text = sqlite_config.read_text(encoding="utf-8")
    text, n = re.subn(r"(?m)^database: .*$", f"database: {url}", text, count=1)
    if n != 1:
        raise RuntimeError(f"{sqlite_config}: no top-level database line")
    out = sqlite_config.with_name("district-pg.yaml")
    out.write_text(text, encoding="utf-8")
    return out


def _report_argv(config: Path) -> list[str]:
    return [PYTHON, "-m", "district_collector.cli", "-c", str(config), "report", "--format", "json",
            "--from", PERIOD[0], "--to", PERIOD[1]]


def run(ctx: Any) -> list[Figure]:
    if bindir() is None:
        return [not_measured("report_pg", "report --format json on PostgreSQL", "s",
                             "PostgreSQL is not installed (apt-get install postgresql)")]
    sizes = [(1000, 100), (10000, 10)] if not ctx.quick else [(50, 20)]
    if ctx.full:
        sizes = [(1000, 100), (10000, 100)]
    runs = 1 if ctx.quick else 3
    figures: list[Figure] = []
    server = BenchPgServer(ctx.workdir)
    try:
        for stations, per_year in sizes:
            root = ctx.workdir / f"report-{stations}x{per_year}"
            district = build_store(root, stations, per_year, ctx.log)
            label = f"{stations} stations x {per_year}/yr ({stations * per_year} events)"
            url = server.create_database(f"report_{stations}x{per_year}")
            config = pg_config(district.config_path, url)
            migrated = run_measured([PYTHON, "-m", "district_collector.cli", "-c", str(config), "db", "migrate"],
                                    env=bench_env())
            if migrated.returncode != 0:
                figures.append(not_measured("report_pg", f"PostgreSQL store, {label}", "s",
                                            "db migrate failed: " + migrated.stderr.decode(errors="replace")[-300:]))
                continue
            total, store_rate, raw_rate, copy_rate = load_pg(url, root / "collector.sqlite3")
            ctx.log(f"  report_pg: stored {total} events: {store_rate:.0f} ev/s (raw INSERT {raw_rate:.0f}/s,"
                    f" raw COPY {copy_rate:.0f}/s)")
            figures.append(Figure("report_pg", f"PostgreSQL store add_batch, {label}", "ev/s", store_rate,
                                  better="higher", baseline=raw_rate,
                                  baseline_name="raw INSERT, same rows, no key/index",
                                  note=f"5,000 a batch; raw COPY of the same rows {copy_rate:,.0f}/s"))
            pg_walls: list[float] = []
            sqlite_walls: list[float] = []
            pg_cpu: list[float] = []
            sqlite_cpu: list[float] = []
            outputs: set[bytes] = set()
            failed = ""
            for _ in range(runs):
                for cfg, walls, cpus in ((config, pg_walls, pg_cpu), (district.config_path, sqlite_walls, sqlite_cpu)):
                    used = run_measured(_report_argv(cfg), env=bench_env())
                    if used.returncode != 0:
                        failed = used.stderr.decode(errors="replace")[-300:]
                        break
                    walls.append(used.wall_s)
                    cpus.append(used.cpu_s)
                    outputs.add(used.stdout)
                if failed:
                    break
            if failed:
                figures.append(not_measured("report_pg", f"report --format json on PostgreSQL, {label}", "s",
                                            f"report failed: {failed}"))
                continue
            same = "identical" if len(outputs) == 1 else "DIFFERENT"
            figures.append(Figure("report_pg", f"report --format json on PostgreSQL, {label}", "s",
                                  median(pg_walls), target=TARGET_10K_S if stations >= 10000 else None,
                                  baseline=median(sqlite_walls), baseline_name="same report on SQLite, same run",
                                  runs=len(pg_walls), samples=pg_walls,
                                  note=f"output {same} to SQLite's; report process CPU {median(pg_cpu):.2f} s "
                                  f"(SQLite {median(sqlite_cpu):.2f} s; the server's CPU not counted)"))
    finally:
        server.stop()
    return figures
