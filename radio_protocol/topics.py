"""MQTT topic names of docs/protocol.md: ``cr/v1/{district}/station/{station}/{kind}``."""

from __future__ import annotations

import re

from radio_protocol.names import KINDS, TYP_BY_KIND

__all__ = ["DISTRICT_RE", "KINDS", "STATION_RE", "TYP_BY_KIND", "district_filter", "parse_topic", "topic"]

DISTRICT_RE = re.compile(r"^[a-z0-9-]{1,32}$")
STATION_RE = re.compile(r"^[a-z0-9-]{1,64}$")


def topic(district: str, station: str, kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown topic kind {kind!r}")
    return f"cr/v1/{district}/station/{station}/{kind}"


def district_filter(district: str, kind: str) -> str:
    """Subscription filter for one kind from every station of a district."""
    return f"cr/v1/{district}/station/+/{kind}"


def parse_topic(name: str) -> tuple[str, str, str] | None:
    """``(district, station, kind)`` for a protocol topic, or None for anything else."""
    parts = name.split("/")
    if len(parts) != 6 or parts[0] != "cr" or parts[1] != "v1" or parts[3] != "station":
        return None
    district, station, kind = parts[2], parts[4], parts[5]
    if not DISTRICT_RE.match(district) or not STATION_RE.match(station) or kind not in KINDS:
        return None
    return district, station, kind
