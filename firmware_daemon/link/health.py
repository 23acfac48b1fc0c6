"""The link's health: its state, why it last failed, and log lines that do not flood.

:class:`LinkHealth` is told about every connection attempt's outcome (from the link's
worker thread) and keeps, under a lock, what :meth:`LinkHealth.snapshot` returns to any
thread: the state (``connecting`` until the first answer and while paho retries after a
drop, ``connected``, ``down`` after a failed attempt, ``stopped``), since when, the
consecutive and total failures, and the last :class:`~firmware_daemon.link.failure.LinkFailure`
with its time.

Logging (journald reads these): a failure is logged at WARNING with its reason and
``host:port`` the first time; while the *same* failure (same kind and detail) repeats it
is logged again at most every ``report_every_s`` (default :data:`REPORT_EVERY_S`, 5
minutes), saying how many attempts failed meanwhile; a different failure is logged at
once; a success logs ``mqtt connected ... after N failures`` at once and re-arms the
first-failure line. Times come from the injected ``clock`` (``monotonic`` for the
throttle, ``now`` for ``since`` and ``at``).

Listeners (``add_listener``) are called after every change of state or of the last
error, in the caller's thread, outside the lock; they must not block.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from firmware_daemon.link.failure import LinkFailure
from radio_protocol.clock import Clock

__all__ = ["REPORT_EVERY_S", "LinkError", "LinkHealth", "LinkSnapshot", "LinkState"]

log = logging.getLogger(__name__)

REPORT_EVERY_S = 300.0
"""A failure that keeps repeating is logged again at most this often (seconds)."""

LinkState = Literal["connecting", "connected", "down", "stopped"]


@dataclass(frozen=True)
class LinkError:
    """The last failed attempt: its kind, detail and when it happened."""

    kind: str
    detail: str
    at: datetime


@dataclass(frozen=True)
class LinkSnapshot:
    """The link as :class:`LinkHealth` saw it at one moment (see the module docstring).

    ``failures`` counts failed attempts since the last successful connect (0 while
    connected), ``failures_total`` since the daemon started; ``connected_at`` is the
    last successful connect (None: never).
    """

    state: LinkState
    since: datetime
    broker: str
    tls: bool
    failures: int
    failures_total: int
    last_error: LinkError | None
    connected_at: datetime | None


class LinkHealth:
    """Thread-safe link state and throttled failure logging for one broker ``host:port``."""

    def __init__(self, *, station: str, host: str, port: int, tls: bool, clock: Clock,
                 report_every_s: float = REPORT_EVERY_S) -> None:
        self.station = station
        self.broker = f"{host}:{port}"
        self.tls = tls
        self.clock = clock
        self.report_every_s = report_every_s
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        self._state: LinkState = "connecting"
        self._since = clock.now()
        self._failures = 0
        self._failures_total = 0
        self._last_error: LinkError | None = None
        self._connected_at: datetime | None = None
        self._reported: LinkFailure | None = None  # the failure last logged, None: log the next
        self._reported_mono = 0.0
        self._unreported = 0  # attempts with the reported failure not logged since

    def add_listener(self, listener: Callable[[], None]) -> None:
        """``listener()`` runs after each change (caller's thread, outside the lock)."""
        with self._lock:
            self._listeners.append(listener)

    def snapshot(self) -> LinkSnapshot:
        with self._lock:
            return LinkSnapshot(self._state, self._since, self.broker, self.tls, self._failures,
                                self._failures_total, self._last_error, self._connected_at)

    # --- what the link tells us ---------------------------------------------------------

    def attempt_failed(self, failure: LinkFailure) -> None:
        """A connection attempt failed with ``failure``: state ``down``; log it unless the
        same failure was logged less than ``report_every_s`` ago."""
        now_mono = self.clock.monotonic()
        now_at = self.clock.now()
        with self._lock:
            self._failures += 1
            self._failures_total += 1
            self._last_error = LinkError(failure.kind, failure.detail, now_at)
            if self._state != "down":
                self._state, self._since = "down", now_at
            repeat = failure == self._reported
            due = not repeat or now_mono - self._reported_mono >= self.report_every_s
            unreported = self._unreported
            if due:
                self._reported, self._reported_mono, self._unreported = failure, now_mono, 0
            else:
                self._unreported += 1
            failures = self._failures
        if not due:
            log.debug("mqtt connect failed again station=%s broker=%s kind=%s (not logged: "
                      "same failure within %.0f s)", self.station, self.broker, failure.kind,
                      self.report_every_s)
        elif repeat:
            log.warning("mqtt still cannot reach the broker station=%s broker=%s kind=%s failures=%d "
                        "(%d more attempts failed the same way since the last report): %s",
                        self.station, self.broker, failure.kind, failures, unreported + 1, failure.detail)
        else:
            log.warning("mqtt cannot reach the broker station=%s broker=%s kind=%s failures=%d: %s "
                        "(retrying; logged again at most every %.0f s while it repeats)",
                        self.station, self.broker, failure.kind, failures, failure.detail,
                        self.report_every_s)
        self._changed()

    def connected(self, session_present: bool) -> None:
        """The broker accepted us: state ``connected``; logged at once."""
        now_at = self.clock.now()
        with self._lock:
            failures = self._failures
            last = self._last_error
            self._state, self._since, self._connected_at = "connected", now_at, now_at
            self._failures = 0
            self._reported, self._unreported = None, 0
        after = f" after {failures} failures (last: {last.kind})" if failures and last else ""
        log.info("mqtt connected station=%s broker=%s session_present=%s%s", self.station,
                 self.broker, session_present, after)
        self._changed()

    def disconnected(self) -> None:
        """The connection dropped; paho reconnects: state ``connecting``."""
        with self._lock:
            if self._state == "connected":
                self._state, self._since = "connecting", self.clock.now()
        self._changed()

    def stopped(self) -> None:
        """The link stopped (daemon shutdown): state ``stopped``."""
        with self._lock:
            self._state, self._since = "stopped", self.clock.now()
        self._changed()

    def _changed(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener()
            except Exception:  # a listener must never break the link
                log.exception("link health listener failed")
