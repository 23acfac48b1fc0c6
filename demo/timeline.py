"""What each simulated station does through the month, faults included.

A station's month is a list of :class:`Phase`: one ``radio-station run --simulate START
--until END`` process each. Most stations have one phase covering the month. Two have
realistic faults:

- **link down for a week** (:data:`OFFLINE_STATION`): the station keeps airing, but its
  connection to the broker goes through a :class:`~demo.proxy.LinkProxy` that the demo
  cuts for that simulated week. Its events wait in the outbox and reach the district
  after the link comes back (catch-up).
- **station off for six days** (:data:`DOWN_STATION`): no process runs from a Tuesday
  00:00 to the Monday after; when it starts again it records each slot it slept through
  as ``missed`` with reason ``station-down`` — and its commune loses that ISO week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from demo.district import Commune
from radio_protocol.timefmt import zone

OFFLINE_STATION = "dak-koi-01"
DOWN_STATION = "dak-pne-01"


@dataclass(frozen=True)
class Phase:
    start_at: datetime
    until_at: datetime
    link_up: bool = True


@dataclass(frozen=True)
class StationPlan:
    commune: Commune
    phases: tuple[Phase, ...]
    fault: str | None = None  # what goes wrong, for the output
    proxied: bool = False

    @property
    def station(self) -> str:
        return self.commune.station


def _at(day: date, tz_name: str) -> datetime:
    return datetime.combine(day, time(0), zone(tz_name))


def plan_month(communes: tuple[Commune, ...], first_day: date, days: int,
               tz_name: str) -> list[StationPlan]:
    """One plan per commune for ``days`` days from ``first_day`` (00:00 local)."""
    start = first_day
    end = first_day + timedelta(days=days)
    plans: list[StationPlan] = []
    phases: tuple[Phase, ...]
    for commune in communes:
        if commune.station == OFFLINE_STATION and days >= 4:
            off_from = start + timedelta(days=max(1, round(days * 0.25)))
            off_to = min(off_from + timedelta(days=min(7, days // 3)), end - timedelta(days=1))
            phases = (Phase(_at(start, tz_name), _at(off_from, tz_name)),
                      Phase(_at(off_from, tz_name), _at(off_to, tz_name), link_up=False),
                      Phase(_at(off_to, tz_name), _at(end, tz_name)))
            fault = f"network link down {off_from:%d/%m}–{off_to - timedelta(days=1):%d/%m}"
            plans.append(StationPlan(commune, phases, fault, proxied=True))
        elif commune.station == DOWN_STATION and days >= 4:
            down_from = start + timedelta(days=max(1, round(days * 0.45)))
            tuesday = down_from + timedelta(days=(1 - down_from.weekday()) % 7)
            if tuesday + timedelta(days=6) < end:
                down_from = tuesday
            down_to = min(down_from + timedelta(days=6), end - timedelta(days=1))
            phases = (Phase(_at(start, tz_name), _at(down_from, tz_name)),
                      Phase(_at(down_to, tz_name), _at(end, tz_name)))
            fault = f"station switched off {down_from:%d/%m}–{down_to - timedelta(days=1):%d/%m}"
            plans.append(StationPlan(commune, phases, fault))
        else:
            plans.append(StationPlan(commune, (Phase(_at(start, tz_name), _at(end, tz_name)),)))
    return plans


def split_phases(phases: tuple[Phase, ...], chunk_days: int) -> list[Phase]:
    """Cut each phase into pieces of at most ``chunk_days`` days (0: keep them whole)."""
    if chunk_days <= 0:
        return list(phases)
    out = []
    step_by = timedelta(days=chunk_days)
    for phase in phases:
        at = phase.start_at
        while at < phase.until_at:
            end = min(at + step_by, phase.until_at)
            out.append(Phase(at, end, phase.link_up))
            at = end
    return out
