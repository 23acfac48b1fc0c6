"""RFC 3339 times as docs/protocol.md wants them: explicit offset, millisecond precision."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


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

    Raises ValueError when the string is not such a time (naive times are rejected).
    """
    if not isinstance(text, str):
        raise ValueError(f"not a time string: {text!r}")
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    at = datetime.fromisoformat(s)
    if at.tzinfo is None:
        raise ValueError(f"time without offset: {text!r}")
    return at


def parse_date(text: str) -> date:
    """Parse ``YYYY-MM-DD``; raises ValueError otherwise."""
    if not isinstance(text, str) or len(text) != 10:
        raise ValueError(f"not a YYYY-MM-DD date: {text!r}")
    return date.fromisoformat(text)


def zone(name: str) -> ZoneInfo:
    """The IANA timezone ``name``; raises ValueError with the name when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA timezone {name!r}") from exc


def seconds(delta: timedelta) -> float:
    """A timedelta as float seconds (convenience for durations in payloads)."""
    return delta.total_seconds()
