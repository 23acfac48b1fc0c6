"""RFC 5545 recurrence rules as schedules use them: one RRULE line, evaluated in a timezone.

:func:`build_rule` turns a slot's ``rrule`` text and ``dtstart`` into a dateutil rule;
:func:`window_occurrences` lists its occurrences in a window (memoized: the scheduler asks
for the same window every step); :func:`check_rule_rate` says why a rule fires too often.

Bounded work: dateutil looks for the next occurrence period by period up to the year
9999, so a rule that never fires (``FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30``) costs seconds
per question. :func:`rule_occurrences` stops dateutil one month past the end of its
window: dateutil rebuilds its calendar tables at every new month it reaches, and the
month it is about to search is checked there (:class:`_WindowIterInfo`, installed once
into dateutil; without a window set for the current thread it behaves as dateutil's).
"""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from dateutil import rrule as dateutil_rrule
from dateutil.rrule import rrule, rrulestr

from radio_protocol.schedule.model import MAX_SLOTS_PER_MONTH, MIN_INTERVAL_S
from radio_protocol.timefmt import zone


def build_rule(text: str, dtstart: datetime) -> rrule:
    """A dateutil rule evaluated as aware datetimes in ``dtstart``'s timezone.

    Raises ValueError for a malformed rule. A floating (local) ``UNTIL`` is read in the
    schedule's timezone, as RFC 5545 says for a floating DTSTART; ``UNTIL=...Z`` is UTC.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty rule")
    upper = text.upper()
    if any(ch in text for ch in "\r\n") or any(word in upper for word in ("DTSTART", "RDATE", "EXDATE")):
        raise ValueError("one RRULE line only (no DTSTART, RDATE, EXDATE or line breaks; "
                         "list exceptional dates as 'at' slots)")
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    parts = dict(p.split("=", 1) for p in body.upper().split(";") if "=" in p)
    if "COUNT" in parts and "UNTIL" in parts:
        raise ValueError("COUNT and UNTIL must not both be given")
    if "UNTIL" in parts and "T" not in parts["UNTIL"]:
        raise ValueError(f"UNTIL={parts['UNTIL']} is a date; give a date-time like DTSTART "
                         "(e.g. UNTIL=20261031T235959Z in UTC, or UNTIL=20261031T235959 local)")
    try:
        rule = rrulestr(body, dtstart=dtstart)
    except ValueError as exc:
        if "UNTIL" not in str(exc):
            raise
        naive = rrulestr(body, dtstart=dtstart.replace(tzinfo=None))
        assert isinstance(naive, rrule)
        until: datetime = getattr(naive, "_until")  # noqa: B009 - dateutil keeps it private
        rule = naive.replace(dtstart=dtstart, until=until.replace(tzinfo=dtstart.tzinfo))
    if not isinstance(rule, rrule):
        raise ValueError("not a single RRULE")
    return rule


class _PastWindow(Exception):
    """dateutil reached a month after the window being evaluated: nothing more to find."""


_window = threading.local()  # .last: the last (year, month) worth searching, or absent


class _WindowIterInfo(dateutil_rrule._iterinfo):  # type: ignore[name-defined,misc]
    """dateutil's per-iteration calendar tables, refusing to build a month past the window."""

    def rebuild(self, year: int, month: int) -> Any:
        last = getattr(_window, "last", None)
        if last is not None and (year, month) > last:
            raise _PastWindow
        return super().rebuild(year, month)


dateutil_rrule._iterinfo = _WindowIterInfo  # type: ignore[attr-defined,misc]


def rule_occurrences(rule: rrule, start_at: datetime, end_at: datetime) -> Iterator[datetime]:
    """Occurrences of ``rule`` in ``[start_at, end_at)`` (aware), in order.

    The search ends one month after ``end_at`` (in the rule's timezone) whether or not
    the rule fires again, so a never-firing rule costs what its window costs. Callers that
    look repeatedly use :func:`window_occurrences`, computed once per rule and window.
    """
    dtstart: datetime = getattr(rule, "_dtstart")  # noqa: B009 - dateutil keeps it private
    local_end = end_at.astimezone(dtstart.tzinfo)
    last = (local_end.year, local_end.month + 1) if local_end.month < 12 else (local_end.year + 1, 1)
    outer = getattr(_window, "last", None)
    found = rule.xafter(start_at, inc=True)
    while True:
        _window.last = last
        try:
            occ = next(found)
        except (StopIteration, _PastWindow):
            return
        finally:
            _window.last = outer
        if occ >= end_at:
            return
        yield occ


@functools.lru_cache(maxsize=512)
def window_occurrences(text: str, dtstart: datetime, timezone: str, start_at: datetime,
                       end_at: datetime) -> tuple[datetime, ...]:
    """Every occurrence of rule ``text`` from ``dtstart``, evaluated in ``timezone``, in
    ``[start_at, end_at)``; memoized (a pure function of its arguments, which are part of
    the key: equal instants in other zones do not share an entry; the scheduler looks at
    the same window every step)."""
    return tuple(rule_occurrences(build_rule(text, dtstart.astimezone(zone(timezone))), start_at, end_at))


def check_rule_rate(rule: rrule, text: str, start_at: datetime, end_at: datetime) -> str | None:
    """Why the rule fires too often, or None."""
    freq: int = getattr(rule, "_freq")  # noqa: B009 - dateutil: YEARLY=0 .. SECONDLY=6
    interval: int = getattr(rule, "_interval")  # noqa: B009
    if freq == 6:
        return "FREQ=SECONDLY is not allowed"
    if freq == 5 and interval * 60 < MIN_INTERVAL_S:
        return f"fires every {interval} minute(s); at most once every {MIN_INTERVAL_S // 60} minutes"
    per_month: Counter[tuple[int, int]] = Counter()
    previous: datetime | None = None
    for occ in rule_occurrences(rule, start_at, end_at):
        if previous is not None and (occ - previous).total_seconds() < MIN_INTERVAL_S:
            return (f"fires at {previous.isoformat()} and {occ.isoformat()}; "
                    f"at most once every {MIN_INTERVAL_S // 60} minutes")
        previous = occ
        per_month[(occ.year, occ.month)] += 1
        if per_month[(occ.year, occ.month)] > MAX_SLOTS_PER_MONTH:
            return f"more than {MAX_SLOTS_PER_MONTH} occurrences in {occ.year}-{occ.month:02d}"
    return None
