"""Trạm: one station's page, its as-run log, the slots still to come, its status history, its keys.

``station_detail(store, config, station_id, start, end, now) -> StationDetail | None``
(None when the station is not registered). ``start``/``end``: the as-run log's days
(inclusive, district timezone). Dataclasses (each with ``as_json()``):

- ``StationDetail(id: str, commune: str, commune_name: str, level: str, row: FleetRow,
  as_run: tuple[AsRunRow, ...], upcoming: tuple[UpcomingSlot, ...],
  status_history: tuple[StatusPeriod, ...], keys: tuple[StationKey, ...])``: ``row`` is the
  station's :class:`~district_collector.views.fleet.FleetRow`.
- ``AsRunRow(seq: int, slot_at: datetime | None, started_at: datetime | None,
  ended_at: datetime | None, outcome: str, reason: str | None, program: str, segment_id: str,
  title: str, played_s: float, media_s: float | None, rms_dbfs: float | None,
  peak_dbfs: float | None, silent_s: float | None, amp_confirmed: bool | None,
  clock_synced: bool, late_s: float | None)``: every stored event of the period, by seq
  (``late_s``: start minus slot, seconds).
- ``UpcomingSlot(at: datetime, segment_id: str, title: str, program: str, priority: str,
  version: int)``: from the station's latest published schedule, ``now`` on, at most 200.
- ``StatusPeriod(state: str, start: datetime, end: datetime | None)``: online/offline
  periods from the store's status log, oldest first (``end`` None: still so).
- ``StationKey(kid: str, kty: str, crv: str, x: str, current: bool)``: registry order, the
  last one current.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from district_collector.config import DistrictConfig
from district_collector.store.base import Store
from district_collector.views.common import JsonData
from district_collector.views.fleet import FleetRow

MAX_UPCOMING = 200


@dataclass(frozen=True)
class AsRunRow(JsonData):
    seq: int
    slot_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    outcome: str
    reason: str | None
    program: str
    segment_id: str
    title: str
    played_s: float
    media_s: float | None
    rms_dbfs: float | None
    peak_dbfs: float | None
    silent_s: float | None
    amp_confirmed: bool | None
    clock_synced: bool
    late_s: float | None


@dataclass(frozen=True)
class UpcomingSlot(JsonData):
    at: datetime
    segment_id: str
    title: str
    program: str
    priority: str
    version: int


@dataclass(frozen=True)
class StatusPeriod(JsonData):
    state: str
    start: datetime
    end: datetime | None


@dataclass(frozen=True)
class StationKey(JsonData):
    kid: str
    kty: str
    crv: str
    x: str
    current: bool


@dataclass(frozen=True)
class StationDetail(JsonData):
    id: str
    commune: str
    commune_name: str
    level: str
    row: FleetRow
    as_run: tuple[AsRunRow, ...]
    upcoming: tuple[UpcomingSlot, ...]
    status_history: tuple[StatusPeriod, ...]
    keys: tuple[StationKey, ...]


def station_detail(store: Store, config: DistrictConfig, station_id: str, start: date, end: date,
                   now: datetime) -> StationDetail | None:
    """The station's page (see the module doc); None when ``station_id`` is not registered."""
    raise NotImplementedError
