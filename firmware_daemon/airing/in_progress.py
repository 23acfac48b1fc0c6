"""The airing in progress, recorded durably before the amplifier goes on.

Before :class:`~firmware_daemon.airing.airer.Airer` switches the amplifier on it stores an
:class:`AiringStart` in the outbox's ``meta`` table (SQLite WAL, ``synchronous=FULL``:
committed when the call returns) under :data:`IN_PROGRESS_KEY`; while the audio plays it
rewrites it every :data:`PROGRESS_MARK_S` seconds with what has gone out so far; the
transaction that commits the airing's event deletes it. So a mark that is still there at
start means the station died mid-airing: :func:`~firmware_daemon.airing.start_recovery.recover_at_start`
records an honest ``interrupted`` event (reason ``station-down``, ``amp.on_at`` set,
``played_s`` at least what the last mark says) instead of none.

Stored as one JSON object; times RFC 3339.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from radio_protocol.messages.event import Segment
from radio_protocol.timefmt import format_rfc3339, parse_rfc3339

__all__ = ["IN_PROGRESS_KEY", "PROGRESS_MARK_S", "AiringStart", "start_from_json", "start_to_json"]

IN_PROGRESS_KEY = "airing_in_progress"
PROGRESS_MARK_S = 10.0
"""Seconds of audio between two progress marks (each is one small durable write)."""

_TIMES = ("slot_at", "attempt_at", "amp_on_at", "started_at", "progress_at")


@dataclass(frozen=True)
class AiringStart:
    """An airing whose amplifier is (about to be) on: what its event needs after a crash.

    ``played_s`` seconds of audio had gone out at ``progress_at`` (0 and None before the
    first block); ``started_at`` is when the first sample went out (None before).
    """

    segment: Segment
    priority: str
    schedule_version: int | None
    slot_at: datetime | None
    attempt_at: datetime
    amp_on_at: datetime
    media_s: float | None
    started_at: datetime | None = None
    played_s: float = 0.0
    progress_at: datetime | None = None

    def progressed(self, started_at: datetime | None, played_s: float, at: datetime) -> AiringStart:
        """This mark with the audio's progress at ``at``."""
        return replace(self, started_at=started_at, played_s=played_s, progress_at=at)


def start_to_json(start: AiringStart) -> str:
    data: dict[str, Any] = asdict(start)
    for name in _TIMES:
        value = data[name]
        data[name] = None if value is None else format_rfc3339(value)
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def start_from_json(text: str) -> AiringStart:
    """The mark stored as ``text``. Raises ValueError (or KeyError/TypeError) when it
    does not read."""
    data = json.loads(text)
    for name in _TIMES:
        value = data.get(name)
        data[name] = None if value is None else parse_rfc3339(value)
    data["segment"] = Segment(**data["segment"])
    return AiringStart(**data)
