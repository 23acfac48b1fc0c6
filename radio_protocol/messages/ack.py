"""The district's ack (docs/protocol.md, "ack" and "Delivery rule"): model, parser, builder.

An ack says: the district has durably stored every seq ``1..through`` of ``station`` and
each seq in ``also`` (single seqs stored past a gap). A district builds one only after
the events it covers are committed; a station drops an event from its outbox only when a
verified ack covers it. :func:`within_recorded` keeps an ack from covering seqs a station
never recorded.

:func:`parse_ack` raises :class:`~radio_protocol.errors.AckError` (reason ``invalid-ack``);
``through`` absent reads as 0 and ``also`` absent as empty (nothing acknowledged).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from radio_protocol import PROTOCOL_VERSION
from radio_protocol.errors import AckError
from radio_protocol.messages.fields import format_time, is_int, is_str, time_member
from radio_protocol.names import MAX_NAME_CHARS

MAX_ACK_ALSO = 100_000
"""Most seqs an ``also`` list may hold (a district sends at most its ``ack.max_also``)."""


@dataclass(frozen=True)
class Ack:
    """``also`` sorted and unique, every seq in it >= 1; ``at`` aware (None if not given)."""

    station: str
    through: int
    also: tuple[int, ...] = ()
    at: datetime | None = None


def build_ack(ack: Ack, tz: tzinfo | None = None) -> dict[str, Any]:
    """The payload of ``ack``; ``at`` converted to ``tz`` when given."""
    return {"v": PROTOCOL_VERSION, "type": "ack", "station": ack.station, "through": ack.through,
            "also": list(ack.also), "at": format_time(ack.at, tz)}


def parse_ack(payload: Mapping[str, Any], station: str | None = None) -> Ack:
    """The :class:`Ack` of a verified payload; with ``station``, it must name that one.

    Raises AckError naming what is wrong.
    """
    if not isinstance(payload, Mapping) or payload.get("type") != "ack":
        kind = payload.get("type") if isinstance(payload, Mapping) else None
        raise AckError(f"type {kind!r} is not ack")
    named = payload.get("station")
    if station is not None and named != station:
        raise AckError(f"ack names station {named!r}, not ours")
    if not isinstance(named, str):
        raise AckError(f"station must be a string, got {named!r}")
    if not is_str(named):
        raise AckError(f"station must be at most {MAX_NAME_CHARS} characters, got {len(named)}")
    if payload.get("v", 1) != 1:
        raise AckError(f"v must be 1, got {payload.get('v')!r}")
    through = payload.get("through", 0)
    if not is_int(through) or through < 0:
        raise AckError(f"through must be an integer >= 0, got {through!r}")
    also = payload.get("also", [])
    if not isinstance(also, list) or len(also) > MAX_ACK_ALSO:
        raise AckError("also must be a list of seqs")
    for seq in also:
        if not is_int(seq) or seq < 1:
            raise AckError(f"also holds a bad seq {seq!r}")
    at = time_member(payload, "at", True, lambda d: AckError(d.replace(": ", " is ", 1)))
    return Ack(named, through, tuple(sorted(set(also))), at)


def within_recorded(through: int, also: Sequence[int], last_seq: int) -> tuple[int, list[int]] | None:
    """The ack cut down to seqs <= ``last_seq``; None when it already was within them.

    ``also`` sorted. An ack for seqs a station has not recorded (e.g. an outbox replaced
    after an SD card failure) must never cover events it records later.
    """
    if through <= last_seq and not (also and also[-1] > last_seq):
        return None
    return min(through, last_seq), [seq for seq in also if seq <= last_seq]
