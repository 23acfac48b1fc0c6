"""One clock, passed in (docs/ARCHITECTURE.md).

Two kinds of time, named by kind everywhere: ``*_mono`` is monotonic seconds (for
waiting and measuring), ``*_at`` is an aware datetime (for slots and evidence).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    """What the core needs from time."""

    def monotonic(self) -> float:
        """Monotonic seconds; never goes backwards."""
        ...

    def now(self) -> datetime:
        """Aware wall-clock time (UTC offset, convert as needed)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...

    @property
    def simulated(self) -> bool:
        """True for a simulated clock, which counts as synchronized."""
        ...


class SystemClock:
    """The real clock: ``time.monotonic`` and the kernel's wall clock."""

    simulated = False

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class SimulatedClock:
    """A clock that advances only when slept on or told to (tests, the demo).

    ``sleep`` advances both monotonic and wall time at once; ``step_wall`` moves
    wall time alone (an NTP step). Thread safe.
    """

    simulated = True

    def __init__(self, start_at: datetime, tz: ZoneInfo | None = None) -> None:
        if start_at.tzinfo is None:
            raise ValueError("SimulatedClock needs an aware start time")
        self._lock = threading.Lock()
        self._wall_at = start_at
        self._mono = 1000.0
        self._tz = tz

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def now(self) -> datetime:
        with self._lock:
            return self._wall_at

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._mono += seconds
            self._wall_at = self._wall_at + timedelta(seconds=seconds)

    def step_wall(self, seconds: float) -> None:
        with self._lock:
            self._wall_at = self._wall_at + timedelta(seconds=seconds)
