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
    """Draws one line, redrawn in place on a terminal (a new line every 10 % otherwise)."""

    def __init__(self, view: CollectorView, expected: Mapping[str, int], runs: Sequence[_Run]) -> None:
        self.view = view
        self.expected = dict(expected)
        self.total = max(1, sum(expected.values()))
        self.runs = runs
        self.tty = sys.stdout.isatty()
        self._last_decile = -1

    def line(self, day: date | None) -> str:
        counts = self.view.event_counts()
        stored = sum(min(counts.get(s, 0), n) for s, n in self.expected.items())
        filled = BAR_WIDTH * stored // self.total
        when = f"to {day:%d/%m} " if day else ""
        steps = [r.step for r in self.runs]
        states = ", ".join(f"{steps.count(s)} {s}" for s in dict.fromkeys(steps))
        return (f"  {when}[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {stored}/{self.total} "
                f"slots recorded by the district ({states})")

    def draw(self, day: date | None, final: bool = False) -> None:
        """Redraw; ``day`` is the simulated date reached (None: not shown)."""
        text = self.line(day)
        if self.tty:
            sys.stdout.write("\r\033[K" + text + ("\n" if final else ""))
            sys.stdout.flush()
            return
        counts = self.view.event_counts()
        decile = 10 * sum(counts.values()) // self.total
        if final or decile > self._last_decile:
            self._last_decile = decile
            print(text, flush=True)
