"""The report over the store (columns, SQL selection) gives the same bytes as over payloads."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from store_backends import StoreBackend
from test_scoring_support import StationSigner, facts_of, registry_of, schedule_payload

from district_collector.registry import Registry
from district_collector.scoring.compute import score
from district_collector.scoring.facts import payload_bytes
from district_collector.scoring.period import Period
from district_collector.scoring.report import (
    build_report,
    period_events_from_store,
    report_from_store,
    report_json,
)
from district_collector.store.records import StoredEvent
from district_collector.store.schema import SCHEMA
from district_collector.store.sqlite import SqliteStore
from radio_protocol.jose import parse_jws

RECEIVED = datetime(2024, 6, 1, tzinfo=UTC)


def _record(jws: bytes) -> StoredEvent:
    header, _members, _body = parse_jws(jws)
    return StoredEvent.from_jws(jws, header["kid"], RECEIVED, "test")


def _events(offset: str, late: str) -> tuple[list[bytes], list[StationSigner], Registry]:
    """Every case scoring distinguishes, around a March..April period."""
    a, b = StationSigner("a-01"), StationSigner("b-01", commune="23336")
    gone, rotated = StationSigner("c-01", commune="23336"), StationSigner("d-01", commune="23336")
    day = f"T06:30:00.000{offset}"
    jws = [a.airing(f"2024-02-28{day}")]                        # neighbour before the period
    jws += [a.airing(f"2024-03-0{d}{day}") for d in (4, 5)]
    jws.append(a.airing(f"2024-03-06{day}", slot=f"2024-03-06{day}"))  # a scheduled slot
    jws += [a.airing(f"2024-03-11{day}", program="tin-tuc"), a.airing(f"2024-03-12{day}", outcome="failed"),
            a.airing(f"2024-03-13{day}", clock_synced=False)]
    prev = a.prev
    jws.append(a.airing(f"2024-03-18{day}"))                    # seq 8, then a conflicting seq 8
    jws.append(a.airing(f"2024-03-19{day}", seq=8, prev=prev, title="Khác"))
    jws.append(a.airing(f"2024-03-25{day}", seq=10))            # seq 9 missing
    jws.append(a.airing(late))                                 # an edge time (DST, midnight)
    jws += [a.airing(f"2024-05-2{d}{day}") for d in (0, 1)]     # neighbour after, then outside
    jws += [b.airing(f"2024-03-0{d}T23:59:59.999{offset}") for d in (1, 2)]
    jws.append(b.airing(f"2024-03-20{day}", prev="f" * 64))      # chain break
    jws += [gone.airing(f"2024-03-07{day}"), rotated.airing(f"2024-03-08{day}")]
    rotated.key = Ed25519PrivateKey.generate()                  # the registry now has another key
    rotated.signer = type(rotated.signer)(rotated.key)
    return jws, [a, b, gone, rotated], registry_of(a, b, rotated)


def _jsonl_report(jws: list[bytes], registry: Registry, period: Period, schedules: list[dict]) -> bytes:
    facts = []
    for j in jws:
        header, _m, body = parse_jws(j)
        reg = registry.station(json.loads(body)["station"])
        facts.append(facts_of(j, signature_ok=reg is not None and header["kid"] in reg.kids))
    return report_json(build_report(facts, registry, period, schedules))


@pytest.mark.parametrize(("timezone", "offset", "late", "end"), [
    ("Asia/Ho_Chi_Minh", "+07:00", "2024-03-31T23:59:59.999+07:00", "2024-03-31"),
    ("Europe/Berlin", "+01:00", "2024-04-01T00:30:00.000+02:00", "2024-04-14"),  # across the DST change
])
def test_scoring_store_report_matches_jsonl_report(tmp_path: Path, store_backend: StoreBackend, timezone: str, offset: str, late: str,
                                                    end: str) -> None:
    jws, _signers, registry = _events(offset, late)
    period = Period.parse("2024-03-01", end, timezone)
    schedules = [schedule_payload("a-01", 1, "2024-03-01", "2024-04-30",
                                  [{"segment": "cds-a", "at": f"2024-03-06T06:30:00.000{offset}"}])]
    with store_backend.open(tmp_path / "c.sqlite3") as store:
        outcomes = store.add_batch([_record(j) for j in jws + jws[:2]])
        assert outcomes.count("conflict") == 1 and outcomes.count("duplicate") == 2
        from_store = report_json(report_from_store(store, registry, period, schedules))
        stored = list(period_events_from_store(store, registry, period))
    expected = _jsonl_report(jws, registry, period, schedules)
    assert from_store == expected
    assert report_json(build_report([e.facts for e in stored], registry, period, schedules)) == expected
    report = json.loads(from_store)
    reasons = {e["reason"] for e in report["excluded"]}
    assert reasons == {"program", "outcome", "clock-unsynced", "conflict", "unknown-station", "bad-signature"}
    assert report["stations"][0]["gaps"] == [[9, 9]] and report["stations"][0]["conflicts"] == [8]
    assert report["stations"][0]["last_seq"] == 12  # the neighbour after the period, not the one beyond
    assert report["district"]["schedule"] == {"scheduled": 1, "aired": 1}
    records = sorted(map(_record, jws[:12] + jws[13:]), key=lambda r: (r.station, r.seq, r.payload_sha256))
    assert [e.jws for e in stored] == [r.jws for r in records]  # all but the one beyond, in order


def test_scoring_store_local_day_follows_dst() -> None:
    st = StationSigner("a-01")
    period = Period.parse("2024-03-25", "2024-04-07", "Europe/Berlin")
    assert period.fixed_offset_us() is None
    # 00:30 on Monday 1 April in Berlin (summer time) is Sunday 22:30 UTC.
    report = score([facts_of(st.airing("2024-03-31T22:30:00.000Z"))], registry_of(st), period)
    assert report["airings"][0]["local_date"] == "2024-04-01" and report["airings"][0]["local_time"] == "00:30"
    assert report["communes"][0]["weeks_grid"] == ["not-aired", "aired"]


@pytest.mark.parametrize(("timezone", "start", "end", "offset_h"), [
    ("Asia/Ho_Chi_Minh", "2024-01-01", "2024-12-10", 7.0),
    ("Europe/Berlin", "2024-01-01", "2024-03-30", 1.0),
    ("Europe/Berlin", "2024-01-01", "2024-03-31", None),
    ("Asia/Kolkata", "2024-01-01", "2024-12-31", 5.5),
])
def test_scoring_store_fixed_offset_only_when_constant(timezone: str, start: str, end: str,
                                                       offset_h: float | None) -> None:
    got = Period.parse(start, end, timezone).fixed_offset_us()
    assert got == (None if offset_h is None else int(offset_h * 3600e6))


def test_scoring_store_migrates_an_older_store(tmp_path: Path) -> None:
    jws, _signers, registry = _events("+07:00", "2024-03-31T23:59:59.999+07:00")
    period = Period.parse("2024-03-01", "2024-03-31", "Asia/Ho_Chi_Minh")
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)  # a store as written before the report table existed
    db.executescript(SCHEMA)
    for r in map(_record, jws):
        db.execute("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   (r.station, r.seq, r.payload_sha256, r.jws, r.kid, "2024-06-01T00:00:00.000+00:00", r.source,
                    r.facts.started_at, r.facts.program, r.facts.outcome, int(r.facts.clock_synced or 0),
                    r.facts.slot, r.schedule_version, r.facts.prev))
    db.commit()
    db.close()
    with SqliteStore(path) as store:
        assert store.count_events() == len(jws)
        report = report_json(report_from_store(store, registry, period))
    assert report == _jsonl_report(jws, registry, period, [])
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    assert db.execute("SELECT COUNT(*) FROM event_facts").fetchone()[0] == len(jws)
    db.close()
    with SqliteStore(path) as store:  # opening again changes nothing
        assert report_json(report_from_store(store, registry, period)) == report


def test_scoring_store_payload_bytes_reads_every_layout_of_a_jws() -> None:
    jws = StationSigner("a-01").airing("2024-03-05T06:30:00.000+07:00")
    body = parse_jws(jws)[2]
    members = json.loads(jws)
    escaped = members["payload"][:5] + "".join(f"\\u{ord(c):04x}" for c in members["payload"][5:9])
    compact = json.dumps({**members, "payload": "@@"}, separators=(",", ":")).encode()
    layouts = [jws, json.dumps(members, indent=1).encode(),
               compact.replace(b'"@@"', f'"{escaped}{members["payload"][9:]}"'.encode())]
    assert b'"payload":"' in layouts[2] and b"\\u00" in layouts[2]  # the fast path must see the escapes
    assert [payload_bytes(j) for j in layouts] == [body] * 3
    for bad in (b'{"payload":"a!b"}', b'{"payload": 3}', b'{"protected":"x"}', b"[]"):
        with pytest.raises(ValueError):
            payload_bytes(bad)
