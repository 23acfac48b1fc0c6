"""Evidence a crash or a lost outbox left unrecorded, recorded when the station starts.

:func:`recover_at_start` runs right after the outbox is opened (``radio-station run``
and ``play``), before anything else is recorded:

1. after a lost outbox (:class:`~firmware_daemon.airing.outbox_recovery.OutboxLoss`), the
   first event of the new outbox is a signed ``outbox-reset`` event saying what happened
   (:mod:`radio_protocol.messages.outbox_reset`);
2. an in-progress mark (:mod:`firmware_daemon.airing.in_progress`) means the station died
   while the amplifier was on: the airing is recorded ``interrupted`` with reason
   ``station-down``, ``amp.on_at`` from the mark, ``started_at`` and ``played_s`` from its
   last progress (so at least what is known went out), ``ended_at`` the last time the
   station was known alive in it, ``amp.off_at`` null (unknown). The mark is deleted in
   the same transaction. A scheduled slot's ``started`` state then finds this event
   (:func:`~firmware_daemon.schedule.restart.settle_after_restart`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import tzinfo
from typing import Any

from firmware_daemon.airing.in_progress import IN_PROGRESS_KEY, start_from_json
from firmware_daemon.airing.outbox import Outbox
from firmware_daemon.airing.outbox_recovery import OutboxLoss
from firmware_daemon.config import StationConfig
from firmware_daemon.service.sysinfo import boot_id as kernel_boot_id
from firmware_daemon.service.sysinfo import kernel_clock_synced
from radio_protocol.clock import Clock
from radio_protocol.messages.event import AiringEvent, Amp, Level, build_event
from radio_protocol.messages.outbox_reset import OutboxReset, build_outbox_reset

__all__ = ["recover_at_start"]

log = logging.getLogger(__name__)

STATION_DOWN = "station-down"


def recover_at_start(outbox: Outbox, loss: OutboxLoss | None, config: StationConfig, clock: Clock, *,
                     tz: tzinfo | None = None, boot_id: str | None = None,
                     clock_synced: Callable[[], bool] | None = None) -> list[dict[str, Any]]:
    """Record what a loss or a crash left unrecorded; the committed payloads, in order."""
    boot = boot_id or kernel_boot_id()
    synced = clock_synced or (lambda: clock.simulated or kernel_clock_synced())
    ident = config.station
    zone = tz or config.tz
    recorded: list[dict[str, Any]] = []
    if loss is not None:
        reset = OutboxReset(
            district=ident.district, station=ident.id, commune=ident.commune, seq=0, prev=None,
            at=clock.now(), reason=loss.reason, detail=loss.detail,
            last_known_seq=loss.last_known_seq, found_seq=loss.found_seq, moved_to=loss.moved_to,
            clock_synced=synced(), boot_id=boot)

        def reset_payload(seq: int, prev: str | None) -> dict[str, Any]:
            return build_outbox_reset(replace(reset, seq=seq, prev=prev), zone)

        entry = outbox.append(reset_payload)
        log.error("outbox reset recorded station=%s seq=%d reason=%s moved_to=%s", ident.id,
                  entry.seq, loss.reason, loss.moved_to)
        recorded.append(entry.payload)
    text = outbox.get_meta(IN_PROGRESS_KEY)
    if text is None:
        return recorded
    try:
        mark = start_from_json(text)
    except (ValueError, KeyError, TypeError) as exc:
        log.error("in-progress airing mark unreadable, dropped: %s", exc)
        outbox.delete_meta(IN_PROGRESS_KEY)
        return recorded
    event = AiringEvent(
        district=ident.district, station=ident.id, commune=ident.commune, seq=0, prev=None,
        segment=mark.segment, priority=mark.priority, schedule_version=mark.schedule_version,
        slot_at=mark.slot_at, started_at=mark.started_at or mark.amp_on_at,
        ended_at=mark.progress_at or mark.amp_on_at, played_s=mark.played_s, media_s=mark.media_s,
        outcome="interrupted", reason=STATION_DOWN, amp=Amp(mark.amp_on_at, None, None),
        level=Level(), clock_synced=synced(), boot_id=boot)

    def airing_payload(seq: int, prev: str | None) -> dict[str, Any]:
        return build_event(replace(event, seq=seq, prev=prev), zone)

    entry = outbox.append(airing_payload, done_meta=IN_PROGRESS_KEY)
    log.warning("airing interrupted station=%s seq=%d segment=%s reason=%s played_s=%.3f "
                "(the station stopped while it aired)", ident.id, entry.seq, mark.segment.id,
                STATION_DOWN, mark.played_s)
    recorded.append(entry.payload)
    return recorded
