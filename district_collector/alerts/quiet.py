"""Quiet hours: when a non-urgent notification made at ``now`` may go out.

``quiet_hours: {from: "22:00", to: "05:30"}`` (district time) may wrap midnight. Inside
the window the answer is the window's end (the next ``to``); outside it, None (at once).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from district_collector.alerts.config import AlertsConfig


def quiet_until(alerts: AlertsConfig, now: datetime, tz: ZoneInfo) -> datetime | None:
    """The end of the quiet hours ``now`` falls in (aware), or None outside them."""
    start, end = alerts.quiet_from, alerts.quiet_to
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(tz)
    t = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= t < end
    else:
        inside = t >= start or t < end
    if not inside:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tz)
