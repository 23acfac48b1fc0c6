"""The grouped report path (SQLite aggregates clean stations) gives the per-row path's bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from store_backends import StoreBackend
from test_scoring_store import _events, _record
from test_scoring_support import DISTRICT, TZ, StationSigner, facts_of, schedule_payload

from district_collector.registry import Registry
from district_collector.scoring.period import Period
from district_collector.scoring.report import (
    build_report,
    grouped_period_from_store,
    report_from_store,
    report_json,
    scheduled_slots,
)
from radio_protocol.jose import parse_jws


def _more(offset: str) -> tuple[list[bytes], list[tuple[StationSigner, list[dict[str, str]]]]]:
    """Clean stations (summarised) and near-clean ones (each with one surprise: per-row path)."""
    day = f"T06:30:00.000{offset}"
    clean, edge = StationSigner("e-01", commune="23340"), StationSigner("e-02", commune="23341")
    fresh = StationSigner("e-03", commune="23338")
    gap, rotated, sched = (StationSigner("f-01", commune="23337"), StationSigner("f-02", commune="23338"),
                           StationSigner("f-03", commune="23338"))
    seq1, same = StationSigner("f-04", commune="23339"), StationSigner("f-05", commune="23339")
    jws = [clean.airing(f"2024-02-2{d}{day}") for d in (7, 8)]                # neighbours before
    jws += [clean.airing(f"2024-03-{d:02d}{day}") for d in (1, 4, 9, 14, 21, 28)]
    jws += [clean.airing(f"2024-03-15{day}", program="tin-tuc"), clean.airing(f"2024-03-16{day}", outcome="failed"),
            clean.airing(f"2024-03-17{day}", clock_synced=False), clean.airing(f"2024-04-02{day}")]
    jws += [clean.airing(f"2024-06-0{d}{day}") for d in (1, 2)]                # neighbour after, then beyond
    jws += [edge.airing(f"2024-03-03T23:59:59.999{offset}"), edge.airing(f"2024-03-04T00:00:00.000{offset}"),
            edge.airing(f"2024-03-31T23:59:59.999{offset}"), edge.airing(f"2024-04-30T23:59:59.999{offset}")]
    jws += [fresh.airing(f"2024-03-{d:02d}{day}", program="tin-tuc") for d in (5, 6)]  # no airing counts
    jws += [gap.airing(f"2024-03-0{d}{day}") for d in (2, 3)] + [gap.airing(f"2024-03-08{day}", seq=4)]
    old_jwk = rotated.jwk
    jws.append(rotated.airing(f"2024-03-10{day}"))
    rotated.signer = type(rotated.signer)(Ed25519PrivateKey.generate())  # both keys registered
    jws.append(rotated.airing(f"2024-03-11{day}"))
    jws += [sched.airing(f"2024-03-12{day}", slot=f"2024-03-12{day}")]
    jws.append(seq1.airing(f"2024-03-13{day}", prev="a" * 64))              # seq 1 with a prev
    jws += [same.airing(f"2024-03-18{day}"), same.airing(f"2024-03-19{day}", prev="b" * 64)]  # chain break
    keyed = [(s, [s.jwk]) for s in (clean, edge, fresh, gap, sched, seq1, same)] + [(rotated, [old_jwk, rotated.jwk])]
    return jws, keyed


def _setup(offset: str, late: str) -> tuple[list[bytes], Registry]:
    jws, signers, _registry = _events(offset, late)
    more, keyed = _more(offset)
    a, b, _gone, rotated = signers
    entries = [(s.station, s.commune, f"Xã {s.commune}", "commune", [s.jwk]) for s in (a, b)]
    entries.append((rotated.station, rotated.commune, f"Xã {rotated.commune}", "commune",
                    [StationSigner("x").jwk]))  # its events do not verify
    entries += [(s.station, s.commune, f"Xã {s.commune}", "commune", keys) for s, keys in keyed]
    return jws + more, Registry.build(DISTRICT, "Huyện Kon Rẫy", TZ, [], entries)


def _reference(jws: list[bytes], registry: Registry, period: Period, schedules: list[dict]) -> bytes:
    """The per-row path over the payloads (what ``verify`` runs), without the airings list."""
    facts = []
    for j in jws:
        header, _m, body = parse_jws(j)
        reg = registry.station(json.loads(body)["station"])
        facts.append(facts_of(j, signature_ok=reg is not None and header["kid"] in reg.kids))
    report = build_report(facts, registry, period, schedules)
    del report["airings"]
    return report_json(report)


@pytest.mark.parametrize(("timezone", "offset", "late", "end", "grouped"), [
    ("Asia/Ho_Chi_Minh", "+07:00", "2024-03-31T23:59:59.999+07:00", "2024-04-30", True),
    ("Asia/Kolkata", "+05:30", "2024-03-31T23:59:59.999+05:30", "2024-04-30", True),
    ("Europe/Berlin", "+01:00", "2024-03-30T23:59:59.999+01:00", "2024-03-30", True),  # before DST
    ("Europe/Berlin", "+01:00", "2024-04-01T00:30:00.000+02:00", "2024-04-30", False),  # across DST
])
def test_scoring_grouped_report_matches_per_row_report(tmp_path: Path, store_backend: StoreBackend, timezone: str, offset: str, late: str,
                                                        end: str, grouped: bool) -> None:
    jws, registry = _setup(offset, late)
    period = Period.parse("2024-03-01", end, timezone)
    schedules = [schedule_payload(s, 1, "2024-03-01", "2024-04-30",
                                  [{"segment": "cds-a", "at": f"2024-03-{d}T06:30:00.000{offset}"}])
                 for s, d in (("a-01", "06"), ("f-03", "12"))]
    with store_backend.open(tmp_path / "c.sqlite3") as store:
        outcomes = store.add_batch([_record(j) for j in jws + jws[:3]])
        assert outcomes.count("conflict") == 1 and outcomes.count("duplicate") == 3
        got = report_json(report_from_store(store, registry, period, schedules, with_airings=False))
        full = report_from_store(store, registry, period, schedules)
        offset_us = period.fixed_offset_us()
        if grouped:
            assert offset_us is not None
            summaries, rows = grouped_period_from_store(store, registry, period, offset_us,
                                                        scheduled_slots(schedules, period))
            per_row = {r[0] for r in rows}
            assert {s.station for s in summaries} == {"e-01", "e-02", "e-03"}
            assert per_row == {"a-01", "b-01", "c-01", "d-01", "f-01", "f-02", "f-03", "f-04", "f-05"}
        else:
            assert offset_us is None
    expected = _reference(jws, registry, period, schedules)
    assert got == expected
    del full["airings"]
    assert report_json(full) == expected
    report = json.loads(got)
    assert "airings" not in report
    reasons = {e["reason"] for e in report["excluded"]}
    assert reasons == {"program", "outcome", "clock-unsynced", "conflict", "unknown-station", "bad-signature"}
    e01 = next(s for s in report["stations"] if s["id"] == "e-01")
    assert (e01["first_seq"], e01["last_seq"]) == ((2, 13) if end == "2024-04-30" else (2, 12))
    commune = next(c for c in report["communes"] if c["code"] == "23340")  # e-01 alone
    assert (commune["airings"], commune["excluded"]) == ((7, 3) if end == "2024-04-30" else (6, 3))


def test_scoring_grouped_marks_weeks_and_months_of_edge_instants(tmp_path: Path, store_backend: StoreBackend) -> None:
    """Airings at 23:59:59.999 and 00:00 local land on their local day's week and month."""
    st = StationSigner("e-02")
    jws = [st.airing("2024-03-03T23:59:59.999+07:00"), st.airing("2024-03-31T23:59:59.999+07:00"),
           st.airing("2024-04-01T00:00:00.000+07:00")]
    registry = Registry.build(DISTRICT, "Huyện Kon Rẫy", TZ, [], [(st.station, "23335", "Xã A", "commune",
                                                                     [st.jwk])])
    period = Period.parse("2024-02-26", "2024-04-07", TZ)  # weeks 2024-W09 .. 2024-W14
    with store_backend.open(tmp_path / "c.sqlite3") as store:
        store.add_batch([_record(j) for j in jws])
        report = report_from_store(store, registry, period, with_airings=False)
    grid = report["communes"][0]["weeks_grid"]
    assert grid == ["aired", "not-aired", "not-aired", "not-aired", "aired", "aired"]
    assert report["communes"][0]["months_grid"] == ["not-required", "aired", "aired"]
    assert _reference(jws, registry, period, []) == report_json(report)
