"""The fleet: one row per registered station, what the Tổng quan page and ``GET /api/v1/stations`` show.

``fleet(store, config, now, communes=None) -> list[FleetRow]``, registry order; ``communes``
limits the rows to those communes' stations (None: all). Dataclasses (every one has
``as_json()``):

- ``FleetRow(id: str, commune: str, commune_name: str, online: bool | None,
  last_seen_at: datetime | None, last_airing: LastAiring | None, schedule_published: int | None,
  schedule_applied: int | None, media_missing: tuple[str, ...], clock_synced: bool | None,
  outbox_pending: int | None, problems: Problems, location: Location | None, state: State,
  since: datetime | None, schedule_error: str | None)``
- ``LastAiring(started_at: datetime | None, outcome: str | None, reason: str | None,
  program: str | None, title: str | None)``
- ``Problems(gaps: int, chain_breaks: int, conflicts: int, quarantined: int)``
- ``Location(lat: float, lon: float)``
- ``State = Literal["ok", "offline", "warning", "never-seen"]``

Meaning: ``online`` is the latest signed status's state (``online`` -> True, ``offline``
(the station's own or its Last Will) -> False; None when no status was ever stored);
``last_seen_at`` the station's time of that status; ``since`` when the collector first saw
the current state. ``schedule_published`` is the highest version the district published,
``schedule_applied`` the version the status says the station runs. ``state``:
``never-seen`` (no status), ``offline``, ``warning`` (online but media missing, clock not
synchronised, schedule not applied or in error, or evidence problems), else ``ok``.
``gaps`` counts missing seq ranges, ``chain_breaks`` and ``conflicts`` seqs, ``quarantined``
messages kept for that station.

Speed: a handful of set-based store reads for the whole fleet
(:meth:`~district_collector.store.base_fleet.FleetStore.station_aggregates`, the latest
statuses and schedule versions), never one query per station.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from district_collector.config import DistrictConfig
from district_collector.store.base import Store
from district_collector.views.common import JsonData

State = Literal["ok", "offline", "warning", "never-seen"]


@dataclass(frozen=True)
class LastAiring(JsonData):
    started_at: datetime | None
    outcome: str | None
    reason: str | None
    program: str | None
    title: str | None


@dataclass(frozen=True)
class Problems(JsonData):
    gaps: int
    chain_breaks: int
    conflicts: int
    quarantined: int

    @property
    def any(self) -> bool:
        return bool(self.gaps or self.chain_breaks or self.conflicts or self.quarantined)


@dataclass(frozen=True)
class Location(JsonData):
    lat: float
    lon: float


@dataclass(frozen=True)
class FleetRow(JsonData):
    id: str
    commune: str
    commune_name: str
    online: bool | None
    last_seen_at: datetime | None
    last_airing: LastAiring | None
    schedule_published: int | None
    schedule_applied: int | None
    media_missing: tuple[str, ...]
    clock_synced: bool | None
    outbox_pending: int | None
    problems: Problems
    location: Location | None
    state: State
    since: datetime | None
    schedule_error: str | None


def fleet(store: Store, config: DistrictConfig, now: datetime,
          communes: Collection[str] | None = None) -> list[FleetRow]:
    """One row per registered station of ``communes`` (None: all), registry order."""
    raise NotImplementedError
