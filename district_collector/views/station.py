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
from datetime import date, datetime, time, timedelta

from district_collector.config import DistrictConfig
from district_collector.scoring.report import decode_payload
from district_collector.store.base import Store
from district_collector.store.records import StoredEvent
from district_collector.views.common import JsonData
from district_collector.views.fleet import FleetRow, fleet_row
from radio_protocol.errors import CommuneRadioError
from radio_protocol.messages.event import parse_event
from radio_protocol.schedule.expand import expand
from radio_protocol.schedule.parse import parse_schedule
from radio_protocol.timefmt import parse_rfc3339, zone

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
    st = config.station(station_id)
    if st is None:
        return None
    latest = store.latest_schedule(st.id)
    row = fleet_row(st, store.station_aggregates().get(st.id), store.status(st.id),
                    latest[0] if latest else None)
    tz = zone(config.district.timezone)
    lo, hi = datetime.combine(start, time(0), tz), datetime.combine(end + timedelta(days=1), time(0), tz)
    as_run = tuple(r for ev in store.iter_events(st.id) if (r := as_run_row(ev)) is not None
                   and lo <= (r.started_at or r.slot_at or lo - timedelta(days=1)) < hi)
    return StationDetail(st.id, st.commune_code, st.commune_name, st.level, row, as_run,
                         upcoming_slots(latest, now), status_periods(store, st.id),
                         tuple(StationKey(kid, jwk.get("kty", ""), jwk.get("crv", ""), jwk.get("x", ""),
                                          i == len(st.keys) - 1)
                               for i, (kid, jwk) in enumerate(zip(st.kids, st.keys, strict=True))))


def as_run_row(event: StoredEvent) -> AsRunRow | None:
    """The as-run line of a stored event; None when its payload no longer reads as an airing."""
    try:
        ev = parse_event(decode_payload(event.jws))
    except CommuneRadioError:
        return None
    late = None if ev.slot_at is None or ev.started_at is None else \
        round((ev.started_at - ev.slot_at).total_seconds(), 3)
    level = ev.level
    return AsRunRow(ev.seq, ev.slot_at, ev.started_at, ev.ended_at, ev.outcome, ev.reason, ev.segment.program,
                    ev.segment.id, ev.segment.title, ev.played_s, ev.media_s,
                    level.rms_dbfs if level else None, level.peak_dbfs if level else None,
                    level.silent_s if level else None, ev.amp.confirmed, ev.clock_synced, late)


def upcoming_slots(latest: tuple[int, bytes] | None, now: datetime) -> tuple[UpcomingSlot, ...]:
    """The slots of the latest published schedule from ``now`` on (at most :data:`MAX_UPCOMING`)."""
    if latest is None:
        return ()
    version, jws = latest
    try:
        schedule = parse_schedule(decode_payload(jws))
    except CommuneRadioError:
        return ()
    return tuple(UpcomingSlot(s.at, s.segment.id, s.segment.title, s.segment.program, s.segment.priority, version)
                 for s in expand(schedule, now)[:MAX_UPCOMING])


def status_periods(store: Store, station: str) -> tuple[StatusPeriod, ...]:
    """Online/offline periods from the status log, by the collector's receipt times; a
    store without log rows for the station gives its latest state since it was first seen."""
    changes = [(c.state, parse_rfc3339(c.received_at)) for c in store.status_log(station)]
    if not changes:
        latest = store.status(station)
        if latest is None:
            return ()
        changes = [(latest.state, parse_rfc3339(latest.received_at))]
    return tuple(StatusPeriod(state, at, changes[i + 1][1] if i + 1 < len(changes) else None)
                 for i, (state, at) in enumerate(changes))
