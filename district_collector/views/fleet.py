"""The fleet: one row per registered station, what the Tổng quan page and ``GET /api/v1/stations`` show.

``fleet(store, config, now, communes=None) -> list[FleetRow]``, registry order; ``communes``
limits the rows to those communes' stations (None: all). ``fleet_json(...) -> str`` is the
same rows as one JSON array text (what ``GET /api/v1/stations`` should send: the fastest). Dataclasses (every one has
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

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from district_collector.config import DistrictConfig
from district_collector.registry import RegisteredStation
from district_collector.scoring.facts import payload_bytes
from district_collector.store.base import Store
from district_collector.store.base_fleet import StationAggregate
from district_collector.store.records import StatusRow
from district_collector.views.common import JsonData, visible_stations
from radio_protocol.messages.status import Status
from radio_protocol.timefmt import format_rfc3339, parse_rfc3339

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

    def as_json(self) -> dict[str, Any]:
        """As :meth:`JsonData.as_json`, written out: the fleet of 10,000 stations is
        turned into JSON on every poll."""
        last = self.last_airing
        p = self.problems
        return {
            "id": self.id, "commune": self.commune, "commune_name": self.commune_name, "online": self.online,
            "last_seen_at": _text(self.last_seen_at),
            "last_airing": None if last is None else {
                "started_at": _text(last.started_at), "outcome": last.outcome, "reason": last.reason,
                "program": last.program, "title": last.title},
            "schedule_published": self.schedule_published, "schedule_applied": self.schedule_applied,
            "media_missing": list(self.media_missing), "clock_synced": self.clock_synced,
            "outbox_pending": self.outbox_pending,
            "problems": {"gaps": p.gaps, "chain_breaks": p.chain_breaks, "conflicts": p.conflicts,
                         "quarantined": p.quarantined},
            "location": None if self.location is None else {"lat": self.location.lat, "lon": self.location.lon},
            "state": self.state, "since": _text(self.since), "schedule_error": self.schedule_error,
        }


def _text(at: datetime | None) -> str | None:
    return None if at is None else format_rfc3339(at)


def fleet(store: Store, config: DistrictConfig, now: datetime,
          communes: Collection[str] | None = None) -> list[FleetRow]:
    """One row per registered station of ``communes`` (None: all), registry order.
    ``now`` is accepted for the contract (the state is what the station last said)."""
    aggregates = store.station_aggregates()
    statuses = store.latest_statuses()
    published = store.latest_schedule_versions()
    return [_cached(st, aggregates.get(st.id), statuses.get(st.id), published.get(st.id))[0]
            for st in visible_stations(config, communes)]


def fleet_json(store: Store, config: DistrictConfig, now: datetime,
               communes: Collection[str] | None = None) -> str:
    """``json.dumps([row.as_json() for row in fleet(...)])``, what ``GET /api/v1/stations``
    answers, built from each row's JSON text kept while the row's inputs do not change."""
    aggregates = store.station_aggregates()
    statuses = store.latest_statuses()
    published = store.latest_schedule_versions()
    return "[" + ",".join(_cached(st, aggregates.get(st.id), statuses.get(st.id), published.get(st.id))[1]
                          for st in visible_stations(config, communes)) + "]"


# station id -> (inputs, row, its JSON text): a row is a pure function of its inputs, so a
# fleet polled every few seconds rebuilds only the rows of stations that changed.
_ROWS: dict[str, tuple[tuple[object, ...], FleetRow, str]] = {}
_MAX_ROWS = 100_000


def _cached(st: RegisteredStation, agg: StationAggregate | None, stored: StatusRow | None,
            published: int | None) -> tuple[FleetRow, str]:
    key = (st, agg, stored, published)
    hit = _ROWS.get(st.id)
    if hit is not None and hit[0][0] is st and hit[0][1:] == key[1:]:
        return hit[1], hit[2]
    row = fleet_row(st, agg, stored, published)
    text = json.dumps(row.as_json(), ensure_ascii=False)
    if len(_ROWS) >= _MAX_ROWS:
        _ROWS.clear()
    _ROWS[st.id] = (key, row, text)
    return row, text


def fleet_row(st: RegisteredStation, agg: StationAggregate | None, stored: StatusRow | None,
              published: int | None) -> FleetRow:
    """The row of one station from its aggregates, latest status and published version."""
    info = status_info(stored)
    problems = Problems(agg.gaps, agg.chain_breaks, agg.conflicts, agg.quarantined) if agg \
        else Problems(0, 0, 0, 0)
    last = None
    if agg is not None and agg.last_started_at is not None:
        last = LastAiring(_instant(agg.last_started_at), agg.last_outcome,
                          _reason(agg.last_jws), agg.last_program, agg.last_title)
    online = None if stored is None else stored.state == "online"
    warning = info is not None and (bool(info.media_missing) or info.clock_synced is False
                                    or info.schedule_error is not None
                                    or (published is not None and info.schedule_version != published))
    state: State = ("never-seen" if stored is None else "offline" if not online
                    else "warning" if warning or problems.any else "ok")
    return FleetRow(
        id=st.id, commune=st.commune_code, commune_name=st.commune_name, online=online,
        last_seen_at=info.at if info else (_instant(stored.at) if stored else None),
        last_airing=last, schedule_published=published,
        schedule_applied=info.schedule_version if info else None,
        media_missing=info.media_missing if info else (),
        clock_synced=info.clock_synced if info else None,
        outbox_pending=info.outbox_pending if info else None, problems=problems,
        location=location_of(st), state=state,
        since=_instant(stored.received_at) if stored else None,
        schedule_error=info.schedule_error if info else None)


def location_of(st: RegisteredStation) -> Location | None:
    """The registry's ``location`` of the station, when it has one."""
    return None if st.location is None else Location(*st.location)


# Decoded statuses by JWS: a fleet re-read every few seconds decodes only what changed.
_DECODED: dict[bytes, Status | None] = {}
_MAX_DECODED = 50_000


def status_info(stored: StatusRow | None) -> Status | None:
    """The stored status payload (None without one, or when it no longer reads)."""
    if stored is None:
        return None
    if stored.jws in _DECODED:
        return _DECODED[stored.jws]
    if len(_DECODED) >= _MAX_DECODED:
        _DECODED.clear()
    info = _DECODED[stored.jws] = stored.status()
    return info


def _reason(jws: bytes | None) -> str | None:
    if jws is None:
        return None
    try:
        reason = json.loads(payload_bytes(jws)).get("reason")
    except (ValueError, AttributeError):
        return None
    return reason if isinstance(reason, str) else None


def _instant(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_rfc3339(text)
    except ValueError:
        return None
