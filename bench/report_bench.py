"""Benchmark of the broadcast-frequency report (not a test: timings depend on the machine).

``python -m bench.report_bench build --db PATH [--stations 1000] [--per-station 100]``
    builds a real SQLite store with the real :class:`~district_collector.store.sqlite.SqliteStore`
    API from really signed, chained events (each station its own key, derived from a
    fixed seed so the registry can be rebuilt; about 5% of the events are excluded
    ones: another programme or an interrupted airing). Signing runs on every core.
``python -m bench.report_bench config --db PATH [--stations 1000]``
    writes ``district.yaml`` (and a district key) next to the store, for timing the real
    CLI: ``radio-district -c DIR/district.yaml report --format json --from 2024-01-01
    --to 2024-12-10``; ``--json`` writes ``district.json`` instead (the same config as a
    JSON document, which the loader reads with ``json``: ~2 s less for 10,000 stations).
``python -m bench.report_bench time --db PATH [--stations 1000] [--runs 3] [--memory] [--only]``
    times the ``report`` path over that store: open, read, score (median of runs), the
    same with the events' JWS (what ``evidence`` reads: ``commands_report.compute``),
    and the JSON output (compact ``json.dumps`` without the airings list, as ``report
    --format json`` prints it, and with them, ``--airings``); ``--memory`` adds one run under tracemalloc for the peak,
    ``--only`` times read+score alone (run it under ``/usr/bin/time -v`` for peak RSS).
    The code before the fast path is measured by running this file with the old tree
    first on ``PYTHONPATH`` (it falls back to the old API).

Targets: 1,000 stations x 100 events well under a few seconds (aim < 1 s);
10,000 stations x 100 events (1M) <= 2 s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import statistics
import time
import tracemalloc
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.district import airing_event
from district_collector.registry import Registry
from district_collector.scoring.compute import Period
from district_collector.store.records import StoredEvent
from district_collector.store.sqlite import SqliteStore
from radio_protocol.jose import Signer, canonical_json, sha256_hex
from radio_protocol.messages.event import Amp, Segment, build_event
from radio_protocol.names import EVENT_TYP

TZ = "Asia/Ho_Chi_Minh"
SEED = bytes(range(32))
PERIOD = ("2024-01-01", "2024-12-10")
RECEIVED = datetime(2024, 12, 11, tzinfo=UTC)  # when the built store received its events


def _signer(station: int) -> Signer:
    """Station ``station``'s own key, derived from a fixed seed (the registry is rebuilt
    without keeping key files; a district config allows no key shared by two stations)."""
    return Signer(Ed25519PrivateKey.from_private_bytes(hashlib.sha256(SEED + station.to_bytes(4, "big")).digest()))


def _registry(n: int) -> Registry:
    return Registry.build("kon-ray", "Huyện Kon Rẫy", TZ, [],
                          [(f"st-{i:05d}", str(20000 + i // 2), f"Xã {i // 2}", "commune", [_signer(i).public_jwk])
                           for i in range(n)])


def _started_at(seq: int, per_station: int) -> str:
    day = date(2024, 1, 1) + timedelta(days=(seq - 1) * 364 // max(per_station, 1))
    return f"{day.isoformat()}T06:30:00.012+07:00"


def _sign_station(job: tuple[int, int]) -> list[StoredEvent]:
    i, per_station = job
    signer = _signer(i)
    sid, commune = f"st-{i:05d}", str(20000 + i // 2)
    out: list[StoredEvent] = []
    prev: str | None = None
    for seq in range(1, per_station + 1):
        at = _started_at(seq, per_station)
        program = "tin-tuc" if (i + seq) % 40 == 0 else "chuyen-doi-so"
        outcome = "interrupted" if (i + seq) % 37 == 0 else "completed"
        event = airing_event(sid, commune, seq, prev, at, outcome=outcome)
        payload = build_event(replace(event, segment=Segment("cds", "Chuyển đổi số", program),
                                      schedule_version=None, played_s=300.0, media_s=300.0,
                                      amp=Amp(), level=None, boot_id="b"))
        body = canonical_json(payload)
        sha = sha256_hex(body)
        out.append(StoredEvent.from_payload(signer.sign(body, EVENT_TYP), payload, sha, signer.kid, RECEIVED,
                                            "bench"))
        prev = sha
    return out


def build(db: Path, stations: int, per_station: int) -> None:
    db.unlink(missing_ok=True)
    t0 = time.perf_counter()
    store = SqliteStore(db)
    batch: list[StoredEvent] = []
    with multiprocessing.Pool() as pool:
        for records in pool.imap(_sign_station, [(i, per_station) for i in range(stations)], chunksize=16):
            batch += records
            if len(batch) >= 20000:
                store.add_batch(batch)
                batch = []
    if batch:
        store.add_batch(batch)
    print(f"built {store.count_events()} events in {time.perf_counter() - t0:.1f} s: {db}")
    store.close()


def write_config(db: Path, stations: int, as_json: bool = False) -> Path:
    """``district.yaml`` for the store at ``db`` (the registry :func:`_registry` builds);
    ``district.json`` (the same document as JSON, which is YAML too and loads ~30x faster)
    with ``as_json``."""
    import yaml

    from radio_protocol.jose import load_or_create_private_key

    key = db.parent / "district.key"
    load_or_create_private_key(key)
    cfg = {"district": {"id": "kon-ray", "name": "Huyện Kon Rẫy", "timezone": TZ},
           "database": str(db.resolve()), "signing_key": str(key.resolve()),
           "stations": [{"id": f"st-{i:05d}", "commune": {"code": str(20000 + i // 2), "name": f"Xã {i // 2}"},
                         "level": "commune", "keys": [_signer(i).public_jwk]} for i in range(stations)]}
    if as_json:
        path = db.parent / "district.json"
        path.write_text(json.dumps(cfg, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return path
    path = db.parent / "district.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _compute_with_events(db: Path, registry: Registry, period: Period) -> dict[str, Any]:
    """What ``commands_report.compute`` does (for ``evidence``): the period's events with their JWS (the
    evidence bundle needs them), then ``build_report`` over their facts."""
    from district_collector.scoring.compute import no_gc_pauses
    from district_collector.scoring.report import build_report, period_events_from_store

    store = SqliteStore(db)
    with no_gc_pauses():
        events = list(period_events_from_store(store, registry, period))
    store.close()
    return build_report((e.facts for e in events), registry, period)


def _compute(db: Path, registry: Registry, period: Period) -> dict[str, Any]:
    """The report alone, streamed from the store's columns."""
    try:
        from district_collector.scoring.report import report_from_store
    except ImportError:  # the code before the report fast path (for before/after figures)
        return _compute_with_events(db, registry, period)
    with SqliteStore(db) as store:
        return report_from_store(store, registry, period)


def _median_s(fn: Any, runs: int) -> tuple[float, list[float], Any]:
    times: list[float] = []
    result = None
    for _ in range(runs):
        result = None
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, result


def time_report(db: Path, stations: int, runs: int, memory: bool, only: bool = False) -> None:
    registry = _registry(stations)
    period = Period.parse(*PERIOD, TZ)
    med, times, report = _median_s(lambda: _compute(db, registry, period), runs)
    print(f"report {stations} stations: {report['district']['airings']} airings, "
          f"{report['district']['excluded']} excluded; read+score median {med:.2f} s "
          f"(runs {', '.join(f'{t:.2f}' for t in times)})")
    if only:  # e.g. under /usr/bin/time -v: the peak RSS is then the report path's
        return
    med, _times, _r = _median_s(lambda: _compute_with_events(db, registry, period), runs)
    print(f"  with the events' JWS (as commands_report.compute / evidence): median {med:.2f} s")
    summary = {k: v for k, v in report.items() if k != "airings"}
    med, _times, out = _median_s(lambda: json.dumps(summary, ensure_ascii=False), runs)
    print(f"  output json.dumps, no airings list (report --format json): median {med:.2f} s, "
          f"{len(out) >> 20} MiB")
    med, _times, out = _median_s(lambda: json.dumps(report, ensure_ascii=False), runs)
    print(f"  output json.dumps with the airings (--airings): median {med:.2f} s, {len(out) >> 20} MiB")
    if memory:
        del report, out, _r
        tracemalloc.start()
        _compute(db, registry, period)
        _cur, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"  peak traced memory of read+score: {peak / 2**20:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=("build", "config", "time"))
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--per-station", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="also the tracemalloc peak of read+score")
    parser.add_argument("--only", action="store_true", help="time read+score only (nothing else)")
    parser.add_argument("--json", action="store_true", help="config: write district.json instead of .yaml")
    args = parser.parse_args()
    if args.action == "build":
        build(args.db, args.stations, args.per_station)
    elif args.action == "config":
        print(f"wrote {write_config(args.db, args.stations, args.json)}")
    else:
        time_report(args.db, args.stations, args.runs, args.memory, args.only)


if __name__ == "__main__":
    main()
