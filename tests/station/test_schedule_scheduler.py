"""The scheduler is a pure function of (schedule, now): slots, ordering, due and missed."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from schedule_testkit import payload, segment

from radio_protocol.schedule.expand import due_slots, expand, next_slots
from radio_protocol.schedule.model import SlotRule
from radio_protocol.schedule.parse import parse_schedule

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=VN)


def slots_of(**overrides: object) -> list[datetime]:
    return [s.at for s in expand(parse_schedule(payload(**overrides)))]


def test_scheduler_expands_at_and_rrule_in_order() -> None:
    ats = slots_of()
    assert ats[:4] == [vn(2024, 3, 1, 17), vn(2024, 3, 5, 6, 30), vn(2024, 3, 5, 17), vn(2024, 3, 8, 17)]
    assert ats[-1] == vn(2024, 3, 29, 17)
    assert all(a.tzinfo is not None and a.utcoffset() == timedelta(hours=7) for a in ats)


def test_scheduler_year_end_dec_31_to_jan_1() -> None:
    ats = slots_of(valid_from="2024-12-01", valid_until="2025-01-31",
                   slots=[{"segment": "cds-a", "rrule": "FREQ=DAILY;BYHOUR=23,6;BYMINUTE=30",
                           "dtstart": "2024-12-30T00:00:00+07:00"}])
    around = [a for a in ats if vn(2024, 12, 31) <= a < vn(2025, 1, 2)]
    assert around == [vn(2024, 12, 31, 6, 30), vn(2024, 12, 31, 23, 30),
                      vn(2025, 1, 1, 6, 30), vn(2025, 1, 1, 23, 30)]


def test_scheduler_month_end_and_the_31st() -> None:
    ats = slots_of(valid_from="2024-01-01", valid_until="2024-12-31",
                   slots=[{"segment": "cds-a", "rrule": "FREQ=MONTHLY;BYMONTHDAY=31",
                           "dtstart": "2024-01-01T06:30:00+07:00"}])
    assert [a.month for a in ats] == [1, 3, 5, 7, 8, 10, 12]  # months without a 31st are skipped
    last_day = slots_of(valid_from="2024-01-01", valid_until="2024-04-30",
                        slots=[{"segment": "cds-a", "rrule": "FREQ=MONTHLY;BYMONTHDAY=-1",
                                "dtstart": "2024-01-01T06:30:00+07:00"}])
    assert [a.date().isoformat() for a in last_day] == ["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30"]


def test_scheduler_byday_with_bysetpos_last_weekday() -> None:
    ats = slots_of(slots=[{"segment": "cds-a", "rrule": "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
                           "dtstart": "2024-01-01T17:00:00+07:00"}])
    assert ats == [vn(2024, 3, 29, 17)]


def test_scheduler_until_and_count() -> None:
    until = slots_of(slots=[{"segment": "cds-a", "rrule": "FREQ=WEEKLY;BYDAY=TU;UNTIL=20240312T235959Z",
                             "dtstart": "2024-03-01T06:30:00+07:00"}])
    assert until == [vn(2024, 3, 5, 6, 30), vn(2024, 3, 12, 6, 30)]
    count = slots_of(slots=[{"segment": "cds-a", "rrule": "FREQ=WEEKLY;BYDAY=TU;COUNT=3",
                             "dtstart": "2024-03-01T06:30:00+07:00"}])
    assert count == [vn(2024, 3, 5, 6, 30), vn(2024, 3, 12, 6, 30), vn(2024, 3, 19, 6, 30)]


def test_scheduler_dtstart_before_valid_from_is_clipped() -> None:
    ats = slots_of(slots=[{"segment": "cds-a", "rrule": "FREQ=WEEKLY;BYDAY=FR;COUNT=6",
                           "dtstart": "2024-02-01T06:30:00+07:00"}])
    # COUNT counts from dtstart (Feb 2); only the occurrences inside March remain
    assert ats == [vn(2024, 3, 1, 6, 30), vn(2024, 3, 8, 6, 30)]


def test_scheduler_dtstart_in_another_offset_is_evaluated_in_schedule_zone() -> None:
    # 23:30 UTC on a Monday is 06:30 Tuesday in Vietnam: BYDAY applies to the local day
    ats = slots_of(slots=[{"segment": "cds-a", "rrule": "FREQ=WEEKLY;BYDAY=TU",
                           "dtstart": "2024-03-03T23:30:00Z"}])
    assert ats[0] == vn(2024, 3, 5, 6, 30)
    assert ats[0].astimezone(UTC) == datetime(2024, 3, 4, 23, 30, tzinfo=UTC)


def test_scheduler_validity_bounds_in_local_time() -> None:
    ats = slots_of(slots=[{"segment": "cds-a", "at": "2024-02-29T23:59:00+07:00"},
                          {"segment": "cds-a", "at": "2024-02-29T17:30:00Z"},  # 00:30 Mar 1 local
                          {"segment": "cds-a", "at": "2024-03-31T23:59:00+07:00"},
                          {"segment": "cds-a", "at": "2024-03-31T17:00:00Z"}])  # 00:00 Apr 1 local
    assert ats == [vn(2024, 3, 1, 0, 30), vn(2024, 3, 31, 23, 59)]


def test_scheduler_priority_order_emergency_first_then_slot_order() -> None:
    sched = parse_schedule(payload(
        segments=[segment("n1"), segment("n2"), segment("em", priority="emergency", sha="c" * 64)],
        slots=[{"segment": "n2", "at": "2024-03-05T06:30:00+07:00"},
               {"segment": "n1", "at": "2024-03-05T06:30:00+07:00"},
               {"segment": "em", "at": "2024-03-05T06:30:00+07:00"}]))
    assert [s.segment.id for s in expand(sched)] == ["em", "n2", "n1"]
    due = due_slots(sched, vn(2024, 3, 5, 6, 30, 5))
    assert [s.segment.id for s in due.ready] == ["em", "n2", "n1"]


def test_scheduler_due_ready_missed_and_lead() -> None:
    sched = parse_schedule(payload())
    slot = vn(2024, 3, 5, 6, 30)
    before = due_slots(sched, slot - timedelta(seconds=3), lead_s=2.0)
    assert before.ready == () and before.next_at == slot - timedelta(seconds=2)
    at_lead = due_slots(sched, slot - timedelta(seconds=2), lead_s=2.0)
    assert [s.at for s in at_lead.ready] == [slot]
    late = due_slots(sched, slot + timedelta(seconds=599), grace_s=600, since_at=vn(2024, 3, 4))
    assert [s.at for s in late.ready] == [slot] and late.missed == ()
    gone = due_slots(sched, slot + timedelta(seconds=600), grace_s=600, since_at=vn(2024, 3, 4))
    assert gone.ready == () and [s.at for s in gone.missed] == [slot]
    done = due_slots(sched, slot + timedelta(seconds=600), grace_s=600, since_at=vn(2024, 3, 4),
                     done={gone.missed[0].key})
    assert done.missed == ()


def test_scheduler_since_at_ignores_slots_before_the_schedule_arrived() -> None:
    sched = parse_schedule(payload())
    due = due_slots(sched, vn(2024, 3, 20), since_at=vn(2024, 3, 15, 12))
    assert [s.at for s in due.missed] == [vn(2024, 3, 15, 17), vn(2024, 3, 19, 17)]


def test_scheduler_next_slots_skip_done_and_stop_at_end() -> None:
    sched = parse_schedule(payload())
    first = next_slots(sched, vn(2024, 3, 28), 5)
    assert [s.at for s in first] == [vn(2024, 3, 29, 17)]
    skip = next_slots(sched, vn(2024, 3, 1), 2, done={next_slots(sched, vn(2024, 3, 1), 1)[0].key})
    assert [s.at for s in skip] == [vn(2024, 3, 5, 6, 30), vn(2024, 3, 5, 17)]


@pytest.mark.parametrize("tz,offset_h", [("Asia/Ho_Chi_Minh", 7), ("Asia/Kolkata", 5.5), ("UTC", 0)])
def test_scheduler_slot_key_is_the_utc_instant(tz: str, offset_h: float) -> None:
    sched = parse_schedule(payload(timezone=tz, slots=[{"segment": "cds-a", "rrule": "FREQ=DAILY;COUNT=1",
                                                        "dtstart": "2024-03-02T06:30:00+07:00"}]))
    (slot,) = expand(sched)
    assert slot.at.utcoffset() == timedelta(hours=offset_h)
    assert slot.key == "cds-a@2024-03-01T23:30:00.000000Z"


# --- RRULE edge cases (RFC 5545 as dateutil reads it, in the schedule's zone) -------------


def rule_slots(rule: str, dtstart: str = "2024-03-01T06:30:00+07:00", **overrides: object) -> list[datetime]:
    return slots_of(slots=[{"segment": "cds-a", "rrule": rule, "dtstart": dtstart}], **overrides)


@pytest.mark.parametrize("until,last", [
    ("20240312T063000", vn(2024, 3, 12, 6, 30)),  # floating UNTIL: local time, inclusive
    ("20240312T062959", vn(2024, 3, 5, 6, 30)),
    ("20240311T233000Z", vn(2024, 3, 12, 6, 30)),  # UTC UNTIL: 23:30Z = 06:30 next day local
    ("20240311T232959Z", vn(2024, 3, 5, 6, 30)),
    ("20261031T235959Z", vn(2024, 3, 26, 6, 30)),  # far beyond the validity: clipped by it
])
def test_scheduler_until_utc_and_local_forms(until: str, last: datetime) -> None:
    ats = rule_slots(f"FREQ=WEEKLY;BYDAY=TU;UNTIL={until}")
    assert ats[0] == vn(2024, 3, 5, 6, 30) and ats[-1] == last


def test_scheduler_byhour_byminute_expand_across_month_end() -> None:
    ats = rule_slots("FREQ=WEEKLY;BYDAY=SU;BYHOUR=17,6;BYMINUTE=30,0", "2024-03-01T00:00:00+07:00",
                     valid_until="2024-04-30")
    around = [a for a in ats if vn(2024, 3, 31) <= a < vn(2024, 4, 8)]
    assert around == [vn(2024, 3, 31, 6), vn(2024, 3, 31, 6, 30), vn(2024, 3, 31, 17), vn(2024, 3, 31, 17, 30),
                      vn(2024, 4, 7, 6), vn(2024, 4, 7, 6, 30), vn(2024, 4, 7, 17), vn(2024, 4, 7, 17, 30)]


def test_scheduler_bysetpos_first_and_last_weekday_of_leap_february() -> None:
    ats = rule_slots("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1,-1", "2024-02-01T06:30:00+07:00",
                     valid_from="2024-02-01")
    assert ats == [vn(2024, 2, 1, 6, 30), vn(2024, 2, 29, 6, 30), vn(2024, 3, 1, 6, 30), vn(2024, 3, 29, 6, 30)]


def test_scheduler_fortnightly_rule_across_year_end() -> None:
    ats = rule_slots("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "2024-12-03T06:30:00+07:00",
                     valid_from="2024-12-01", valid_until="2025-01-31")
    assert [a.date().isoformat() for a in ats] == ["2024-12-03", "2024-12-17", "2024-12-31",
                                                   "2025-01-14", "2025-01-28"]


def test_scheduler_count_runs_across_month_end() -> None:
    ats = rule_slots("FREQ=DAILY;COUNT=3", "2024-03-30T17:00:00+07:00", valid_until="2024-04-30")
    assert ats == [vn(2024, 3, 30, 17), vn(2024, 3, 31, 17), vn(2024, 4, 1, 17)]


def test_scheduler_is_a_pure_function_of_schedule_and_now() -> None:
    sched = parse_schedule(payload())
    now = vn(2024, 3, 12, 17, 5)
    first = due_slots(sched, now, since_at=vn(2024, 3, 1), grace_s=600, lead_s=2)
    again = due_slots(parse_schedule(payload()), now, since_at=vn(2024, 3, 1), grace_s=600, lead_s=2)
    assert first == again
    assert [s.at for s in first.ready] == [vn(2024, 3, 12, 17)]
    assert first.next_at == vn(2024, 3, 15, 16, 59, 58)
    # the same instant given in UTC classifies the same slots
    assert due_slots(sched, now.astimezone(UTC), since_at=vn(2024, 3, 1), grace_s=600, lead_s=2) == first


def test_scheduler_rule_that_never_fires_costs_one_search_not_one_per_look() -> None:
    # dateutil searches to the year 9999 for an occurrence of Feb 30; the runner looks
    # every second, so the window is evaluated once and memoized
    import time

    # (parse_schedule now refuses such a rule; a schedule holding one is built by hand)
    sched = parse_schedule(payload(slots=[{"segment": "cds-a", "at": "2024-03-05T06:30:00+07:00"}]))
    never = SlotRule(0, "cds-a", rrule="FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
                     dtstart=datetime(2024, 2, 1, 6, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")))
    sched = dataclasses.replace(sched, slots=(never, dataclasses.replace(sched.slots[0], index=1)))
    started = time.monotonic()
    for minute in range(60):
        due = due_slots(sched, vn(2024, 3, 5, 6, minute), since_at=vn(2024, 3, 1), lead_s=2)
        next_slots(sched, vn(2024, 3, 5, 6, minute), 3)
    assert time.monotonic() - started < 3.0  # uncached: 60 x 3 searches of ~0.3 s each
    assert [s.at for s in due.missed] == [vn(2024, 3, 5, 6, 30)]  # 06:59: beyond grace


def test_scheduler_same_instants_in_other_zones_do_not_share_memoized_rules() -> None:
    # Asia/Bangkok and Asia/Ho_Chi_Minh have the same offset: same instants, other zone
    vn_slots = expand(parse_schedule(payload()))
    bkk_slots = expand(parse_schedule(payload(timezone="Asia/Bangkok")))
    assert [s.at for s in vn_slots] == [s.at for s in bkk_slots]
    assert {str(s.at.tzinfo) for s in bkk_slots} == {"Asia/Bangkok"}
    assert {str(s.at.tzinfo) for s in vn_slots} == {"Asia/Ho_Chi_Minh"}
