"""Named groups of stations (``groups:`` in district.yaml) and the one expansion of a station list.

::

    groups:
      bac: [dak-koi-01, dak-ruong-01]     # a name -> the station ids it stands for
      nam: [dak-pne-01]

A group name follows the station id pattern (``[a-z0-9-]{1,64}``), must not be a station
id, and lists at least one registered station (no groups of groups). :func:`read_groups`
checks that while the config is read (every problem with the config's file, key and line);
:func:`expand_stations` is the one place a list of names given by a user (catalogue
``stations:``, ``schedule publish --stations``, the XLSX ``Trạm`` column, ``broadcast``)
becomes station ids: each name a station id or a group, the result in first-mention order
without repeats; ``all`` / ``tất cả`` stand for every registered station.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from radio_protocol.configschema import ConfigReader
from radio_protocol.errors import CommuneRadioError
from radio_protocol.topics import STATION_RE

ALL_NAMES = ("all", "tất cả", "tat ca")


class UnknownStationError(CommuneRadioError):
    """A name in a station list is neither a registered station nor a group.

    ``names``: the unknown names, in the order given."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        listed = ", ".join(self.names)
        super().__init__(f"station(s) {listed} not registered: not a station id or group of the district "
                         f"config / trạm {listed} chưa đăng ký: không phải mã trạm hay nhóm trạm")


def read_groups(r: ConfigReader, data: Any, station_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The config's ``groups`` mapping, checked; problems go to ``r`` (with their line)."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        r.error("groups", f"must be a mapping of group name -> list of station ids, got {type(data).__name__}")
        return {}
    known = set(station_ids)
    groups: dict[str, tuple[str, ...]] = {}
    for name, members in data.items():
        key = f"groups.{name}"
        if not isinstance(name, str) or not STATION_RE.match(name) or name.lower() in ALL_NAMES:
            r.error(key, f"a group name must be like a station id ([a-z0-9-], not 'all'), got {name!r}")
            continue
        if name in known:
            r.error(key, f"{name!r} is already a station id: give the group another name")
            continue
        if not isinstance(members, list) or not members:
            r.error(key, "must be a non-empty list of station ids")
            continue
        ids: list[str] = []
        for i, member in enumerate(members):
            if not isinstance(member, str) or member not in known:
                hint = " (groups cannot contain groups)" if member in data else ""
                r.error(f"{key}[{i}]", f"{member!r} is not a registered station{hint}")
            elif member not in ids:
                ids.append(member)
        if ids:
            groups[name] = tuple(ids)
    return groups


def expand_stations(names: Iterable[str], station_ids: Sequence[str],
                    groups: Mapping[str, Sequence[str]]) -> list[str]:
    """Station ids for ``names`` (station ids, group names, ``all``), first mention first.

    Raises :class:`UnknownStationError` naming every name that is neither.
    """
    known = set(station_ids)
    out: list[str] = []
    unknown: list[str] = []
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if name.lower() in ALL_NAMES:
            members: Sequence[str] = station_ids
        elif name in known:
            members = (name,)
        elif name in groups:
            members = groups[name]
        else:
            unknown.append(name)
            continue
        out.extend(m for m in members if m not in out)
    if unknown:
        raise UnknownStationError(unknown)
    return out
