"""The period ``report`` and ``evidence`` cover, and what to tell the user about it.

With ``--from``/``--to`` the period is the one given (a missing end defaults as below).
Without either, it is the period a user means:

1. this year's scoring period, 1 January .. 10 December in the district's timezone
   (docs/scoring.md), when the store holds an event in it;
2. otherwise the latest calendar month that holds events (a demo that simulated next
   month, a district whose events are all from last year);
3. otherwise (no event stored at all) this year's scoring period.

:func:`choose_period` returns the period and the notes to print: which default was taken
and why, and whether the period holds no event at all. The store (opened read-only by
the caller) answers through its interface; "this year" comes from the clock passed in.
"""

from __future__ import annotations

import argparse
import calendar
from datetime import date, timedelta

from district_collector.scoring.period import EPOCH, Period, ScoringError
from district_collector.store.base import Store
from radio_protocol.clock import Clock
from radio_protocol.timefmt import parse_date, zone

SCORING_END = (12, 10)  # the province scores 1 January .. 10 December


def _checked(option: str, text: str) -> str:
    try:
        parse_date(text)
    except ValueError as exc:
        reason = str(exc) if "YYYY-MM-DD" in str(exc) else f"{exc}, give a real date as YYYY-MM-DD"
        raise ScoringError(f"bad period: {option} {text}: {reason}") from exc
    return text


def events_in(store: Store, period: Period) -> bool:
    """Whether the store holds any event that started inside ``period``."""
    return store.has_events_between(period.start_us, period.end_us)


def latest_event_day(store: Store, timezone: str) -> date | None:
    """The local date of the latest event in the store, or None when it holds none."""
    latest_us = store.latest_started_us()
    if latest_us is None:
        return None
    return (EPOCH + timedelta(microseconds=latest_us)).astimezone(zone(timezone)).date()


def choose_period(args: argparse.Namespace, timezone: str, clock: Clock,
                  store: Store) -> tuple[Period, list[str]]:
    """``(period, notes)`` for ``--from``/``--to`` (``args.date_from``/``date_to``) as in the
    module doc. Raises ScoringError for a date that is not one or an empty period."""
    year = clock.now().astimezone(zone(timezone)).year
    scoring = (date(year, 1, 1).isoformat(), date(year, *SCORING_END).isoformat())
    notes: list[str] = []
    if args.date_from or args.date_to:
        start = _checked("--from", args.date_from or scoring[0])
        end = _checked("--to", args.date_to or scoring[1])
        period = Period.parse(start, end, timezone)
    else:
        period = Period.parse(*scoring, timezone)
        latest = latest_event_day(store, timezone)
        if latest is not None and not events_in(store, period):
            last_day = calendar.monthrange(latest.year, latest.month)[1]
            period = Period(latest.replace(day=1), latest.replace(day=last_day), timezone)
            notes.append(f"no --from/--to, and this year's scoring period {scoring[0]} .. {scoring[1]} holds no "
                         f"event: reporting {latest:%Y-%m}, the latest month with events "
                         f"({period.start} .. {period.end}; give --from/--to for another period)")
            return period, notes
        notes.append(f"no --from/--to: this year's scoring period {scoring[0]} .. {scoring[1]}")
    if not events_in(store, period):
        latest = latest_event_day(store, timezone)
        where = f"the latest event is of {latest}" if latest else "the store holds no event at all"
        notes.append(f"no events at all in {period.start} .. {period.end} ({where})")
    return period, notes
