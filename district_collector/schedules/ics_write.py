"""``catalogue ics``: a catalogue as iCalendar (RFC 5545) files, one per station and one for all.

Each calendar has a VTIMEZONE for the catalogue's timezone and, per catalogue slot and time
of day, one VEVENT:

- ``UID``: derived from the calendar's scope (station id or ``all``), the month, the
  segment, the rule or date and the time, so a re-export gives the same UIDs and a calendar
  application updates its events instead of duplicating them;
- ``DTSTART;TZID=...``: the first airing (a rule's first occurrence in the month, so no
  application shows an extra event on the 1st), ``DURATION``: the media's length rounded up
  to a minute (5 minutes when unknown);
- ``RRULE``: the catalogue's rule as a rule, not exploded, with ``UNTIL`` the month's last
  second (UTC) when it has no end of its own;
- ``SUMMARY`` the title; ``DESCRIPTION`` programme, topic and priority (one ``Name / Name:
  value`` line each, what the importer reads back); ``ATTACH`` the media URL;
- ``CATEGORIES`` and ``X-CR-STATIONS``: the stations (ids) of a slot limited to some;
  ``X-CR-SEGMENT``: the segment id. The calendar carries ``X-CR-MONTH: YYYY-MM``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta

from icalendar import Calendar, Event, Timezone, vRecur, vText

from district_collector.schedules.catalogue import Catalogue, CatalogueSegment, CatalogueSlot
from radio_protocol.schedule.rules import build_rule
from radio_protocol.timefmt import zone

ALL = "all"
DEFAULT_MINUTES = 5
DESCRIPTION_KEYS = {"program": "Chương trình / Programme", "topic": "Chủ đề / Topic",
                    "priority": "Mức ưu tiên / Priority"}


def event_uid(scope: str, catalogue: Catalogue, slot: CatalogueSlot, when: str, at: time, district: str) -> str:
    """A stable UID: the same scope, month, segment, rule/date and time give the same UID."""
    key = "|".join((scope, f"{catalogue.year:04d}-{catalogue.month:02d}", slot.segment, when,
                    at.strftime("%H:%M"), ",".join(slot.stations or ())))
    return f"{hashlib.sha256(key.encode()).hexdigest()[:24]}@{district}.commune-radio"


def _description(seg: CatalogueSegment) -> str:
    return "\n".join(f"{DESCRIPTION_KEYS[k]}: {v}" for k, v in
                     (("program", seg.program), ("topic", seg.topic), ("priority", seg.priority)) if v)


def _rule(catalogue: Catalogue, rrule: str) -> vRecur:
    text = rrule.removeprefix("RRULE:")
    upper = text.upper()
    if "UNTIL=" not in upper and "COUNT=" not in upper:
        end = datetime.combine(catalogue.valid_until, time(23, 59, 59), zone(catalogue.timezone))
        text = f"{text};UNTIL={end.astimezone(zone('UTC')):%Y%m%dT%H%M%SZ}"
    return vRecur.from_ical(text)


def _event(catalogue: Catalogue, seg: CatalogueSegment, slot: CatalogueSlot, start: datetime, uid: str,
           media_url: str, duration_s: float | None, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    minutes = max(1, math.ceil(duration_s / 60)) if duration_s else DEFAULT_MINUTES
    event.add("duration", timedelta(minutes=minutes))
    event.add("summary", seg.title)
    event.add("description", _description(seg))
    event.add("attach", media_url)
    event.add("x-cr-segment", seg.id)
    stations = slot.stations or catalogue.stations  # a catalogue for some stations: say which
    if stations:
        event.add("categories", list(stations))
        event.add("x-cr-stations", vText(",".join(stations)))
    return event


def _events(catalogue: Catalogue, slots: Sequence[CatalogueSlot], scope: str, district: str,
            media_urls: Mapping[str, str], durations: Mapping[str, float | None], stamp: datetime) -> list[Event]:
    tz = zone(catalogue.timezone)
    segments = {s.id: s for s in catalogue.segments}
    out: list[Event] = []
    for slot in slots:
        seg = segments[slot.segment]
        url, duration = media_urls[seg.id], durations.get(seg.id)
        for at in slot.times:
            if slot.rrule is not None:
                first = datetime.combine(slot.start or catalogue.valid_from, at, tz)
                end = datetime.combine(catalogue.valid_until + timedelta(days=1), time(0), tz)
                start = build_rule(slot.rrule, first).after(first, inc=True) or first
                start = start if start < end else first
                event = _event(catalogue, seg, slot, start,
                               event_uid(scope, catalogue, slot, slot.rrule, at, district), url, duration, stamp)
                event.add("rrule", _rule(catalogue, slot.rrule))
                out.append(event)
            for day in slot.dates:
                out.append(_event(catalogue, seg, slot, datetime.combine(day, at, tz),
                                  event_uid(scope, catalogue, slot, day.isoformat(), at, district),
                                  url, duration, stamp))
    return out


def _calendar(catalogue: Catalogue, name: str, events: list[Event]) -> Calendar:
    cal = Calendar()
    cal.add("prodid", "-//Commune Radio//danh muc phat song//VI")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", catalogue.timezone)
    cal.add("x-cr-month", f"{catalogue.year:04d}-{catalogue.month:02d}")
    cal.add_component(Timezone.from_tzid(catalogue.timezone, first_date=date(catalogue.year, 1, 1),
                                         last_date=date(catalogue.year + 1, 12, 31)))
    for event in events:
        cal.add_component(event)
    return cal


def catalogue_calendars(catalogue: Catalogue, stations: Sequence[str], district: str, district_name: str,
                        media_urls: Mapping[str, str], durations: Mapping[str, float | None],
                        stamp: datetime) -> dict[str, bytes]:
    """``file name -> .ics bytes``: ``<station>.ics`` for each of ``stations`` with a slot,
    and ``all.ics`` with every slot (``media_urls``/``durations`` by segment id)."""
    month = f"{catalogue.month:02d}/{catalogue.year}"
    out: dict[str, bytes] = {}
    for station in stations:
        slots = catalogue.slots_for(station)
        if not slots:
            continue
        events = _events(catalogue, slots, station, district, media_urls, durations, stamp)
        for event in events:  # this file is this station's: importing it back targets it alone
            event.pop("categories", None)
            event.pop("x-cr-stations", None)
            event.add("categories", [station])
            event.add("x-cr-stations", vText(station))
        out[f"{station}.ics"] = _calendar(catalogue, f"Danh mục phát sóng {month} — {station}", events).to_ical()
    events = _events(catalogue, list(catalogue.slots), ALL, district, media_urls, durations, stamp)
    out[f"{ALL}.ics"] = _calendar(catalogue, f"Danh mục phát sóng {month} — {district_name}", events).to_ical()
    return out
