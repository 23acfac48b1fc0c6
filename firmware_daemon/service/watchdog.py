"""systemd notification (sd_notify) and a watchdog that pings only while work progresses.

:class:`SdNotifier` speaks the sd_notify datagram protocol with the ``socket`` module
(no libsystemd): ``READY=1``, ``STATUS=...``, ``WATCHDOG=1``, ``STOPPING=1``. The socket
is ``$NOTIFY_SOCKET``; a name starting with ``@`` is in the abstract namespace. Without
``NOTIFY_SOCKET`` (tests, the demo, a shell) every call is a cheap no-op.

:class:`ProgressWatchdog` keeps one :class:`Progress` per component (the scheduler loop,
the player). A component that is *expected* to progress must call :meth:`Progress.beat`
within its allowance; one that is *idle* (the player between airings) or *suspended*
(the scheduler loop while it waits for the player) is not checked. A background thread
sends ``WATCHDOG=1`` every ``WATCHDOG_USEC / 2`` only while every expected component
beat recently. A player stuck in a sound-card write therefore stops the pings, and
systemd (``WatchdogSec=``) kills and restarts the service; the amplifier is then forced
off by the unit's ``ExecStopPost=`` and by the relay's pull-down.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from radio_protocol.clock import Clock, SystemClock

if TYPE_CHECKING:
    from firmware_daemon.config import StationConfig
    from firmware_daemon.daemon import Daemon
    from firmware_daemon.schedule.slot_airing import Airing

log = logging.getLogger(__name__)


def _socket_address(name: str) -> str | bytes:
    """``@foo`` (abstract namespace) -> ``b"\\0foo"``; a path stays a path."""
    if name.startswith("@"):
        return b"\0" + name[1:].encode("utf-8")
    return name


class SdNotifier:
    """Sends sd_notify messages to ``NOTIFY_SOCKET``; a no-op when it is unset.

    Send errors are logged once and never raised: supervision must not break the
    station. Thread safe (one datagram per call).
    """

    def __init__(self, socket_name: str | None = None, env: Mapping[str, str] | None = None) -> None:
        environ = os.environ if env is None else env
        name = socket_name if socket_name is not None else environ.get("NOTIFY_SOCKET")
        self._address: str | bytes | None = None
        self._sock: socket.socket | None = None
        self._warned = False
        self._lock = threading.Lock()
        if name and (name.startswith("/") or name.startswith("@")):
            self._address = _socket_address(name)
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        elif name:
            log.warning("ignoring NOTIFY_SOCKET=%r: not a path or @abstract name", name)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def notify(self, message: str) -> bool:
        """Send one message (``"KEY=value\\n..."``); True if it went out."""
        if self._sock is None or self._address is None:
            return False
        with self._lock:
            try:
                self._sock.sendto(message.encode("utf-8"), self._address)
            except OSError as exc:
                if not self._warned:
                    log.warning("sd_notify failed: %s", exc.strerror or exc)
                    self._warned = True
                return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={_one_line(text)}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        return self.notify("STOPPING=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def watchdog_interval_s(env: Mapping[str, str] | None = None) -> float | None:
    """Half of ``WATCHDOG_USEC`` in seconds, or None when systemd expects no pings from us.

    ``WATCHDOG_PID``, when set, must be this process (as sd_watchdog_enabled() checks).
    """
    environ = os.environ if env is None else env
    usec = environ.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = environ.get("WATCHDOG_PID")
    if pid and pid.strip() != str(os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        log.warning("ignoring WATCHDOG_USEC=%r: not an integer", usec)
        return None
    if value <= 0:
        return None
    return value / 2 / 1_000_000


@dataclass
class _ProgressState:
    allowance_s: float
    expected: bool
    last_mono: float
    suspended: int = 0


class Progress:
    """One component's progress, reported by the component's own thread.

    ``beat()`` says "I made progress now". ``expect(allowance_s)`` starts checking
    (the player when an airing starts), ``idle()`` stops it (the player after the
    airing). ``suspended()`` exempts a loop while it waits on another checked
    component. All methods are cheap and thread safe.
    """

    def __init__(self, owner: ProgressWatchdog, name: str) -> None:
        self._owner = owner
        self.name = name

    def beat(self) -> None:
        self._owner._beat(self.name)

    def expect(self, allowance_s: float | None = None) -> None:
        self._owner._set_expected(self.name, True, allowance_s)

    def idle(self) -> None:
        self._owner._set_expected(self.name, False, None)

    @contextmanager
    def suspended(self) -> Iterator[None]:
        self._owner._suspend(self.name, +1)
        try:
            yield
        finally:
            self._owner._suspend(self.name, -1)

    @contextmanager
    def active(self, allowance_s: float | None = None) -> Iterator[None]:
        """Expected to beat inside the block, idle after it (even on an exception)."""
        self.expect(allowance_s)
        try:
            yield
        finally:
            self.idle()


class ProgressWatchdog:
    """Pings systemd's watchdog only while every expected component makes progress.

    ``interval_s`` defaults to :func:`watchdog_interval_s`; with no interval (no
    ``WATCHDOG_USEC``) :meth:`start` starts nothing, but components may still report
    (and :meth:`stalled` still answers), so callers need no special case.
    """

    def __init__(
        self,
        notifier: SdNotifier | None = None,
        clock: Clock | None = None,
        interval_s: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.notifier = notifier if notifier is not None else SdNotifier(env=env)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self.interval_s = interval_s if interval_s is not None else watchdog_interval_s(env)
        self._states: dict[str, _ProgressState] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reported_stall: frozenset[str] | None = None
        self.pings_sent = 0

    def register(self, name: str, allowance_s: float, expected: bool = True) -> Progress:
        """A progress handle for ``name``; it must beat every ``allowance_s`` while expected."""
        if allowance_s <= 0:
            raise ValueError("allowance_s must be > 0")
        with self._lock:
            self._states[name] = _ProgressState(allowance_s, expected, self._clock.monotonic())
        return Progress(self, name)

    # --- called through Progress ----------------------------------------------------

    def _beat(self, name: str) -> None:
        now_mono = self._clock.monotonic()
        with self._lock:
            self._states[name].last_mono = now_mono

    def _set_expected(self, name: str, expected: bool, allowance_s: float | None) -> None:
        now_mono = self._clock.monotonic()
        with self._lock:
            state = self._states[name]
            state.expected = expected
            state.last_mono = now_mono
            if allowance_s is not None:
                state.allowance_s = allowance_s

    def _suspend(self, name: str, delta: int) -> None:
        now_mono = self._clock.monotonic()
        with self._lock:
            state = self._states[name]
            state.suspended = max(0, state.suspended + delta)
            state.last_mono = now_mono  # a resumed loop gets its full allowance again

    # --- checking and pinging -------------------------------------------------------

    def stalled(self) -> list[tuple[str, float]]:
        """``(name, seconds since progress)`` of every expected component past its allowance."""
        now_mono = self._clock.monotonic()
        late: list[tuple[str, float]] = []
        with self._lock:
            for name, state in self._states.items():
                if not state.expected or state.suspended:
                    continue
                age = now_mono - state.last_mono
                if age > state.allowance_s:
                    late.append((name, age))
        return late

    def check_and_ping(self) -> bool:
        """Send ``WATCHDOG=1`` if nothing is stalled; True when a ping went out."""
        late = self.stalled()
        if late:
            names = frozenset(name for name, _ in late)
            if names != self._reported_stall:  # log each new stall once, not every interval
                summary = ", ".join(f"{name} no progress for {age:.1f} s" for name, age in late)
                log.error("watchdog withheld: %s (systemd will restart the service)", summary)
                self.notifier.status(f"stalled: {summary}")
                self._reported_stall = names
            return False
        if self._reported_stall is not None:
            log.warning("watchdog: progress resumed (%s)", ", ".join(sorted(self._reported_stall)))
            self._reported_stall = None
        sent = self.notifier.watchdog()
        if sent:
            self.pings_sent += 1
        return sent

    def start(self) -> None:
        """Start the ping thread (nothing when systemd expects no pings or no socket)."""
        if self.interval_s is None or not self.notifier.enabled or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()
        log.info("watchdog pings every %.1f s while progress is made", self.interval_s)

    def _run(self) -> None:
        assert self.interval_s is not None
        while not self._stop.is_set():
            try:
                self.check_and_ping()
            except Exception:  # never let supervision kill itself silently
                log.exception("watchdog check failed")
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


LOOP_ALLOWANCE_S = 60.0  # the main loop turns at least every max_idle_s (1 s) when healthy
# An airing may take warm-up + AIRING_FACTOR x the schedule's media length + tail + the
# audio write margin + AIRING_SLACK_S: generous, because the declared length may be short
# of the real file, and killing a healthy airing is worse than catching a hang late (the
# audio layer's own write deadline catches the usual hung card long before this).
AIRING_FACTOR = 1.5
AIRING_SLACK_S = 60.0
# With the airing path feeding progress (each wait step, each audio block written), the
# player may go at most audio.margin_s (the longest a healthy open or write may block
# before hal gives up on it) + PROGRESS_SLACK_S without a beat.
PROGRESS_SLACK_S = 10.0


class StationSupervisor:
    """systemd supervision of the station :class:`~firmware_daemon.daemon.Daemon`.

    The daemon calls :meth:`started` once startup is complete (``READY=1``, the ping
    thread starts, ``STOPPING=1`` is queued on the daemon's shutdown stack) and
    :meth:`tick` on every turn of its main loop (the loop's heartbeat, and the watch on
    the airing in progress). An airing is expected to end within warm-up +
    :data:`AIRING_FACTOR` x media length + tail + ``audio.margin_s`` + :data:`AIRING_SLACK_S`;
    one that runs longer (a player
    stuck in a sound-card write that even the audio layer's guard did not break) stops
    the pings. Once the airing path is fed by :meth:`feed_player` (the slot wiring does:
    the Airer beats on every wait step and every audio block written), an airing may go
    only ``audio.margin_s`` + :data:`PROGRESS_SLACK_S` without a beat, so a write that
    hangs stops the pings within seconds. Without systemd (no ``NOTIFY_SOCKET``)
    everything here is a no-op.
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.watchdog = ProgressWatchdog(env=env)  # real time on purpose: it guards real hangs
        self.loop = self.watchdog.register("main-loop", LOOP_ALLOWANCE_S)
        self.player = self.watchdog.register("player", AIRING_SLACK_S, expected=False)
        self._airing: object | None = None
        self._fed = False

    def started(self, daemon: Daemon) -> None:
        ident = daemon.config.station
        self.loop.beat()
        self.watchdog.notifier.ready(f"station {ident.district}/{ident.id} running, "
                                     f"link {'mqtt' if daemon.link else 'none'}")
        self.watchdog.start()
        daemon.stack.callback(self.stopping)

    def stopping(self) -> None:
        self.watchdog.notifier.stopping("stopping: amplifier off, outbox closed")
        self.watchdog.stop()

    def tick(self, daemon: Daemon) -> None:
        self.loop.beat()
        runner = daemon.slot_runner  # None when the daemon runs without a schedule
        airing = runner.current_airing if runner is not None else None
        if airing is self._airing:
            return
        self._airing = airing
        if airing is None:
            self.player.idle()
            return
        if self._fed:
            self.player.expect(self.progress_allowance_s(daemon.config))
        else:
            self.player.expect(self.airing_allowance_s(daemon.config, airing))

    def feed_player(self) -> Callable[[], None]:
        """The progress callback for the airing path (``Airer(on_progress=...)``); from
        now on an airing is checked per beat (:meth:`progress_allowance_s`), not whole."""
        self._fed = True
        return self.player.beat

    @staticmethod
    def progress_allowance_s(config: StationConfig) -> float:
        """Seconds a fed airing may go without a beat before it counts as hung."""
        return config.audio.margin_s + PROGRESS_SLACK_S

    @staticmethod
    def airing_allowance_s(config: StationConfig, airing: Airing) -> float:
        """Seconds an airing may take before it counts as hung."""
        try:
            media_s = float(airing.slot.segment.media.duration_s)
        except (AttributeError, TypeError, ValueError):
            media_s = 3600.0  # unknown length: only a very long hang is caught
        amp = config.amplifier
        return (amp.warmup_s + AIRING_FACTOR * media_s + amp.tail_s + config.audio.margin_s
                + AIRING_SLACK_S)
