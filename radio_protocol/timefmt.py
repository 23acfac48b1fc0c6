"""RFC 3339 times as docs/protocol.md wants them: explicit offset, millisecond precision."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from radio_protocol.names import MAX_TIME_CHARS, MAX_YEAR, MIN_YEAR

MAX_ZONE_CHARS = 64
"""Longest IANA timezone name accepted (the longest real one has 32 characters)."""


def format_rfc3339(at: datetime) -> str:
    """Format an aware datetime as ``2024-03-05T06:30:00.012+07:00``.

    Raises ValueError for a naive datetime: every time on the wire carries its offset.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("naive datetime: an explicit offset is required")
    ms = at.microsecond // 1000
    base = at.replace(microsecond=0).isoformat()  # ends with +HH:MM
    off = base[19:]
    if off in ("", "Z"):
        off = "+00:00"
    return f"{base[:19]}.{ms:03d}{off}"


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 time with an explicit offset into an aware datetime.

    Raises ValueError when the string is not such a time (naive times are rejected), is
    longer than ``MAX_TIME_CHARS``, or its year is outside ``MIN_YEAR..MAX_YEAR`` (so every
    time read can be converted to any zone and moved by a year without overflowing).
    """
    if not isinstance(text, str):
        raise ValueError(f"not a time string: {text!r}")
    if len(text) > MAX_TIME_CHARS:
        raise ValueError(f"not a time: longer than {MAX_TIME_CHARS} characters")
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    at = datetime.fromisoformat(s)
    if at.tzinfo is None:
        raise ValueError(f"time without offset: {text!r}")
    if not MIN_YEAR <= at.year <= MAX_YEAR:
        raise ValueError(f"time out of range (years {MIN_YEAR}..{MAX_YEAR}): {text!r}")
    return at


def parse_date(text: str) -> date:
    """Parse ``YYYY-MM-DD`` (years ``MIN_YEAR..MAX_YEAR``); raises ValueError otherwise."""
    if not isinstance(text, str) or len(text) != 10:
        raise ValueError(f"not a YYYY-MM-DD date: {text!r}")
    day = date.fromisoformat(text)
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValueError(f"date out of range (years {MIN_YEAR}..{MAX_YEAR}): {text!r}")
    return day


def zone(name: str) -> ZoneInfo:
    """The IANA timezone ``name``; raises ValueError with the name when unknown (a name
    that is not a string, longer than ``MAX_ZONE_CHARS``, or that the OS cannot look up
    as a file, e.g. ENAMETOOLONG, is unknown too)."""
    if not isinstance(name, str) or not 0 < len(name) <= MAX_ZONE_CHARS:
        shown = name[:MAX_ZONE_CHARS] + "..." if isinstance(name, str) and name else name
        raise ValueError(f"unknown IANA timezone {shown!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown IANA timezone {name!r}") from exc


def seconds(delta: timedelta) -> float:
    """A timedelta as float seconds (convenience for durations in payloads)."""
    return delta.total_seconds()
