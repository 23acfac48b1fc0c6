"""The runtime that airs the schedule in force: on time, once, and never silently skipped.

:class:`SlotRunner` is driven by :meth:`SlotRunner.step` (one look at the clock; returns
how many seconds to wait) or by :meth:`SlotRunner.run` (the loop). It waits on the
*monotonic* clock in short steps (``max_step_s``) and re-reads wall time after each one,
so an NTP step of the wall clock neither airs a slot twice (slots are keyed and marked
``started`` durably before they air) nor skips one silently (a slot that passed beyond
``grace_s`` is recorded once as ``missed`` with a reason).

- The airing starts ``warmup_s`` + ``prepare_lead_s`` before the slot:
  :class:`~firmware_daemon.airing.airer.Airer` opens the media and the stream, switches the amp
  on ``warmup_s`` before the slot and writes the first block at the slot time.
- Missed reasons: ``station-down`` (the slot passed before this process started),
  ``expired`` (a bulletin slot's ``until`` passed before it could air; ``media-missing``
  when it was still waiting for its media then),
  ``clock-unsynced`` (the wall clock stepped over it, or airings were waiting for a
  synchronized clock), ``overrun`` (the station was busy airing something else).
- If the kernel clock is not synchronized and ``require_synced_clock`` is true, scheduled
  airings wait and ``schedule_error`` in the status says why. A simulated clock counts
  as synchronized.
- Priority: an airing runs in a worker thread; a due ``emergency`` slot stops a
  ``normal`` or ``priority`` airing (recorded ``interrupted``, reason ``preempted``) and
  airs. Otherwise slots play one after the other: at the same time the higher priority
  first, equal priority in slot order.
- Media missing or corrupt at slot time: a ``failed`` event (``media-missing`` /
  ``media-corrupt``); a bulletin slot (with ``until``) waits for its media instead.

Media is fetched by a background thread (:meth:`start_fetcher`) as soon as a schedule
is accepted, retried every ``fetch_retry_s``; media no schedule refers to is pruned. Until
a new schedule's media is complete and verified, the schedule it replaced
(``store.previous``) airs its still-valid slots and keeps its media; the status reports
the new one's ``media_missing`` and a ``media-missing:`` ``schedule_error``.

Slots a crash left half-done are settled when the runner is built
(:mod:`firmware_daemon.schedule.restart`); the daemon wires the runner in through
:meth:`firmware_daemon.daemon.Daemon.attach_scheduler`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from firmware_daemon.schedule.media_cache import MediaCache
from firmware_daemon.schedule.restart import EventSource, event_segment, settle_after_restart
from firmware_daemon.schedule.slot_airing import Airing, SlotAirer
from firmware_daemon.schedule.store import OfferResult, ScheduleStore
from firmware_daemon.service.status import ScheduleState, StationState
from hal.errors import MediaError
from radio_protocol.clock import Clock
from radio_protocol.schedule.expand import Slot, due_slots, next_slots
from radio_protocol.schedule.model import PRIORITY_RANK, Schedule

log = logging.getLogger(__name__)

STEP_DETECT_S = 2.0  # a wall/monotonic disagreement above this is a clock step
BUSY_POLL_S = 0.05  # real seconds between looks while an airing runs
BUSY_CHECK_EVERY = 10  # ... and a full step (pre-emption, misses) every this many looks
SIMULATED_IDLE_S = 3600.0  # simulated clock with no slot left: look again an hour later
PREEMPT_RANK = PRIORITY_RANK["emergency"]  # only an emergency stops an airing in progress
PREPARE_LEAD_S = 1.0  # an airing starts this much earlier still, to open media and stream
UNSYNCED_MESSAGE = "clock-unsynced: scheduled airings wait for a synchronized clock"


class SlotRunner:
    """Airs the slots of ``store.current`` through ``airer``; see the module docstring."""

    def __init__(self, *, store: ScheduleStore, cache: MediaCache, airer: SlotAirer, clock: Clock,
                 warmup_s: float, grace_s: float = 600.0, require_synced_clock: bool = True,
                 clock_synced: Callable[[], bool] | None = None, state: StationState | None = None,
                 outbox: EventSource | None = None, max_step_s: float = 1.0,
                 fetch_retry_s: float = 60.0, on_event: Callable[[], None] | None = None,
                 prepare_lead_s: float = PREPARE_LEAD_S) -> None:
        self.store = store
        self.cache = cache
        self.airer = airer
        self.clock = clock
        self.warmup_s = warmup_s
        self.lead_s = warmup_s + prepare_lead_s  # how long before its slot an airing starts
        self.grace_s = grace_s
        self.require_synced_clock = require_synced_clock
        if clock_synced is None:
            from firmware_daemon.service.sysinfo import kernel_clock_synced
            clock_synced = kernel_clock_synced
        self._clock_synced = clock_synced
        self.state = state
        self.outbox = outbox
        self.max_step_s = max_step_s
        self.fetch_retry_s = fetch_retry_s
        self._on_event = on_event or (lambda: None)
        self.waiting_reason: str | None = None
        self._airing: Airing | None = None
        self._busy_polls = 0
        self._started_at = clock.now()
        self._unsynced_seen_at: datetime | None = None
        self._waiting_since: dict[str, datetime] = {}  # slot key -> when it began to wait
        self._last_mono = clock.monotonic()
        self._last_wall = self._started_at
        self._fetch_kick = threading.Event()
        self._fetch_stop = threading.Event()
        self._fetcher: threading.Thread | None = None
        self._media_missing: tuple[str, ...] = tuple(cache.missing(store.current))
        settle_after_restart(store, airer, outbox, clock)

    # --- schedules from the network ------------------------------------------------------

    def on_schedule(self, raw: bytes) -> OfferResult:
        """Offer a schedule JWS (from the link thread); kicks the media fetcher. Never raises."""
        result = self.store.offer(raw, self.clock.now())
        if result.accepted:
            self._media_missing = tuple(self.cache.missing(self.store.current))
            self._release_if_complete()
            if self.clock.simulated:
                self.fetch_now()  # simulated time must not run ahead of the download
            else:
                self._fetch_kick.set()
        self.publish_state()
        return result

    def start_fetcher(self) -> None:
        if self._fetcher is None:
            self._fetcher = threading.Thread(target=self._fetch_loop, name="media-fetch", daemon=True)
            self._fetch_kick.set()
            self._fetcher.start()

    def fetch_now(self) -> list[str]:
        """Fetch the current schedule's media, prune what no schedule uses; the missing ids."""
        schedule = self.store.current
        missing = self.cache.fetch_all(schedule)
        self.cache.fetch_all(self.store.previous)  # a damaged file of the one airing meanwhile
        self._release_if_complete()
        previous = self.store.previous
        if schedule is not None:
            self.cache.prune({seg.media.sha256 for kept in (schedule, previous) if kept is not None
                              for seg in kept.segments})
        self._media_missing = tuple(missing)
        self.publish_state()
        return missing

    def _release_if_complete(self) -> None:
        """Put the current schedule in force once its media is complete and verified."""
        current = self.store.current
        if current is not None and self.store.previous is not None and self.cache.complete(current):
            self.store.release_previous(self.clock.now())

    def in_force(self) -> tuple[Schedule | None, datetime | None]:
        """The schedule to air and when it came in force: the current one, or the previous
        one while the current one's media is incomplete."""
        previous = self.store.previous
        if previous is not None:
            return previous, self.store.previous_since_at
        return self.store.current, self.store.since_at

    def _fetch_loop(self) -> None:
        while not self._fetch_stop.is_set():
            self._fetch_kick.wait(self.fetch_retry_s)
            if self._fetch_stop.is_set():
                return
            self._fetch_kick.clear()
            try:
                self.fetch_now()
            except Exception:  # a failing fetch must never kill the fetcher
                log.exception("media fetch round failed")

    # --- status --------------------------------------------------------------------------

    def schedule_state(self) -> ScheduleState:
        schedule = self.store.current
        airing, _ = self.in_force()
        upcoming = next_slots(airing, self.clock.now(), 1, self.store.done_keys()) if airing else []
        media_wait = None
        if schedule is not None and airing is not None and airing is not schedule:
            media_wait = (f"media-missing: schedule version {schedule.version} waits for its media; "
                          f"version {airing.version} airs meanwhile")
        return ScheduleState(
            schedule_version=schedule.version if schedule else None,
            schedule_error="; ".join(e for e in (self.store.error, media_wait, self.waiting_reason)
                                     if e) or None,
            next_slot=upcoming[0].at if upcoming else None,
            media_missing=self._media_missing,
        )

    def publish_state(self) -> None:
        if self.state is not None:
            self.state.set_schedule(self.schedule_state())

    # --- the loop ------------------------------------------------------------------------

    def run(self, stop: threading.Event, until_at: datetime | None = None) -> None:
        """Air slots until ``stop`` is set (or wall time reaches ``until_at``); then stop
        any airing in progress (recorded ``interrupted``/``shutdown``) and return."""
        try:
            while not stop.is_set():
                if until_at is not None and self.clock.now() >= until_at and self._airing is None:
                    return
                wait_s = self.step()
                if self._airing is not None:
                    self._airing.thread.join(BUSY_POLL_S)
                elif wait_s > 0:
                    if until_at is not None:
                        wait_s = min(wait_s, max(0.0, (until_at - self.clock.now()).total_seconds()))
                    if self.clock.simulated:
                        self.clock.sleep(wait_s)
                    else:
                        stop.wait(wait_s)
        finally:
            self.shutdown()

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """Stop the airing in progress (if any) and the fetcher; wait for them."""
        self._fetch_stop.set()
        self._fetch_kick.set()
        airing = self._airing
        if airing is not None:
            airing.stop_now("shutdown")
            airing.thread.join(timeout_s)
            self._finish_airing()

    def timer(self, now_mono: float) -> float:
        """A :meth:`Daemon.add_timer` callback: one :meth:`step`; the monotonic time of the
        next. While an airing runs it waits (real time, on the airing thread) a moment
        first, so a simulated clock is not run ahead by this thread during the airing; a
        simulated clock is also held until a schedule is in force."""
        airing = self._airing
        if airing is not None:
            airing.thread.join(BUSY_POLL_S)
            self._busy_polls += 1
            if airing.thread.is_alive() and self._busy_polls % BUSY_CHECK_EVERY:
                return self.clock.monotonic()  # the full look (pre-emption) twice a second
        elif self.clock.simulated and self.store.current is None:
            # simulated time starts once a schedule is in force (it may still be on its
            # way from the broker): hold the clock, let the daemon run posted work
            self._fetch_stop.wait(BUSY_POLL_S)
            return self.clock.monotonic()
        wait_s = self.step()
        return self.clock.monotonic() + wait_s

    @property
    def busy(self) -> bool:
        return self._airing is not None

    @property
    def current_airing(self) -> Airing | None:
        """The airing in progress, None between airings (thread safe to read: one reference).

        A new object for each airing, so a watcher can tell one airing from the next.
        """
        return self._airing

    def step(self) -> float:
        """Look at the clock once: settle finished airings, record misses, start what is due.

        Returns the seconds to wait before the next step (0 when there is more to do).
        """
        now_at = self.clock.now()
        stepped = self._detect_wall_step(now_at)
        self._finish_airing()
        schedule, since_at = self.in_force()
        if schedule is None:
            self.publish_state()
            return self.max_step_s
        done = self.store.done_keys()
        due = due_slots(schedule, now_at, done=done, since_at=since_at,
                        grace_s=self.grace_s, lead_s=self.lead_s)
        # a bulletin (a slot with ``until``) waits for its media instead of failing at once
        ready = tuple(s for s in due.ready if s.until is None or s.segment.id not in self._media_missing)
        synced = self.clock.simulated or not self.require_synced_clock or self._clock_synced()
        self.waiting_reason = None if synced else UNSYNCED_MESSAGE
        if not synced:
            self._unsynced_seen_at = now_at
        for slot in due.missed:
            if self._airing is not None and self._airing.slot.key == slot.key:
                continue
            self._record_missed(schedule, slot, self._miss_reason(slot, stepped, synced))
        busy = self._airing
        if busy is not None:
            better = [s for s in ready if s.rank > busy.slot.rank and s.rank >= PREEMPT_RANK]
            if better:
                log.info("airing preempted slot=%s by=%s", busy.slot.key, better[0].key)
                busy.stop_now("preempted")
            self.publish_state()
            return 0.0
        if not synced:
            self._log_waiting(schedule, ready, now_at)
            self.publish_state()
            return self.max_step_s
        if ready:
            self._start(schedule, ready[0])
            self.publish_state()
            return 0.0
        self.publish_state()
        if due.next_at is None:
            return self.max_step_s if not self.clock.simulated else self._until_end(schedule, now_at)
        wait_s = max(0.0, (due.next_at - now_at).total_seconds())
        return wait_s if self.clock.simulated else min(wait_s, self.max_step_s)

    def _until_end(self, schedule: Schedule, now_at: datetime) -> float:
        """Simulated clock, nothing left to air: jump to the schedule's end, then by hours."""
        return max(SIMULATED_IDLE_S if now_at >= schedule.end_at else self.max_step_s,
                   (schedule.end_at - now_at).total_seconds())

    def _detect_wall_step(self, now_at: datetime) -> bool:
        now_mono = self.clock.monotonic()
        expected = self._last_wall + timedelta(seconds=now_mono - self._last_mono)
        jump_s = (now_at - expected).total_seconds()
        self._last_mono, self._last_wall = now_mono, now_at
        if abs(jump_s) > STEP_DETECT_S:
            log.warning("wall clock stepped by %.1f s", jump_s)
            return True
        return False

    def _miss_reason(self, slot: Slot, stepped: bool, synced: bool) -> str:
        if slot.until is not None:  # a bulletin whose validity ended before it could air
            return "media-missing" if slot.segment.id in self._media_missing else "expired"
        if slot.at + timedelta(seconds=self.grace_s) <= self._started_at:
            return "station-down"
        unsynced = self._unsynced_seen_at
        lead = timedelta(seconds=self.lead_s)
        if stepped or not synced or (unsynced is not None and unsynced >= slot.at - lead):
            return "clock-unsynced"
        return "overrun"

    def _log_waiting(self, schedule: Schedule, ready: tuple[Slot, ...], now_at: datetime) -> None:
        """Once per slot: it would start now but waits for a synchronized clock."""
        for slot in ready:
            if slot.key not in self._waiting_since:
                self._waiting_since[slot.key] = now_at
                log.warning("slot waiting reason=clock-unsynced slot=%s station=%s",
                            slot.key, schedule.station)

    def _end_waiting(self, schedule: Schedule, slot: Slot, outcome: str) -> None:
        since = self._waiting_since.pop(slot.key, None)
        if since is not None:
            waited_s = (self.clock.now() - since).total_seconds()
            log.warning("slot waited reason=clock-unsynced slot=%s station=%s waited_s=%.0f "
                        "outcome=%s", slot.key, schedule.station, waited_s, outcome)

    # --- recording -----------------------------------------------------------------------

    def _last_seq(self) -> int | None:
        return self.outbox.last_seq() if self.outbox is not None else None

    def _record_missed(self, schedule: Schedule, slot: Slot, reason: str) -> None:
        self._end_waiting(schedule, slot, "missed")
        now_at = self.clock.now()
        self.store.mark(slot.key, slot.at, slot.segment.id, schedule.version, "missing", now_at,
                        self._last_seq())
        self.airer.record_missed(event_segment(schedule, slot), slot_at=slot.at, reason=reason,
                                 schedule_version=schedule.version, priority=slot.segment.priority)
        self.store.mark(slot.key, slot.at, slot.segment.id, schedule.version, "missed", now_at)
        self._on_event()
        log.warning("slot missed slot=%s reason=%s", slot.key, reason)

    def _start(self, schedule: Schedule, slot: Slot) -> None:
        self._end_waiting(schedule, slot, "airing")
        now_at = self.clock.now()
        self.store.mark(slot.key, slot.at, slot.segment.id, schedule.version, "started", now_at,
                        self._last_seq())
        segment = event_segment(schedule, slot)
        try:
            path = self.cache.for_airing(slot.segment.media.sha256)
        except MediaError as exc:
            self.airer.record_failed(segment, reason=exc.reason, slot_at=slot.at,
                                     schedule_version=schedule.version,
                                     priority=slot.segment.priority,
                                     media_s=slot.segment.media.duration_s)
            self.store.mark(slot.key, slot.at, slot.segment.id, schedule.version, "failed", now_at)
            self._on_event()
            self._media_missing = tuple(self.cache.missing(self.store.current))
            self._fetch_kick.set()
            return
        stop = threading.Event()
        airing = Airing(slot, schedule.version, stop, threading.Thread())

        def work() -> None:
            try:
                self.airer.air(segment, path, slot_at=slot.at, schedule_version=schedule.version,
                               priority=slot.segment.priority, stop=stop,
                               stop_reason=lambda: airing.stop_reason)
            except BaseException as exc:  # recorded by the Airer; keep the loop alive
                airing.error = exc
                log.exception("airing thread failed slot=%s", slot.key)

        airing.thread = threading.Thread(target=work, name=f"airing-{slot.segment.id}", daemon=True)
        self._airing = airing
        log.info("slot starting slot=%s priority=%s", slot.key, slot.segment.priority)
        airing.thread.start()

    def _finish_airing(self) -> None:
        airing = self._airing
        if airing is None or airing.thread.is_alive():
            return
        self._airing = None
        slot = airing.slot
        self.store.mark(slot.key, slot.at, slot.segment.id, airing.version, "aired", self.clock.now())
        self._on_event()
