"""Schedule expansion: pure functions of (schedule, now). No clock, no I/O, no state.

A *slot* is one scheduled start of one segment. Slots come from ``at`` entries and
from RRULE entries expanded with python-dateutil as aware datetimes in the schedule's
timezone; occurrences outside ``valid_from``..``valid_until`` are ignored.

Order (:func:`slot_sort_key`): by time; at the same time the higher priority first
(``emergency`` > ``priority`` > ``normal``); equal priority in slot order (the position
of the entry in the payload), so clashing slots play one after the other.

Every slot has a stable :attr:`Slot.key` (segment id + UTC instant) that does not depend
on the schedule version, so a slot that aired under version 7 is not aired again when
version 8 repeats it. Both ends use these: the station to air, the district to count
what a schedule asks for.
"""

from __future__ import annotations

import bisect
from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from radio_protocol.schedule.model import Schedule, ScheduleSegment
from radio_protocol.schedule.rules import window_occurrences


@dataclass(frozen=True)
class Slot:
    """One scheduled airing: ``at`` (aware, schedule timezone), the segment, the entry index;
    ``until`` (a bulletin's validity, None for an ordinary slot): it may start late until then."""

    at: datetime
    segment: ScheduleSegment
    index: int
    until: datetime | None = None

    @property
    def key(self) -> str:
        """Stable identity: ``<segment id>@<UTC instant>``, independent of schedule version."""
        return f"{self.segment.id}@{self.at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"

    @property
    def rank(self) -> int:
        return self.segment.rank


def slot_sort_key(slot: Slot) -> tuple[datetime, int, int, str]:
    return (slot.at, -slot.rank, slot.index, slot.segment.id)


def expand(schedule: Schedule, start_at: datetime | None = None,
           end_at: datetime | None = None) -> list[Slot]:
    """Every slot in ``[start_at, end_at)`` clipped to the validity window, sorted."""
    lo = schedule.start_at if start_at is None else max(start_at, schedule.start_at)
    hi = schedule.end_at if end_at is None else min(end_at, schedule.end_at)
    if lo >= hi:
        return []
    segments = {seg.id: seg for seg in schedule.segments}
    out: list[Slot] = []
    for entry in schedule.slots:
        segment = segments[entry.segment]
        if entry.at is not None:
            if lo <= entry.at < hi:
                out.append(Slot(entry.at.astimezone(schedule.tz), segment, entry.index,
                                None if entry.until is None else entry.until.astimezone(schedule.tz)))
            continue
        assert entry.rrule is not None and entry.dtstart is not None
        # the whole validity window once (memoized), then the part asked for
        every = window_occurrences(entry.rrule, entry.dtstart, schedule.timezone,
                                   schedule.start_at, schedule.end_at)
        first, last = bisect.bisect_left(every, lo), bisect.bisect_left(every, hi)
        out.extend(Slot(occ, segment, entry.index) for occ in every[first:last])
    # one segment at one instant is one slot, whichever entries produced it
    unique = {slot.key: slot for slot in sorted(out, key=slot_sort_key, reverse=True)}
    return sorted(unique.values(), key=slot_sort_key)


def next_slots(schedule: Schedule, now_at: datetime, count: int = 10,
               done: Container[str] = ()) -> list[Slot]:
    """The next ``count`` slots at or after ``now_at`` that are not in ``done``."""
    result: list[Slot] = []
    horizon = timedelta(days=7)
    lo = now_at
    while len(result) < count and lo < schedule.end_at:
        hi = lo + horizon
        result.extend(s for s in expand(schedule, lo, hi) if s.key not in done)
        lo = hi
        horizon *= 2
    return result[:count]


@dataclass(frozen=True)
class Due:
    """What to do now: ``ready`` to start (best first), ``missed`` beyond grace (oldest first),
    ``next_at`` the start time (slot minus lead) of the next future slot, or None."""

    ready: tuple[Slot, ...]
    missed: tuple[Slot, ...]
    next_at: datetime | None


def due_slots(schedule: Schedule, now_at: datetime, *, done: Container[str] = (),
              since_at: datetime | None = None, grace_s: float = 600.0,
              lead_s: float = 0.0) -> Due:
    """Classify the slots around ``now_at``.

    - ``ready``: not done, ``at - lead_s <= now_at < at + grace_s``; sorted by
      :func:`slot_sort_key` (emergency first at equal time).
    - ``missed``: not done, ``since_at <= at`` and ``at + grace_s <= now_at``.
    - slots before ``since_at`` (before the schedule came into force at this station)
      are neither.
    - a slot with ``until`` (a bulletin) is ready from ``at - lead_s`` until ``until``
      (instead of ``at + grace_s``) and missed from then on, also when it is older than
      ``since_at``: a bulletin that reaches a station late airs while still valid, and one
      that reaches it too late is recorded missed.
    ``lead_s`` is the amplifier warm-up: an airing starts that much before its slot.
    """
    grace = timedelta(seconds=grace_s)
    lead = timedelta(seconds=lead_s)
    lo = schedule.start_at if since_at is None else since_at
    ready: list[Slot] = []
    missed: list[Slot] = []
    candidates = expand(schedule, lo, now_at + lead + timedelta(microseconds=1))
    seen = {slot.key for slot in candidates}
    candidates += [s for s in expand(schedule, None, lo) if s.until is not None and s.key not in seen] \
        if any(entry.until is not None for entry in schedule.slots) else []
    for slot in candidates:
        if slot.key in done:
            continue
        if (slot.at + grace if slot.until is None else slot.until) <= now_at:
            missed.append(slot)
        elif slot.at - lead <= now_at:
            ready.append(slot)
    upcoming = next_slots(schedule, now_at + lead + timedelta(microseconds=1), 1, done)
    next_at = upcoming[0].at - lead if upcoming else None
    return Due(tuple(sorted(ready, key=slot_sort_key)), tuple(sorted(missed, key=slot_sort_key)), next_at)


def media_in_use(schedules: Iterable[Schedule]) -> set[str]:
    """SHA-256 of every media file the given schedules refer to (what the cache must keep)."""
    return {seg.media.sha256 for schedule in schedules for seg in schedule.segments}
