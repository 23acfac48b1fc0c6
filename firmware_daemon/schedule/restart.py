"""Settling the slots a crash left half-done, when the slot runner starts.

The runner marks a slot ``started`` (or ``missing``) in the schedule store durably
*before* it airs it (or records the miss). After a crash, such a slot either has its
event in the outbox (the airing or the miss was recorded: the slot becomes ``aired`` /
``missed``) or it has none: then the station records it now, ``missed`` or ``failed``
with reason ``station-down`` (state ``aborted`` for a started airing), so no slot is
ever silently lost nor recorded twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol

from firmware_daemon.schedule.store import ScheduleStore
from radio_protocol.clock import Clock
from radio_protocol.jose import parse_jws
from radio_protocol.messages.event import Segment
from radio_protocol.schedule.expand import Slot
from radio_protocol.schedule.model import Schedule

log = logging.getLogger(__name__)


class EvidenceRecorder(Protocol):
    """The part of :class:`firmware_daemon.airing.airer.Airer` that records without airing."""

    def record_missed(self, segment: Segment, *, slot_at: datetime, reason: str,
                      schedule_version: int | None = None,
                      priority: str | None = None) -> dict[str, Any]: ...

    def record_failed(self, segment: Segment, *, reason: str, slot_at: datetime | None = None,
                      schedule_version: int | None = None, priority: str | None = None,
                      media_s: float | None = None) -> dict[str, Any]: ...


class EventSource(Protocol):
    """The outbox, read-only: used after a restart to settle slots left half-done."""

    def events(self, since_seq: int = 0) -> Iterator[bytes]: ...

    def last_seq(self) -> int: ...


def event_segment(schedule: Schedule, slot: Slot) -> Segment:
    """The event's ``segment`` member for ``slot`` of ``schedule``."""
    seg = slot.segment
    return Segment(id=seg.id, title=seg.title, program=seg.program, topic=seg.topic,
                   sha256=seg.media.sha256, priority=seg.priority)


def settle_after_restart(store: ScheduleStore, recorder: EvidenceRecorder, outbox: EventSource | None,
                         clock: Clock) -> None:
    """Slots left ``started``/``missing`` by a crash: find their event or record one."""
    schedule = store.current
    pending = store.slots_in_state("started", "missing")
    if not pending:
        return
    for record in pending:
        found = event_in_outbox(outbox, record.slot_at, record.segment, record.last_seq)
        now_at = clock.now()
        slot_at = datetime.fromisoformat(record.slot_at)
        state = {"started": "aired", "missing": "missed"}[record.state]
        if not found and schedule is not None:
            try:
                seg = schedule.segment(record.segment)
            except KeyError:
                seg = None
            if seg is not None:
                segment = event_segment(schedule, Slot(slot_at, seg, 0))
                if record.state == "missing":
                    recorder.record_missed(segment, slot_at=slot_at, reason="station-down",
                                           schedule_version=record.version, priority=seg.priority)
                else:
                    recorder.record_failed(segment, reason="station-down", slot_at=slot_at,
                                           schedule_version=record.version, priority=seg.priority)
                    state = "aborted"
        log.warning("slot settled after restart slot=%s state=%s event_found=%s",
                    record.key, state, found)
        store.mark(record.key, slot_at, record.segment, record.version, state, now_at)


def event_in_outbox(outbox: EventSource | None, slot_at_text: str, segment_id: str,
                    since_seq: int | None) -> bool:
    """Whether the outbox holds, after ``since_seq``, an event for this slot and segment."""
    if outbox is None:
        return False
    want = datetime.fromisoformat(slot_at_text)
    for jws in outbox.events(since_seq or 0):
        try:
            payload = json.loads(parse_jws(jws)[2])
            slot = payload.get("slot")
            if (slot and payload.get("segment", {}).get("id") == segment_id
                    and datetime.fromisoformat(slot) == want):
                return True
        except Exception:  # an unreadable event is not ours to judge here
            continue
    return False
