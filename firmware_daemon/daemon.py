"""``radio-station run``: the station service.

Startup, in order (each step registers its undo on an ExitStack, so shutdown runs in
reverse, in ``finally``, whatever happened). SIGTERM/SIGINT handlers that set
``stop_event`` are installed before step 1, so a signal during startup still ends in
an orderly shutdown:

1. the station's hardware (:class:`~firmware_daemon.hardware.StationHardware`): the
   amplifier relay, forced **off** at once (whatever a crash left behind), and the
   audio output (``UnavailableAudio`` when it cannot be set up: airings record why);
2. the station's signing key (``data_dir/station.key``; ``keygen`` creates it);
3. the storage guard (:class:`~firmware_daemon.service.storage.StorageGuard`: the reserve
   file released when the disk is full, ``storage_error`` in the status), then the outbox
   (SQLite, WAL, ``synchronous=FULL``), checked against its marker: a lost or damaged one
   is moved aside and continued (:func:`~firmware_daemon.airing.outbox_recovery.open_station_outbox`),
   and what a crash or the loss left unrecorded is recorded now
   (:func:`~firmware_daemon.airing.start_recovery.recover_at_start`);
4. the live status (:class:`~firmware_daemon.service.status.StationState`) and the MQTT link
   (only with an ``mqtt`` section; without one the station airs and keeps its evidence
   locally, for USB hand-carry). The broker may be down: the link keeps retrying and
   delivers the whole outbox when it comes up;
5. the extension hooks (``startup_hooks``, in order).

Then the main loop runs until ``stop_event`` is set.

Extension points (for the scheduler and anything else that runs in the daemon):

- ``daemon.add_timer(name, callback, first_mono=None)``: Klipper-style timers.
  ``callback(now_mono) -> float | None`` runs in the main thread and returns the
  monotonic time it wants to run next (None: never again). An exception is logged
  and the timer retried after ``TIMER_RETRY_S`` (after ``FULL_RETRY_S`` when it failed for a
  full disk: the storage reserve is released first). The retention prune and the storage
  look are timers too.
- ``daemon.startup_hooks.append(install_scheduler)``: air the schedule
  (:meth:`Daemon.attach_scheduler`; ``radio-station run`` does this).
- ``daemon.startup_hooks.append(hook)``: ``hook(daemon)`` runs after steps 1-4, in the
  main thread; it may register cleanups with ``daemon.stack.callback(...)`` (they run
  before the link stops and before the amplifier is switched off).
- ``daemon.schedule_handler = fn``: ``fn(raw: bytes)`` (its result is ignored) gets every
  message from the station's ``schedule`` topic (unverified bytes; verify with ``daemon.district_keys``),
  in the main thread. The default logs and ignores it.
- ``daemon.post(fn)``: run ``fn()`` in the main thread soon (thread safe).
- ``daemon.event_recorded()``: call after appending an event, so the link sends it now.
- ``daemon.state.set_schedule(ScheduleState(...))``: what the status reports
  (schedule version/error, next slot, missing media). The amp state is read from the
  relay itself.
- Long work (an airing) must watch ``daemon.stop_event``; while it runs in the main
  thread the timers wait, but the MQTT link keeps delivering in its own thread.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from zoneinfo import ZoneInfo

from firmware_daemon.airing.airer import Airer
from firmware_daemon.airing.outbox import Outbox, is_disk_full
from firmware_daemon.airing.outbox_recovery import OutboxLoss, open_station_outbox
from firmware_daemon.airing.start_recovery import recover_at_start
from firmware_daemon.config import StationConfig
from firmware_daemon.hardware import StationHardware
from firmware_daemon.link.client import StationLink
from firmware_daemon.link.settings import settings_from_config
from firmware_daemon.schedule.media_cache import MediaCache
from firmware_daemon.schedule.runner import SlotRunner
from firmware_daemon.schedule.store import ScheduleStore
from firmware_daemon.service.status import StationState, StatusBuilder
from firmware_daemon.service.storage import LOOK_EVERY_S, StorageGuard
from firmware_daemon.service.sysinfo import kernel_clock_synced
from firmware_daemon.service.watchdog import StationSupervisor
from hal.amplifier import Amplifier, PinFactory
from hal.audio import AudioOutput
from radio_protocol.clock import Clock, SystemClock
from radio_protocol.jose import KeyRing, Signer, load_private_key

log = logging.getLogger(__name__)

TimerCallback = Callable[[float], float | None]
DAY_S = 86400.0
TIMER_RETRY_S = 60.0
FULL_RETRY_S = 1.0
MAX_IDLE_S = 1.0
PRUNE_FIRST_DELAY_S = 5.0


@dataclass
class Timer:
    name: str
    callback: TimerCallback
    next_mono: float
    runs: int = field(default=0)


class Daemon:
    """The station service. Build, optionally extend (see the module doc), then :meth:`run`.

    ``clock`` defaults to the system clock. ``pin_factory`` overrides the factory named in
    ``gpio.pin_factory`` (a seam for tests: gpiozero's MockFactory; the caller closes it).
    ``amplifier`` and ``audio`` are the station's hardware once step 1 has run;
    ``slot_runner`` is the :class:`SlotRunner` once :meth:`attach_scheduler` has run.
    """

    def __init__(self, config: StationConfig, *, clock: Clock | None = None,
                 pin_factory: PinFactory | None = None, tz: ZoneInfo | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.tz = tz or config.tz
        self.stop_event = threading.Event()
        self.stack = contextlib.ExitStack()
        self.state = StationState()
        self.startup_hooks: list[Callable[[Daemon], None]] = []
        self.schedule_handler: Callable[[bytes], object] = self._default_schedule_handler
        self.district_keys: KeyRing = config.district_keyring()
        self.hardware: StationHardware | None = None
        self.amplifier: Amplifier | None = None
        self.audio: AudioOutput | None = None
        self.signer: Signer | None = None
        self.outbox: Outbox | None = None
        self.storage = StorageGuard(config.data_dir, on_change=self.state.storage_changed)
        self.status: StatusBuilder | None = None
        self.link: StationLink | None = None
        self._pin_factory = pin_factory
        self._timers: list[Timer] = []
        self.max_idle_s = MAX_IDLE_S  # longest wait between looks; --simulate raises it
        self.slot_runner: SlotRunner | None = None
        self.supervisor = StationSupervisor()  # systemd READY/watchdog/STOPPING (no-op without)
        self._inbox: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self.add_timer("outbox-prune", self._prune, self.clock.monotonic() + PRUNE_FIRST_DELAY_S)

    # --- extension API ---------------------------------------------------------------

    def add_timer(self, name: str, callback: TimerCallback, first_mono: float | None = None) -> Timer:
        timer = Timer(name, callback, self.clock.monotonic() if first_mono is None else first_mono)
        self._timers.append(timer)
        self.wake()
        return timer

    def post(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` in the main thread soon. Thread safe."""
        self._inbox.put(fn)

    def wake(self) -> None:
        self._inbox.put(_noop)

    def request_stop(self, reason: str = "requested") -> None:
        """Ask the main loop to end (thread safe, signal safe)."""
        if not self.stop_event.is_set():
            log.info("daemon stopping reason=%s", reason)
        self.stop_event.set()
        self.wake()

    def event_recorded(self) -> None:
        """A new event is in the outbox: let the link send it now."""
        if self.link is not None:
            self.link.notify()

    # --- run -------------------------------------------------------------------------

    def run(self) -> int:
        """Start in order, loop until stopped, stop in reverse. Returns the exit code."""
        ident = self.config.station
        with self.stack:
            self._start()
            self.supervisor.started(self)
            log.info("daemon running station=%s district=%s link=%s", ident.id, ident.district,
                     "mqtt" if self.link else "none")
            self._loop()
        log.info("daemon stopped station=%s", ident.id)
        return 0

    def _start(self) -> None:
        cfg = self.config
        self._install_signals()  # first: a SIGTERM during startup still shuts down in order
        self._start_hardware()
        self.signer = Signer(load_private_key(cfg.key_path))
        storage = self.storage
        self.state.storage_source = lambda: storage.error
        storage.look()  # the reserve, before anything else takes the space
        outbox, loss = open_station_outbox(cfg.outbox_path, self.signer, self.clock,
                                           on_full=storage.on_full)
        self.outbox = outbox
        self.stack.callback(self._close_outbox)
        recover_at_start(outbox, loss, cfg, self.clock, tz=self.tz)
        if loss is not None:
            storage.note(f"outbox-reset: {loss.reason}: damaged outbox moved to {loss.moved_to}, "
                         f"continued at seq {loss.next_seq}")
        self.add_timer("storage", self._look_at_storage, self.clock.monotonic() + LOOK_EVERY_S)
        log.info("outbox open path=%s last_seq=%d pending=%d", cfg.outbox_path, outbox.last_seq(),
                 outbox.pending_count())
        amp = self.amplifier
        self.state.amp_source = (lambda: amp.is_on) if amp is not None else None
        self.status = StatusBuilder(
            station=cfg.station.id, signer=self.signer, clock=self.clock, state=self.state,
            clock_synced=kernel_clock_synced, tz=self.tz,
        )
        self.state.add_listener(self.event_recorded)
        settings = settings_from_config(cfg)
        if settings is None:
            log.warning("no mqtt section: events stay in the outbox (hand-carry with 'events')")
        else:
            if not len(self.district_keys):
                log.warning("no district_keys: acks cannot be verified, so nothing is ever dropped")
            self.link = StationLink(
                settings, district_keys=self.district_keys, outbox_factory=lambda: outbox,
                status=self.status, clock=self.clock, on_schedule=self._on_schedule,
                on_ack_ahead=lambda through: self.post(lambda: self._continue_after_ack(through)),
            )
            self.link.start()
            self.stack.callback(self.link.stop)
        for hook in list(self.startup_hooks):
            hook(self)

    def _start_hardware(self) -> None:
        hardware = StationHardware.open(self.config, pin_factory=self._pin_factory)
        self.hardware = hardware
        self.amplifier = hardware.amplifier
        self.audio = hardware.audio
        log.info("amplifier forced off at start pin=%s", self.config.amplifier.pin)
        self.stack.callback(self._stop_hardware)

    def _stop_hardware(self) -> None:
        if self.hardware is not None:
            self.hardware.close()  # amplifier off, pins released
            log.info("amplifier off at shutdown pin=%s", self.config.amplifier.pin)

    def _close_outbox(self) -> None:
        if self.outbox is not None:
            self.outbox.close()

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # embedded (tests): the caller stops us with request_stop()

        def handler(signum: int, frame: FrameType | None) -> None:
            self.request_stop(signal.Signals(signum).name)

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}

        def restore() -> None:
            for sig, old in previous.items():
                signal.signal(sig, old)

        self.stack.callback(restore)

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            self.supervisor.tick(self)
            now_mono = self.clock.monotonic()
            next_mono = now_mono + self.max_idle_s
            for timer in list(self._timers):
                if timer.next_mono <= now_mono:
                    self._fire(timer, now_mono)
                if timer in self._timers:
                    next_mono = min(next_mono, timer.next_mono)
                if self.stop_event.is_set():
                    return
            self._wait(max(0.0, next_mono - self.clock.monotonic()))

    def _fire(self, timer: Timer, now_mono: float) -> None:
        try:
            wanted = timer.callback(now_mono)
        except Exception as exc:
            if is_disk_full(exc):  # free the reserve, so the retry can record
                self.storage.on_full()
                log.error("timer failed name=%s: disk full; retrying in %.0f s", timer.name, FULL_RETRY_S)
                timer.next_mono = now_mono + FULL_RETRY_S
                return
            log.exception("timer failed name=%s; retrying in %.0f s", timer.name, TIMER_RETRY_S)
            timer.next_mono = now_mono + TIMER_RETRY_S
            return
        timer.runs += 1
        if wanted is None:
            self._timers.remove(timer)
        else:
            timer.next_mono = max(wanted, now_mono)

    def _wait(self, timeout: float) -> None:
        """Run posted work; block up to ``timeout`` (simulated clocks advance instead)."""
        block = not self.clock.simulated
        try:
            fn = self._inbox.get(timeout=timeout) if block and timeout > 0 else self._inbox.get_nowait()
        except queue.Empty:
            if not block:
                self.clock.sleep(timeout)
            return
        while True:
            try:
                fn()
            except Exception:
                log.exception("posted work failed")
            try:
                fn = self._inbox.get_nowait()
            except queue.Empty:
                return

    # --- built-in tasks ----------------------------------------------------------------

    def _prune(self, now_mono: float) -> float:
        """Once a day: drop acked events older than ``outbox.retention_days`` (never unacked)."""
        if self.outbox is not None:
            deleted = self.outbox.prune(self.clock.now(), self.config.outbox.retention_days)
            log.info("retention prune done deleted=%d retention_days=%d", deleted,
                     self.config.outbox.retention_days)
        return now_mono + DAY_S

    def _look_at_storage(self, now_mono: float) -> float:
        """Free space and the reserve (``storage_error``), every ``LOOK_EVERY_S``."""
        self.storage.look()
        return now_mono + LOOK_EVERY_S

    # --- the schedule ------------------------------------------------------------------

    def attach_scheduler(self, audio: AudioOutput | None = None) -> SlotRunner:
        """Air the schedule in this (started) daemon; the :class:`SlotRunner`.

        Opens the schedule store (``data_dir/schedule``) and media cache
        (``data_dir/media``), builds an Airer on the station's amplifier and audio output,
        the outbox and the clock, takes over :attr:`schedule_handler`, starts the media
        fetcher and adds the ``schedule`` timer. ``audio`` replaces the station's audio
        output (tests).
        """
        cfg = self.config
        amplifier, outbox = self.amplifier, self.outbox
        audio = audio or self.audio
        if amplifier is None or outbox is None or audio is None:
            raise RuntimeError("attach_scheduler needs a started daemon (a startup hook)")
        store = ScheduleStore(cfg.data_dir / "schedule", district=cfg.station.district,
                              station=cfg.station.id, keys=self.district_keys)
        self.stack.callback(store.close)
        cache = MediaCache(cfg.data_dir / "media", cfg.media)
        airer = Airer(amplifier, audio, outbox, self.clock, cfg, tz=self.tz,
                      on_progress=self.supervisor.feed_player())
        runner = SlotRunner(store=store, cache=cache, airer=airer, clock=self.clock,
                            warmup_s=cfg.amplifier.warmup_s, grace_s=cfg.schedule.grace_s,
                            require_synced_clock=cfg.require_synced_clock, state=self.state,
                            outbox=outbox, on_event=self.event_recorded)
        self.schedule_handler = runner.on_schedule
        self.stack.callback(runner.shutdown)
        runner.start_fetcher()
        self.add_timer("schedule", runner.timer)
        self.slot_runner = runner
        log.info("scheduler attached version=%s since=%s", store.version, store.since_at)
        return runner

    def _continue_after_ack(self, through: int) -> None:
        """Main thread: the district's signed ack covers seqs ``1..through`` and this
        station's outbox holds none (outbox and marker replaced, e.g. a restored SD card).
        Continue at ``through + 1`` with a signed ``outbox-reset`` event instead of reusing
        seqs the district already holds. Events recorded meanwhile cannot be renumbered: then
        this only logs (the district will see conflicts, and the reset reason in the log)."""
        outbox = self.outbox
        if outbox is None:
            return
        if outbox.last_seq():
            log.error("outbox behind the district's ack through=%d but it already holds events "
                      "last_seq=%d: not renumbered", through, outbox.last_seq())
            return
        outbox.start_chain_at(through + 1, None)
        loss = OutboxLoss(
            reason="outbox-behind", next_seq=through + 1, prev=None, found_seq=0, moved_to=None,
            last_known_seq=through,
            detail=f"the district's signed ack covers seqs 1..{through}; this station's outbox "
                   "and its marker held none",
        )
        recover_at_start(outbox, loss, self.config, self.clock, tz=self.tz)
        self.event_recorded()

    def _on_schedule(self, raw: bytes) -> None:
        """Link thread: hand the schedule to the main thread."""

        def handle() -> None:
            self.schedule_handler(raw)

        self.post(handle)

    @staticmethod
    def _default_schedule_handler(raw: bytes) -> None:
        log.info("schedule message received bytes=%d (no scheduler in this build; ignored)", len(raw))


def install_scheduler(daemon: Daemon) -> None:
    """The ``Daemon.startup_hooks`` hook ``radio-station run`` adds:
    :meth:`Daemon.attach_scheduler`."""
    daemon.attach_scheduler()


def _noop() -> None:
    return None
