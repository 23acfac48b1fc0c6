"""Member checks shared by the message parsers: JSON types as the protocol means them.

JSON has no integer type of its own and Python's ``bool`` is an ``int``: these helpers
say "integer" and "number" the way docs/protocol.md does (``true`` is neither), within
its bounds (section "Bounds"): an integer fits a signed 64-bit integer, a number is
finite and within the same range, a string has a bounded length. Each
``*_member`` reads one member of a payload and raises the caller's error class with a
detail that names the member (``seq: must be an integer >= 1, got 0``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from typing import Any

from radio_protocol.errors import MessageError
from radio_protocol.names import MAX_NAME_CHARS, MAX_SEQ
from radio_protocol.timefmt import format_rfc3339, parse_rfc3339

ErrorFactory = Callable[[str], MessageError]


def is_int(value: Any) -> bool:
    """An integer that is not a boolean, in ``-MAX_SEQ..MAX_SEQ`` (a signed 64-bit integer)."""
    return isinstance(value, int) and not isinstance(value, bool) and -MAX_SEQ <= value <= MAX_SEQ


def is_num(value: Any) -> bool:
    """An integer (as :func:`is_int`) or a finite float, not a boolean."""
    if isinstance(value, float):
        return math.isfinite(value) and -MAX_SEQ <= value <= MAX_SEQ
    return is_int(value)


def is_str(value: Any, max_chars: int = MAX_NAME_CHARS) -> bool:
    """A string of at most ``max_chars`` characters."""
    return isinstance(value, str) and len(value) <= max_chars


def time_member(payload: Mapping[str, Any], name: str, nullable: bool, error: ErrorFactory,
                what: str = "not an RFC 3339 time with offset") -> datetime | None:
    """Member ``name`` as an aware datetime (None when absent or null and ``nullable``)."""
    value: Any = payload.get(name)
    if value is None and nullable:
        return None
    try:
        return parse_rfc3339(value)
    except (ValueError, TypeError) as exc:
        raise error(f"{name}: {what}: {value!r}") from exc


def optional_member(payload: Mapping[str, Any], name: str, ok: Callable[[Any], bool], what: str,
                    error: ErrorFactory, prefix: str = "") -> Any:
    """Member ``name``, None when absent or null; raises when present and not ``ok``."""
    value = payload.get(name)
    if value is not None and not ok(value):
        raise error(f"{prefix}{name}: must be {what}, got {value!r}")
    return value


def format_time(at: datetime | None, tz: tzinfo | None) -> str | None:
    """``at`` as RFC 3339 with ms, converted to ``tz`` when one is given; None stays None."""
    if at is None:
        return None
    return format_rfc3339(at.astimezone(tz) if tz is not None else at)
