"""Counted vs excluded airings, duplicates, conflicts, continuity and schedule compliance."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from test_scoring_support import StationSigner, facts_of, registry_of, schedule_payload

from district_collector.scoring.compute import Period, score, select_period_events
from district_collector.scoring.report import build_report, scheduled_slots

MARCH = Period.parse("2024-03-01", "2024-03-31", "Asia/Ho_Chi_Minh")
T = "2024-03-05T06:30:00.000+07:00"


@pytest.mark.parametrize(
    ("reason", "kwargs", "signature_ok", "registered"),
    [
        ("bad-signature", {}, False, True),
        ("unknown-station", {}, True, False),
        ("program", {"program": "tin-tuc"}, True, True),
        ("outcome", {"outcome": "interrupted"}, True, True),
        ("outcome", {"outcome": "missed"}, True, True),
        ("clock-unsynced", {"clock_synced": False}, True, True),
        ("program", {"program": "tin-tuc", "outcome": "failed", "clock_synced": False}, True, True),
        ("unknown-station", {"program": "tin-tuc"}, False, False),
    ],
)
def test_scoring_excluded_with_first_failing_reason(reason: str, kwargs: dict[str, Any],
                                                    signature_ok: bool, registered: bool) -> None:
    st, other = StationSigner("a-01"), StationSigner("b-01", commune="99")
    facts = facts_of(st.airing(T, **kwargs), signature_ok=signature_ok)
    registry = registry_of(st, other) if registered else registry_of(other)
    report = score([facts], registry, MARCH)
    assert report["airings"] == []
    assert report["excluded"] == [{"station": "a-01", "commune": "23335", "seq": 1, "started_at": T,
                                   "reason": reason, "payload_sha256": facts.payload_sha256}]
    assert report["stations"][0]["bad_signatures"] == ([1] if reason == "bad-signature" else [])
    if registered:
        assert report["communes"][0]["excluded"] == 1
        assert report["communes"][0]["airings"] == 0
    assert report["district"]["airings"] == 0


def test_scoring_counted_airing_listed_with_details() -> None:
    st = StationSigner("a-01")
    slot = "2024-03-05T06:30:00.000+07:00"
    report = score([facts_of(st.airing("2024-03-05T06:30:00.012+07:00", slot=slot))], registry_of(st), MARCH)
    assert report["airings"] == [{
        "station": "a-01", "commune": "23335", "seq": 1, "started_at": "2024-03-05T06:30:00.012+07:00",
        "local_date": "2024-03-05", "local_time": "06:30", "segment_id": "cds-a",
        "title": "Chuyển đổi số là gì?", "played_s": 300.0, "slot": slot}]
    assert report["excluded"] == []


def test_scoring_duplicate_counts_once() -> None:
    st = StationSigner("a-01")
    jws = st.airing(T)
    report = score([facts_of(jws), facts_of(jws), facts_of(jws)], registry_of(st), MARCH)
    assert report["district"]["airings"] == 1 and len(report["airings"]) == 1
    assert report["stations"][0]["events"] == 1 and report["stations"][0]["conflicts"] == []


def test_scoring_conflict_neither_counts_both_reported() -> None:
    st = StationSigner("a-01")
    first = st.airing(T)
    second = st.airing("2024-03-06T06:30:00.000+07:00", seq=1, prev=None)  # same seq, other bytes
    third = st.airing("2024-03-07T06:30:00.000+07:00")
    report = score([facts_of(j) for j in (first, second, third, first)], registry_of(st), MARCH)
    assert [(e["seq"], e["reason"]) for e in report["excluded"]] == [(1, "conflict"), (1, "conflict")]
    assert [a["seq"] for a in report["airings"]] == [2]
    commune = report["communes"][0]
    assert commune["conflicts"] == 2 and commune["excluded"] == 2 and commune["airings"] == 1
    assert report["stations"][0]["conflicts"] == [1]
    assert any("seq 1 was received with 2 different payloads" in f for f in report["findings"])


def test_scoring_conflict_partner_outside_period_still_makes_a_conflict() -> None:
    st = StationSigner("a-01")
    inside = st.airing(T)
    outside = st.airing("2024-05-01T06:30:00.000+07:00", seq=1, prev=None)
    report = build_report([facts_of(inside), facts_of(outside)], registry_of(st), MARCH)
    assert [e["reason"] for e in report["excluded"]] == ["conflict"]
    assert report["stations"][0]["conflicts"] == [1] and report["stations"][0]["events"] == 2


def test_scoring_gaps_and_chain_breaks_reported() -> None:
    st = StationSigner("a-01")
    jws = [st.airing(f"2024-03-{d:02d}T06:30:00.000+07:00") for d in range(1, 6)]  # seqs 1..5
    st.airing("2024-03-06T06:30:00.000+07:00")  # seq 6 signed but never received
    jws.append(st.airing("2024-03-07T06:30:00.000+07:00"))  # seq 7 chains to the missing 6
    jws.append(st.airing("2024-03-08T06:30:00.000+07:00", prev="f" * 64))  # seq 8: broken chain
    report = score([facts_of(j) for j in jws], registry_of(st), MARCH)
    assert report["stations"] == [{"id": "a-01", "commune": "23335", "first_seq": 1, "last_seq": 8,
                                   "events": 7, "gaps": [[6, 6]], "chain_breaks": [8], "conflicts": [],
                                   "bad_signatures": []}]
    assert "Station a-01: seq 6 missing (1 event(s) not received)." in report["findings"]
    assert "Station a-01: seq 8 does not chain to seq 7 (prev differs)." in report["findings"]


def test_scoring_first_event_with_prev_is_a_chain_break() -> None:
    st = StationSigner("a-01")
    report = score([facts_of(st.airing(T, prev="a" * 64))], registry_of(st), MARCH)
    assert report["stations"][0]["chain_breaks"] == [1]


def test_select_period_events_keeps_seq_neighbours_and_is_idempotent() -> None:
    st = StationSigner("a-01")
    days = ["2024-01-15", "2024-02-20", "2024-03-02", "2024-03-20", "2024-04-02", "2024-05-01"]
    facts = [facts_of(st.airing(f"{d}T06:30:00.000+07:00")) for d in days]
    other = StationSigner("b-01")
    facts.append(facts_of(other.airing("2024-06-01T06:30:00.000+07:00")))
    selected = select_period_events(facts, MARCH)
    assert [(f.station, f.seq) for f in selected] == [("a-01", 2), ("a-01", 3), ("a-01", 4), ("a-01", 5)]
    assert select_period_events(selected, MARCH) == selected


def test_scoring_unknown_station_listed_in_stations_and_findings() -> None:
    known, stranger = StationSigner("a-01"), StationSigner("zz-01", commune="5")
    report = score([facts_of(stranger.airing(T))], registry_of(known), MARCH)
    assert [s["id"] for s in report["stations"]] == ["a-01", "zz-01"]
    assert report["stations"][1]["commune"] == "5"
    assert any("zz-01 is not in the registry" in f for f in report["findings"])


def test_scoring_airings_sorted_by_instant_then_station() -> None:
    a, b = StationSigner("b-01"), StationSigner("a-01")
    jws = [a.airing("2024-03-05T07:00:00.000+07:00"), b.airing("2024-03-05T00:00:00.000+00:00"),
           a.airing("2024-03-05T06:00:00.000+07:00")]
    report = score([facts_of(j) for j in jws], registry_of(a, b), MARCH)
    assert [(x["station"], x["seq"]) for x in report["airings"]] == [("b-01", 2), ("a-01", 1), ("b-01", 1)]


def test_schedule_compliance_counts_scheduled_slots_with_a_counted_airing() -> None:
    st = StationSigner("a-01")
    weekly = {"segment": "cds-a", "rrule": "FREQ=WEEKLY;BYDAY=TU,FR", "dtstart": "2024-03-01T17:00:00+07:00"}
    news = {"segment": "news", "rrule": "FREQ=DAILY", "dtstart": "2024-03-01T06:00:00+07:00"}
    once = {"segment": "cds-a", "at": "2024-03-10T08:00:00+07:00"}
    schedules = [schedule_payload("a-01", 3, "2024-03-01", "2024-03-31", [weekly, news, once])]
    slots = scheduled_slots(schedules, MARCH)
    assert len(slots["a-01"]) == 10  # Fridays 1,8,15,22,29 + Tuesdays 5,12,19,26 + the 10th
    jws = [
        st.airing("2024-03-01T17:00:01.000+07:00", slot="2024-03-01T17:00:00.000+07:00"),
        st.airing("2024-03-05T10:00:02.000+00:00", slot="2024-03-05T10:00:00.000+00:00"),  # same instant
        st.airing("2024-03-05T17:01:00.000+07:00", slot="2024-03-05T17:00:00.000+07:00"),  # twice: once
        st.airing("2024-03-06T17:00:00.000+07:00", slot="2024-03-06T17:00:00.000+07:00"),  # not scheduled
        st.airing("2024-03-08T17:00:00.000+07:00", slot="2024-03-08T17:00:00.000+07:00",
                  outcome="interrupted"),  # not counted
        st.airing("2024-03-10T08:00:00.000+07:00", slot=None),  # manual airing
    ]
    report = build_report([facts_of(j) for j in jws], registry_of(st), MARCH, schedules)
    assert report["communes"][0]["schedule"] == {"scheduled": 10, "aired": 2}
    assert report["district"]["schedule"] == {"scheduled": 10, "aired": 2}


def test_schedule_latest_version_per_month_applies_within_period() -> None:
    daily = {"segment": "cds-a", "rrule": "FREQ=DAILY", "dtstart": "2024-02-01T06:00:00+07:00"}
    weekly = {"segment": "cds-a", "rrule": "FREQ=WEEKLY;BYDAY=MO", "dtstart": "2024-03-01T06:00:00+07:00"}
    schedules = [
        schedule_payload("a-01", 1, "2024-02-01", "2024-03-31", [daily]),
        schedule_payload("a-01", 2, "2024-03-01", "2024-03-31", [weekly]),  # replaces v1 in March
        schedule_payload("a-01", 9, "2024-03-01", "2024-03-31", [daily], program="tin-tuc"),
    ]
    period = Period.parse("2024-02-27", "2024-03-31", "Asia/Ho_Chi_Minh")
    slots = scheduled_slots(schedules, period)["a-01"]
    # v9 is latest in March but schedules no chuyen-doi-so: Feb 27..29 from v1 only.
    assert len(slots) == 3
    slots = scheduled_slots(schedules[:2], period)["a-01"]
    assert len(slots) == 3 + 4  # Feb 27, 28, 29 daily + Mondays 4, 11, 18, 25


def test_schedule_rules_run_in_the_schedules_own_timezone() -> None:
    rule = {"segment": "cds-a", "rrule": "FREQ=WEEKLY;BYDAY=TU;BYHOUR=6;BYMINUTE=0;BYSECOND=0",
            "dtstart": "2024-03-05T06:00:00+00:00"}
    schedule = schedule_payload("a-01", 1, "2024-03-01", "2024-03-31", [rule])
    schedule["timezone"] = "UTC"
    slots = scheduled_slots([schedule], MARCH)["a-01"]
    assert min(slots) == datetime.fromisoformat("2024-03-05T13:00:00+07:00")  # 06:00 UTC
    assert len(slots) == 4
