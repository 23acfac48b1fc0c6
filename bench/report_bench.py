"""Benchmark of the broadcast-frequency report (not a test: timings depend on the machine).

``python -m bench.report_bench [--stations 1000] [--weeks 50] [--pure-stations 10000]``

1. store: a real SQLite store with ``stations`` x (2 airings a week for ``weeks`` weeks)
   signed events, then the ``report`` path timed: stream the store, select the period,
   decode the payloads, score. Target: well under a few seconds for 1,000 stations.
2. pure: :func:`district_collector.scoring.score` alone over ``pure-stations`` x the same
   number of events built in memory. Target: 2 s for 10,000 stations.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from district_collector.registry import Registry
from district_collector.report import build_report, period_events_from_store
from district_collector.scoring import EventFacts, Period, no_gc_pauses, score
from district_collector.store import EventRecord, Store
from radio_protocol.jose import Signer, canonical_json, sha256_hex

TZ = "Asia/Ho_Chi_Minh"


def _days(weeks: int) -> list[date]:
    first = date(2024, 1, 2)
    return [first + timedelta(days=7 * w + d) for w in range(weeks) for d in (0, 3)]


def _registry(n: int, jwk: dict[str, str]) -> Registry:
    return Registry.build("kon-ray", "Huyện Kon Rẫy", TZ, [],
                          [(f"st-{i:05d}", str(20000 + i // 2), f"Xã {i // 2}", "commune", [jwk])
                           for i in range(n)])


def bench_store(stations: int, weeks: int) -> None:
    signer = Signer(Ed25519PrivateKey.generate())
    registry = _registry(stations, signer.public_jwk)
    days = _days(weeks)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.sqlite")
        t0 = time.perf_counter()
        for i in range(stations):
            sid, batch = f"st-{i:05d}", []
            prev: str | None = None
            for seq, day in enumerate(days, start=1):
                at = f"{day}T06:30:00.000+07:00"
                payload = {"v": 1, "type": "airing", "district": "kon-ray", "station": sid,
                           "commune": str(20000 + i // 2), "seq": seq, "prev": prev,
                           "segment": {"id": "cds", "title": "Chuyển đổi số", "program": "chuyen-doi-so"},
                           "priority": "normal", "schedule_version": None, "slot": at, "started_at": at,
                           "ended_at": at, "played_s": 300.0, "media_s": 300.0, "outcome": "completed",
                           "reason": None, "amp": {}, "level": None, "clock_synced": True,
                           "boot_id": "b", "sw": "0.1.0"}
                body = canonical_json(payload)
                batch.append(EventRecord(sid, seq, sha256_hex(body), signer.sign(body, "cr-event+json"),
                                         signer.kid, "bench", at, "chuyen-doi-so", "completed", True, at,
                                         None, prev))
                prev = sha256_hex(body)
            store.add_batch(batch, datetime(2024, 12, 11, tzinfo=UTC))
        print(f"store: {stations * len(days)} events written in {time.perf_counter() - t0:.1f} s")
        period = Period.parse("2024-01-01", "2024-12-10", TZ)
        t0 = time.perf_counter()
        with no_gc_pauses():  # as the report command does
            events = list(period_events_from_store(store, registry, period))
        t1 = time.perf_counter()
        report = build_report((e.facts for e in events), registry, period)
        t2 = time.perf_counter()
        store.close()
    print(f"store report: {len(events)} events read+decoded {t1 - t0:.2f} s, scored {t2 - t1:.2f} s, "
          f"total {t2 - t0:.2f} s; district tier {report['district']['tier']}")


def bench_pure(stations: int, weeks: int) -> None:
    registry = _registry(stations, Signer(Ed25519PrivateKey.generate()).public_jwk)
    days = _days(weeks)
    facts = [EventFacts(f"st-{i:05d}", seq, f"{i:05d}{seq:010d}", True, None, f"{day}T06:30:00.000+07:00",
                        "chuyen-doi-so", "completed", True, None, None, "cds", "Chuyển đổi số", 300.0,
                        datetime.fromisoformat(f"{day}T06:30:00.000+07:00"))
             for i in range(stations) for seq, day in enumerate(days, start=1)]
    period = Period.parse("2024-01-01", "2024-12-10", TZ)
    t0 = time.perf_counter()
    report = score(facts, registry, period)
    print(f"pure score: {len(facts)} events, {stations} stations in {time.perf_counter() - t0:.2f} s; "
          f"{len(report['communes'])} communes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--weeks", type=int, default=50)
    parser.add_argument("--pure-stations", type=int, default=10000)
    args = parser.parse_args()
    bench_store(args.stations, args.weeks)
    bench_pure(args.pure_stations, args.weeks)


if __name__ == "__main__":
    main()
