"""The station's signed ``status`` message: where its values come from.

The payload (model, members and their order, builder, parser) is
:mod:`radio_protocol.messages.status`. Where the values come from:

- :class:`StationState` is a small thread-safe holder the daemon shares between
  threads. The amp state is read from ``amp_source`` (the daemon passes
  ``lambda: amplifier.is_on``) or else set with ``set_amp(True/False)``;
  the scheduler calls ``set_schedule(ScheduleState(...))``; ``storage_source`` (the
  daemon passes its :class:`~firmware_daemon.service.storage.StorageGuard`'s ``error``)
  gives ``storage_error``. Reading it never blocks
  for long, so the MQTT link's thread can build a status at any time.
- ``outbox_pending`` and ``last_seq`` are passed in by the caller (the link reads
  them from its own outbox connection).
- ``clock_synced`` comes from a callable (``sysinfo.kernel_clock_synced`` on a Pi;
  a simulated clock counts as synchronized).

:meth:`StatusBuilder.change_key` tells the link when something worth a new
retained status changed (amp, schedule, clock) versus only the outbox counters,
which the link publishes on a slower rate limit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from radio_protocol import SW_VERSION
from radio_protocol.clock import Clock
from radio_protocol.jose import Signer
from radio_protocol.messages.status import Status, build_status
from radio_protocol.names import STATUS_TYP

__all__ = ["CLOCK_PROBE_S", "ScheduleState", "StationState", "StatusBuilder"]
CLOCK_PROBE_S = 30.0


@dataclass(frozen=True)
class ScheduleState:
    """What the scheduler reports about its schedule (all optional until it has one).

    ``next_slot`` is an aware datetime (formatted in the station's timezone) or None;
    ``media_missing`` lists segment ids whose media is not in the cache.
    """

    schedule_version: int | None = None
    schedule_error: str | None = None
    next_slot: datetime | None = None
    media_missing: tuple[str, ...] = field(default_factory=tuple)


class StationState:
    """Live, thread-safe facts about the station that go into its status."""

    def __init__(self, amp_on: bool = False, schedule: ScheduleState | None = None,
                 amp_source: Callable[[], bool] | None = None) -> None:
        self._lock = threading.Lock()
        self._amp_on = amp_on
        self.amp_source = amp_source
        self._schedule = schedule or ScheduleState()
        self._listeners: list[Callable[[], None]] = []
        self.storage_source: Callable[[], str | None] | None = None

    def add_listener(self, listener: Callable[[], None]) -> None:
        """``listener()`` is called (in the setter's thread) after each change; must not block."""
        with self._lock:
            self._listeners.append(listener)

    def _changed(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    @property
    def amp_on(self) -> bool:
        """The amplifier's state: read from ``amp_source`` (e.g. ``Amplifier.is_on``) if set."""
        source = self.amp_source
        if source is not None:
            try:
                return bool(source())
            except Exception:  # a closed or failing relay reads as off
                return False
        with self._lock:
            return self._amp_on

    @property
    def storage_error(self) -> str | None:
        """What is wrong with the station's storage (disk full, outbox reset), or None."""
        source = self.storage_source
        if source is None:
            return None
        try:
            return source()
        except Exception:  # a status must never fail because of a probe
            return "storage state unknown"

    def storage_changed(self) -> None:
        """``storage_source``'s answer changed: tell the listeners (a new status is due)."""
        self._changed()

    @property
    def schedule(self) -> ScheduleState:
        with self._lock:
            return self._schedule

    def set_amp(self, on: bool) -> None:
        with self._lock:
            changed = self._amp_on != on
            self._amp_on = on
        if changed:
            self._changed()

    def set_schedule(self, schedule: ScheduleState) -> None:
        with self._lock:
            changed = self._schedule != schedule
            self._schedule = schedule
        if changed:
            self._changed()


class StatusBuilder:
    """Builds and signs this station's status payloads from live state.

    ``clock_synced`` is a callable; a simulated clock always counts as synchronized.
    Safe to call from any thread.
    """

    def __init__(
        self,
        *,
        station: str,
        signer: Signer,
        clock: Clock,
        state: StationState,
        clock_synced: Callable[[], bool],
        tz: tzinfo | None = None,
        sw: str = SW_VERSION,
    ) -> None:
        self.station = station
        self.signer = signer
        self.clock = clock
        self.state = state
        self._clock_synced = clock_synced
        self.tz = tz
        self.sw = sw
        self.started_mono = clock.monotonic()
        self._synced_cache: tuple[bool, float] | None = None

    def clock_synced(self) -> bool:
        """The probe's answer, asked at most every ``CLOCK_PROBE_S`` (it may be costly)."""
        if self.clock.simulated:
            return True
        now_mono = self.clock.monotonic()
        cached = self._synced_cache
        if cached is not None and now_mono - cached[1] < CLOCK_PROBE_S:
            return cached[0]
        try:
            synced = bool(self._clock_synced())
        except Exception:  # a status must never fail because of a probe
            synced = False
        self._synced_cache = (synced, now_mono)
        return synced

    def status(self, state: str, *, outbox_pending: int, last_seq: int) -> Status:
        """This station's :class:`~radio_protocol.messages.status.Status` now: live state,
        the caller's outbox counters, uptime since this builder was made."""
        schedule = self.state.schedule
        return Status(
            station=self.station, state=state, at=self.clock.now(),
            schedule_version=schedule.schedule_version, schedule_error=schedule.schedule_error,
            next_slot=schedule.next_slot, media_missing=tuple(schedule.media_missing),
            outbox_pending=outbox_pending, last_seq=last_seq, clock_synced=self.clock_synced(),
            amp_on=self.state.amp_on, sw=self.sw, uptime_s=self.clock.monotonic() - self.started_mono,
            storage_error=self.state.storage_error,
        )

    def payload(self, state: str, *, outbox_pending: int, last_seq: int) -> dict[str, Any]:
        """The status payload (:func:`~radio_protocol.messages.status.build_status`), times in
        ``tz`` (default: as the clock and scheduler give them). Raises ValueError for an
        unknown ``state``."""
        return build_status(self.status(state, outbox_pending=outbox_pending, last_seq=last_seq), self.tz)

    def signed(self, state: str, *, outbox_pending: int, last_seq: int) -> bytes:
        """The flattened JWS (typ ``cr-status+json``) of a fresh status payload."""
        return self.signer.sign(
            self.payload(state, outbox_pending=outbox_pending, last_seq=last_seq), STATUS_TYP
        )

    def change_key(self) -> tuple[Any, ...]:
        """The members whose change deserves a prompt new status (not the outbox counters)."""
        schedule = self.state.schedule
        return (
            self.state.amp_on,
            schedule.schedule_version,
            schedule.schedule_error,
            schedule.next_slot,
            tuple(schedule.media_missing),
            self.clock_synced(),
            self.state.storage_error,
        )
