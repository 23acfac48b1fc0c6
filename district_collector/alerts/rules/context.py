"""What a rule gets (:class:`RuleContext`) and gives back (:class:`RuleResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from district_collector.alerts.config import AlertsConfig
from district_collector.alerts.model import AlertKey, Finding
from district_collector.config import DistrictConfig
from district_collector.registry import RegisteredStation
from district_collector.store.base import Store
from district_collector.store.base_alerts import utc_text
from district_collector.store.records import StatusRow
from radio_protocol.messages.status import Status


@dataclass
class NewEvent:
    """A stored (verified) event the engine had not seen: its payload and receipt time."""

    payload: dict[str, Any]
    received_at: str


@dataclass
class RuleContext:
    """One evaluation pass. ``state``: the engine's saved state, which a rule may update
    (saved after the pass); ``new_events``: events stored since the last pass; ``cache``:
    memory kept between passes of one engine (parsed schedules...), lost on restart."""

    store: Store
    config: DistrictConfig
    alerts: AlertsConfig
    now: datetime
    state: dict[str, Any]
    new_events: list[NewEvent] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)
    _statuses: list[StatusRow] | None = None
    _open: list[AlertKey] | None = None
    _published: dict[str, tuple[int, str]] | None = None

    def statuses(self) -> list[StatusRow]:
        """Every station's latest verified status (read once per pass)."""
        if self._statuses is None:
            self._statuses = self.store.all_statuses()
        return self._statuses

    def parsed_status(self, row: StatusRow) -> Status | None:
        """``row.status()``, parsed once per distinct status JWS (kept between passes)."""
        parsed: dict[str, tuple[bytes, Status | None]] = self.cache.setdefault("status", {})
        hit = parsed.get(row.station)
        if hit is None or hit[0] != row.jws:
            hit = parsed[row.station] = (row.jws, row.status())
        return hit[1]

    def open_alerts(self, kinds: tuple[str, ...] | None = None) -> list[AlertKey]:
        """The alerts open when the pass began (read once per pass)."""
        if self._open is None:
            self._open = self.store.open_alert_keys()
        return self._open if kinds is None else [a for a in self._open if a.kind in kinds]

    def published(self) -> dict[str, tuple[int, str]]:
        """Per station, its latest published schedule ``(version, published_at)`` (once per pass)."""
        if self._published is None:
            self._published = self.store.latest_published()
        return self._published

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.district.timezone)

    @property
    def now_text(self) -> str:
        return utc_text(self.now)

    def ago(self, seconds: float) -> datetime:
        return self.now - timedelta(seconds=seconds)

    def station(self, station_id: str) -> RegisteredStation | None:
        stations: dict[str, RegisteredStation] | None = self.cache.get("stations")
        if stations is None:
            stations = {st.id: st for st in self.config.stations}
            self.cache["stations"] = stations
        return stations.get(station_id)

    def place(self, station_id: str) -> dict[str, Any]:
        """The station's commune code and name for a finding's detail (a fresh dict)."""
        places: dict[str, dict[str, Any]] = self.cache.setdefault("places", {})
        if station_id not in places:
            st = self.station(station_id)
            places[station_id] = {"commune": st.commune_code if st else None,
                                  "commune_name": st.commune_name if st else None}
        return dict(places[station_id])


@dataclass
class RuleResult:
    """A rule's findings. ``owned``: the kinds this rule decides in full for ``scope``
    (subjects; None = every subject): an open alert of those kinds and subjects that is
    not found is resolved. ``resolve``: open alerts to resolve explicitly, by identity
    ``(kind, subject, occurrence)``, with a note (event-driven kinds)."""

    findings: list[Finding] = field(default_factory=list)
    owned: tuple[str, ...] = ()
    scope: set[str] | None = None
    resolve: dict[tuple[str, str, str], str] = field(default_factory=dict)
    resolve_before: list[tuple[str, str, str, str]] = field(default_factory=list)
    """``(kind, subject, since_before, note)``: resolve open alerts of that kind and subject
    whose ``since`` is before ``since_before`` (a good airing clears earlier failures)."""
