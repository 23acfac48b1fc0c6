"""Figure 5: ``radio-district report --format json`` over a year of airings.

The store is built once per size (and cached under the bench work directory) with the
real :class:`~district_collector.store.sqlite.SqliteStore` API from really signed, really chained
events (each station has its own Ed25519 key in the registry; a sample is checked with
the collector's own :class:`~district_collector.intake.ingest.Ingestor`). Signing runs on every
core. The measured command is the real CLI in a fresh process: wall seconds and peak RSS
(wait4), median over runs.

Baseline, same store, same run: the least any report must do, one SQLite pass reading
each event's JWS and decoding its payload (base64 + JSON), also in a fresh process.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import signal
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import PYTHON, REPO, Figure, bench_env, median, run_measured
from bench.district import DISTRICT, District, airing_payload, make_district
from radio_protocol.names import EVENT_TYP

if TYPE_CHECKING:
    from district_collector.store.records import StoredEvent

YEAR = 2025
PERIOD = ("2025-01-01", "2025-12-10")
TARGET_10K_S = 2.0
RECEIVED = datetime(YEAR, 12, 31, tzinfo=UTC)  # when the built store received its events

BASELINE = """
import base64, json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n = 0
for (jws,) in db.execute("SELECT jws FROM events ORDER BY station, seq"):
    p = json.loads(jws)["payload"]
    json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    n += 1
print(n)
"""


def _started_at(seq: int, per_year: int) -> str:
    day = date(YEAR, 1, 1) + timedelta(days=(seq - 1) * 364 // max(per_year, 1))
    return f"{day.isoformat()}T06:30:00.012+07:00"


def _worker_init() -> None:
    """Workers die quietly on the pool's SIGTERM (not bench.run's unwinding handler)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _sign_station(job: tuple[str, str, str, int]) -> list[StoredEvent]:
    """Sign one station's year: its event records (runs in a worker process)."""
    from district_collector.store.records import StoredEvent
    from radio_protocol.jose import (
        Signer,
        canonical_json,
        jwk_thumbprint,
        load_private_key,
        public_jwk,
        sha256_hex,
    )

    sid, commune, key_path, per_year = job
    key = load_private_key(Path(key_path))
    signer = Signer(key)
    kid = jwk_thumbprint(public_jwk(key.public_key()))
    rows: list[StoredEvent] = []
    prev: str | None = None
    for seq in range(1, per_year + 1):
        at = _started_at(seq, per_year)
        body = canonical_json(airing_payload(sid, commune, seq, prev, at))
        sha = sha256_hex(body)
        rows.append(StoredEvent.from_jws(signer.sign(body, EVENT_TYP), kid, RECEIVED, "mqtt"))
        prev = sha
    return rows


def _store_code_stamp() -> str:
    """A digest of the store's code: a cached store is rebuilt when its schema may differ."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "district_collector" / "store").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_store(root: Path, stations: int, per_year: int, log: Any) -> District:
    """The district and its store (reused when already built for this size)."""
    district = make_district(root, stations)
    done = root / "store.done"
    stamp = root / "store.stamp"
    db = root / "collector.sqlite3"
    if done.exists() and db.exists() and stamp.exists() and stamp.read_text() == _store_code_stamp():
        return district
    from district_collector.config import load_district_config
    from district_collector.intake.ingest import Ingestor
    from district_collector.store.sqlite import SqliteStore

    db.unlink(missing_ok=True)
    begin = time.monotonic()
    jobs = [(sid, st.commune, str(st.key_path), per_year) for sid, st in district.stations.items()]
    store = SqliteStore(db)
    checker = Ingestor(load_district_config(district.config_path), store)
    batch: list[StoredEvent] = []
    checked = False
    with multiprocessing.Pool(initializer=_worker_init) as pool:
        for records in pool.imap_unordered(_sign_station, jobs, chunksize=16):
            if not checked:  # the collector's own verification accepts what we store
                for rec in records[:3]:
                    again = checker.check_event(rec.jws, rec.station, "mqtt", RECEIVED)
                    assert again == rec, (again, rec)
                checked = True
            batch += records
            if len(batch) >= 20000:
                store.add_batch(batch)
                batch = []
    if batch:
        store.add_batch(batch)
    total = store.count_events()
    store.close()
    done.write_text(str(total))
    stamp.write_text(_store_code_stamp())
    log(f"  report: built store {stations} stations x {per_year} events = {total} events "
        f"in {time.monotonic() - begin:.0f} s ({db})")
    return district


def run(ctx: Any) -> list[Figure]:
    sizes = [(1000, 100), (10000, 10)] if not ctx.quick else [(50, 20)]
    if ctx.full:
        sizes = [(1000, 100), (10000, 100)]
    runs = 1 if ctx.quick else 3
    figures: list[Figure] = []
    for stations, per_year in sizes:
        root = ctx.workdir / f"report-{stations}x{per_year}"
        district = build_store(root, stations, per_year, ctx.log)
        events = stations * per_year
        argv = [PYTHON, "-m", "district_collector.cli", "-c", str(district.config_path), "report",
                "--format", "json", "--from", PERIOD[0], "--to", PERIOD[1]]
        walls: list[float] = []
        rss: list[float] = []
        base_walls: list[float] = []
        base_rss: list[float] = []
        for _ in range(runs):
            used = run_measured(argv, env=bench_env())
            if used.returncode != 0:
                figures.append(Figure("report", f"report json {stations} st x {per_year}", "s", None,
                                      note="not measured: report failed: "
                                      + used.stderr.decode(errors="replace")[-300:]))
                break
            walls.append(used.wall_s)
            rss.append(used.maxrss_mb)
            base = run_measured([PYTHON, "-c", BASELINE, str(root / "collector.sqlite3")])
            base_walls.append(base.wall_s)
            base_rss.append(base.maxrss_mb)
        else:
            label = f"{stations} stations x {per_year}/yr ({events} events)"
            target = TARGET_10K_S if stations >= 10000 else None
            figures.append(Figure("report", f"report --format json, {label}", "s", median(walls),
                                  target=target, baseline=median(base_walls),
                                  baseline_name="SQLite read + payload decode", runs=runs,
                                  samples=walls))
            figures.append(Figure("report", f"report peak RSS, {label}", "MB", median(rss),
                                  baseline=median(base_rss), baseline_name="SQLite read + decode",
                                  runs=runs, samples=rss))
    _ = DISTRICT
    return figures
