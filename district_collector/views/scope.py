"""Which stations a report or evidence bundle covers: all, some communes', or a station list.

One filter for the console and the ``report``/``evidence`` commands:
:func:`scoped_registry` is the registry restricted to the stations asked for, and
:func:`scope_ids` the station ids whose events and schedules count (None: everything
stored). A restricted report is the report of those stations alone: a commune's criteria
are computed from its listed stations only, the region's line from the listed stations
only, and the events of every other station (registered or not) are left out entirely
(not even counted as excluded).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from district_collector.config import DistrictConfig
from district_collector.registry import Registry
from district_collector.scoring.period import ScoringError


def parse_station_list(text: str) -> list[str]:
    """``--stations``' comma-separated names (ids, group names, ``all``), blanks dropped;
    ScoringError when none is left."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ScoringError("--stations: give at least one station id or group name, comma-separated")
    return names


def scoped_registry(config: DistrictConfig, district_keys: list[dict[str, str]],
                    communes: Collection[str] | None = None,
                    stations: Collection[str] | None = None) -> Registry:
    """The config's registry restricted to the stations of ``communes`` (commune codes) and
    to ``stations`` (station ids, group names or ``all``, expanded by
    :meth:`DistrictConfig.expand_stations`; UnknownStationError naming what is neither);
    None: no restriction of that kind. ScoringError when no station is left."""
    registry = Registry.from_config(config, district_keys)
    keep = None if stations is None else frozenset(config.expand_stations(stations))
    wanted = None if communes is None else frozenset(communes)
    if keep is not None or wanted is not None:
        registry = replace(registry, _by_id={}, stations=tuple(
            s for s in registry.stations
            if (keep is None or s.id in keep) and (wanted is None or s.commune_code in wanted)))
    if not registry.stations:
        raise ScoringError(f"{config.source}: no stations are registered here, so there is nothing to report")
    return registry


def scope_ids(registry: Registry, communes: Collection[str] | None,
              stations: Collection[str] | None) -> list[str] | None:
    """The ids whose events count: the restricted registry's stations, or None (every
    station stored, unregistered senders included) when nothing restricts it."""
    if communes is None and stations is None:
        return None
    return [s.id for s in registry.stations]
