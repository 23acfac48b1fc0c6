"""What every view shares: JSON conversion of its dataclasses, commune filtering, times.

:class:`JsonData` gives a dataclass ``as_json()``: nested dataclasses become objects,
aware datetimes RFC 3339 text (milliseconds), dates ``YYYY-MM-DD``, tuples lists. A
dataclass turned into JSON thousands of times per answer may write ``as_json()`` out by
hand (the same object); nested in another, its own is used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from district_collector.config import DistrictConfig
from district_collector.registry import RegisteredStation
from radio_protocol.timefmt import format_rfc3339

_FIELDS: dict[type, tuple[str, ...] | None] = {}  # per type: its dataclass fields, None if not one
_OWN: tuple[str, ...] = ()  # in _FIELDS: a dataclass that writes its own as_json() (a hot one)


def to_json(value: object) -> Any:
    """``value`` as JSON-ready data (see the module doc)."""
    if value is None or isinstance(value, str | int | float):
        return value
    kind = type(value)
    if kind in _FIELDS:
        names = _FIELDS[kind]
    else:
        names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(value)) \
            if dataclasses.is_dataclass(value) and not isinstance(value, type) else None
        if names is not None and getattr(kind, "as_json", JsonData.as_json) is not JsonData.as_json:
            names = _FIELDS[kind] = _OWN
    if names is _OWN:
        return value.as_json()  # type: ignore[attr-defined]
    if names is not None:
        return {name: to_json(getattr(value, name)) for name in names}
    if isinstance(value, datetime):
        return format_rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        return [to_json(v) for v in value]
    return value


class JsonData:
    """Mixin for the views' dataclasses: ``as_json()`` (see :func:`to_json`)."""

    def as_json(self) -> dict[str, Any]:
        out = to_json(self)
        assert isinstance(out, dict)
        return out


def visible_stations(config: DistrictConfig, communes: Collection[str] | None) -> list[RegisteredStation]:
    """The registered stations, in registry order, of ``communes`` (None: every station)."""
    if communes is None:
        return list(config.stations)
    wanted = frozenset(communes)
    return [s for s in config.stations if s.commune_code in wanted]
