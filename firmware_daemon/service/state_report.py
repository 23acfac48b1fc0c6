"""The daemon writes its state file (:mod:`firmware_daemon.service.state_file`).

:func:`install_state_file` is a ``Daemon.startup_hooks`` hook (``radio-station run`` adds
it): it writes the file at once, then from a daemon timer every ``interval_s`` (with a
simulated clock, at most every ``interval_s`` of real time, at the timer's turns), and at once, posted to the main thread, whenever the link's health
changes (:class:`~firmware_daemon.link.health.LinkHealth` listeners). The last write, at a
clean stop, sets ``daemon.stopped_at``. All collecting and writing happens in the daemon's
main thread (the schedule store and slot runner live there); a failing write is logged
and retried at the next turn, never stops the daemon.
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any

from firmware_daemon.link.health import LinkSnapshot
from firmware_daemon.service.state_file import (
    FORMAT,
    STATE_EVERY_S,
    state_file_path,
    write_state_file,
)
from radio_protocol.clock import Clock, SystemClock
from radio_protocol.jose import b64url_decode
from radio_protocol.schedule.expand import next_slots
from radio_protocol.timefmt import format_rfc3339

if TYPE_CHECKING:
    from datetime import datetime, tzinfo

    from firmware_daemon.daemon import Daemon

__all__ = ["StateReporter", "install_state_file"]

log = logging.getLogger(__name__)
LAST_AIRING_LOOKBACK = 8  # events read back from the last seq to find the last airing


class StateReporter:
    """Collects the daemon's state into the state file's JSON object and writes it.

    ``real_clock`` gives ``written_at``, ``started_at`` and the write pacing (default the
    system clock); the daemon's own clock gives the station's times (next slot, ...).
    """

    def __init__(self, daemon: Daemon, *, interval_s: float = STATE_EVERY_S,
                 real_clock: Clock | None = None) -> None:
        self.daemon = daemon
        self.interval_s = interval_s
        self.real = real_clock or SystemClock()
        self.path = state_file_path(daemon.config.data_dir)
        self.started_at = self.real.now()
        self.stopped_at: datetime | None = None
        self._written_mono = float("-inf")
        self._last_airing: tuple[int, dict[str, Any] | None] = (-1, None)
        self._failed = False

    # --- daemon wiring -----------------------------------------------------------------

    def install(self) -> None:
        """Write now, add the timer and the link listener, write a last time at stop."""
        daemon = self.daemon
        self.write()
        daemon.add_timer("state-file", self._timer, daemon.clock.monotonic())
        if daemon.link is not None:
            daemon.link.health.add_listener(lambda: daemon.post(self.write))
        daemon.stack.callback(self.final_write)

    def _timer(self, now_mono: float) -> float:
        if self.real.monotonic() - self._written_mono >= self.interval_s:
            self.write()
        if self.daemon.clock.simulated:  # never hold a simulated clock back
            return now_mono + max(self.interval_s, self.daemon.max_idle_s)
        return now_mono + self.interval_s

    def final_write(self) -> None:
        self.stopped_at = self.real.now()
        self.write()

    def write(self) -> None:
        """Collect and write the file (main thread); a failure is logged, not raised."""
        try:
            write_state_file(self.path, self.collect())
            self._written_mono = self.real.monotonic()
            if self._failed:
                log.info("state file written again path=%s", self.path)
            self._failed = False
        except Exception as exc:
            if not self._failed:
                log.warning("state file not written path=%s: %s (radio-station status will show "
                            "it stale)", self.path, exc)
            self._failed = True

    # --- the content --------------------------------------------------------------------

    def collect(self) -> dict[str, Any]:
        """The state file's JSON object now (members: :mod:`firmware_daemon.service.state_file`)."""
        d = self.daemon
        tz = d.tz
        outbox = d.outbox
        pending = outbox.pending_count() if outbox is not None else 0
        last_seq = outbox.last_seq() if outbox is not None else 0
        status = d.status
        schedule, next_slot = self._schedule(tz)
        return {
            "format": FORMAT,
            "station": d.config.station.id,
            "district": d.config.station.district,
            "written_at": _time(self.real.now(), tz),
            "interval_s": self.interval_s,
            "daemon": {"pid": os.getpid(), "started_at": _time(self.started_at, tz),
                       "stopped_at": _time(self.stopped_at, tz), "simulated": d.clock.simulated},
            "link": None if d.link is None else _link(d.link.health.snapshot(), tz, self.stopped_at),
            "outbox": {"pending": pending, "last_seq": last_seq},
            "schedule": schedule,
            "next_slot": next_slot,
            "media_missing": list(d.state.schedule.media_missing),
            "clock_synced": status.clock_synced() if status is not None else None,
            "amp_on": d.state.amp_on,
            "storage_error": d.state.storage_error,
            "last_airing": self._last_airing_of(last_seq),
        }

    def _schedule(self, tz: tzinfo) -> tuple[dict[str, Any], dict[str, Any] | None]:
        d = self.daemon
        live = d.state.schedule
        info: dict[str, Any] = {"version": None, "valid_from": None, "valid_until": None,
                                "in_force_since": None, "received_version": live.schedule_version,
                                "error": live.schedule_error}
        next_slot = None if live.next_slot is None else {
            "at": _time(live.next_slot, tz), "segment": None, "title": None, "priority": None}
        runner = d.slot_runner
        if runner is None:
            info["version"] = live.schedule_version
            return info, next_slot
        schedule, since_at = runner.in_force()
        if schedule is None:
            return info, None
        info.update(version=schedule.version, valid_from=schedule.valid_from.isoformat(),
                    valid_until=schedule.valid_until.isoformat(), in_force_since=_time(since_at, tz))
        upcoming = next_slots(schedule, d.clock.now(), 1, runner.store.done_keys())
        if not upcoming:
            return info, None
        slot = upcoming[0]
        return info, {"at": _time(slot.at, tz), "segment": slot.segment.id, "title": slot.segment.title,
                      "priority": slot.segment.priority}

    def _last_airing_of(self, last_seq: int) -> dict[str, Any] | None:
        """The newest airing event in the outbox (cached per ``last_seq``)."""
        seq, cached = self._last_airing
        outbox = self.daemon.outbox
        if seq == last_seq or outbox is None:
            return cached
        found = cached
        for jws in outbox.events(max(0, last_seq - LAST_AIRING_LOOKBACK)):
            try:
                payload = json.loads(b64url_decode(json.loads(jws)["payload"]))
            except (ValueError, KeyError, TypeError):
                continue
            if isinstance(payload, dict) and payload.get("type") == "airing":
                segment = payload.get("segment") or {}
                found = {"seq": payload.get("seq"), "outcome": payload.get("outcome"),
                         "reason": payload.get("reason"), "started_at": payload.get("started_at"),
                         "slot": payload.get("slot"), "segment": segment.get("id"),
                         "title": segment.get("title"), "program": segment.get("program")}
        self._last_airing = (last_seq, found)
        return found


def _time(at: datetime | None, tz: tzinfo) -> str | None:
    return None if at is None else format_rfc3339(at.astimezone(tz))


def _link(snap: LinkSnapshot, tz: tzinfo, stopped_at: datetime | None) -> dict[str, Any]:
    """The ``link`` member; at a clean stop (``stopped_at``) its state is ``stopped``."""
    err = snap.last_error
    state, since = ("stopped", stopped_at) if stopped_at is not None else (snap.state, snap.since)
    return {
        "state": state, "since": _time(since, tz), "broker": snap.broker, "tls": snap.tls,
        "failures": snap.failures, "failures_total": snap.failures_total,
        "connected_at": _time(snap.connected_at, tz),
        "last_error": None if err is None else {"kind": err.kind, "detail": err.detail,
                                                 "at": _time(err.at, tz)},
    }


def install_state_file(daemon: Daemon) -> None:
    """The ``Daemon.startup_hooks`` hook ``radio-station run`` adds: :meth:`StateReporter.install`."""
    StateReporter(daemon).install()
