"""The demo's progress bar: events the district has stored against the slots scheduled.

Every slot ends as exactly one event (``completed``, ``failed`` or ``missed``), so the
collector's count of stored events over the count of scheduled slots is the month's
progress as the district sees it; a station that is offline holds the bar back until
it catches up.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from demo.services import CollectorView
from radio_protocol.schedule.expand import expand
from radio_protocol.schedule.parse import parse_schedule

BAR_WIDTH = 28


class _Run(Protocol):
    step: str

    @property
    def plan(self) -> Any: ...


def expected_slots(schedules: Mapping[str, Mapping[str, Any]], first_day: date, days: int) -> dict[str, int]:
    """Per station: slots of its published schedule in the ``days`` days from ``first_day``."""
    out = {}
    for station, payload in schedules.items():
        schedule = parse_schedule(dict(payload))
        start_at = datetime.combine(first_day, time(0), schedule.tz)
        out[station] = len(expand(schedule, start_at, start_at + timedelta(days=days)))
    return out


class Progress:
    """Draws one line, redrawn in place on a terminal. Otherwise (a pipe, a log file, a
    test) it writes plain milestone lines, each once: ``  40 % of the slots recorded by
    the district (6/15)`` at every 10 % reached, and the final count if not already said."""

    def __init__(self, view: CollectorView, expected: Mapping[str, int], runs: Sequence[_Run]) -> None:
        self.view = view
        self.expected = dict(expected)
        self.total = max(1, sum(expected.values()))
        self.runs = runs
        self.tty = sys.stdout.isatty()
        self._last_decile = -1
        self._last_said = -1

    def stored(self) -> int:
        """Slots recorded so far (each station's events, at most its expected slots)."""
        counts = self.view.event_counts()
        return sum(min(counts.get(s, 0), n) for s, n in self.expected.items())

    def line(self, day: date | None) -> str:
        stored = self.stored()
        filled = BAR_WIDTH * stored // self.total
        when = f"to {day:%d/%m} " if day else ""
        steps = [r.step for r in self.runs]
        states = ", ".join(f"{steps.count(s)} {s}" for s in dict.fromkeys(steps))
        return (f"  {when}[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {stored}/{self.total} "
                f"slots recorded by the district ({states})")

    def draw(self, day: date | None, final: bool = False) -> None:
        """Redraw; ``day`` is the simulated date reached (None: not shown)."""
        if self.tty:
            sys.stdout.write("\r\033[K" + self.line(day) + ("\n" if final else ""))
            sys.stdout.flush()
            return
        stored = self.stored()
        decile = 10 * stored // self.total
        if decile > self._last_decile or (final and stored != self._last_said):
            self._last_decile = decile
            self._last_said = stored
            print(f"  finished: {stored}/{self.total} slots recorded by the district" if final and
                  decile < 10 else f"  {100 * stored // self.total:3d} % of the slots recorded by the district "
                  f"({stored}/{self.total})", flush=True)
