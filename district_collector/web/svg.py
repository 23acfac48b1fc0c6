"""Pictures drawn on the server as inline SVG (no tile server, no chart library):
the stations' map coloured by state, and the airings-per-week bar chart. Text is escaped
by the templates (these return data for ``templates/_map.html`` and ``_chart.html``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

WIDTH = 600
HEIGHT = 360
MARGIN = 30


@dataclass(frozen=True)
class MapPoint:
    id: str
    label: str
    state: str
    x: float
    y: float


def station_map(rows: Sequence[Any]) -> list[MapPoint]:
    """Fleet rows (the view's objects: ``id``, ``commune_name``, ``state``, ``location``
    with ``lat``/``lon``) with a location as points in a WIDTH x HEIGHT box
    (equirectangular, longitudes scaled by the cosine of the mean latitude, north up)."""
    located = [r for r in rows if r.location is not None]
    if not located:
        return []
    lats = [float(r.location.lat) for r in located]
    lons = [float(r.location.lon) for r in located]

    squeeze = math.cos(math.radians(sum(lats) / len(lats)))
    span_x = max((max(lons) - min(lons)) * squeeze, 1e-6)
    span_y = max(max(lats) - min(lats), 1e-6)
    scale = min((WIDTH - 2 * MARGIN) / span_x, (HEIGHT - 2 * MARGIN) / span_y)
    off_x = (WIDTH - span_x * scale) / 2
    off_y = (HEIGHT - span_y * scale) / 2
    points = []
    for row, lat, lon in zip(located, lats, lons, strict=True):
        x = off_x + (lon - min(lons)) * squeeze * scale
        y = HEIGHT - (off_y + (lat - min(lats)) * scale)
        points.append(MapPoint(str(row.id), str(row.commune_name or row.id), str(row.state),
                               round(x, 1), round(y, 1)))
    return points


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


CHART_W = 600
CHART_H = 200
CHART_BASE = 170


def week_bars(labels: list[str], values: list[int]) -> tuple[list[Bar], int]:
    """One bar per week (``labels`` like ``2026-W49``), scaled to the largest value;
    ``(bars, largest)``."""
    if not values:
        return [], 0
    top = max(max(values), 1)
    step = (CHART_W - 2 * MARGIN) / len(values)
    width = max(step * 0.7, 1.0)
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        height = (CHART_BASE - 20) * value / top
        bars.append(Bar(label, value, round(MARGIN + i * step + (step - width) / 2, 1),
                        round(CHART_BASE - height, 1), round(width, 1), round(height, 1)))
    return bars, top
