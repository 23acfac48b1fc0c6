"""Station health: offline, flapping, clock, media, schedule not applied.

Read from the verified latest status of each station (``Store.all_statuses``) and the
published schedule versions; one bulk read each per pass.

- ``station-offline``: the station's own signed ``offline`` status (its Last Will or a clean
  stop) for at least ``offline_after_s``, or no status for ``silence_after_s`` (its ``at``
  is that old). Occurrence: the time it went offline, so each outage is one alert. A
  station that drops and returns within ``offline_after_s`` pages nobody.
- ``station-flapping``: the station came back online ``flapping.count`` times within
  ``flapping.window_s`` (each return seen as a new "online since" between passes).
- ``clock-unsynced``, ``media-missing``: what the online station's status says.
- ``schedule-not-applied``: the latest published version is not the one in force
  ``schedule_apply_after_s`` after publishing (occurrence: the version).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from district_collector.alerts.model import EPISODE, Finding
from district_collector.alerts.rules.context import RuleContext, RuleResult
from district_collector.store.base_alerts import utc_text
from district_collector.store.records import StatusRow
from radio_protocol.timefmt import parse_rfc3339

KINDS = ("station-offline", "station-flapping", "clock-unsynced", "media-missing", "schedule-not-applied")


_PARSED: dict[str, datetime | None] = {}


def _time(text: str | None) -> datetime | None:
    """An RFC 3339 text as an aware time (None when unreadable); memoized, since most
    stations' times are the same from one pass to the next."""
    if not text:
        return None
    if text not in _PARSED:
        if len(_PARSED) > 200_000:
            _PARSED.clear()
        try:
            _PARSED[text] = parse_rfc3339(text)
        except ValueError:
            _PARSED[text] = None
    return _PARSED[text]


def _flapping(ctx: RuleContext, row: StatusRow, flaps: dict[str, list[str]], seen: dict[str, str],
              window_start: str) -> Finding | None:
    """Count a return (a new "online since" time) and report flapping past the threshold."""
    station = row.station
    returns = [t for t in flaps.get(station, []) if t >= window_start]
    if row.state == "online":
        previous = seen.get(station)
        since = _time(row.received_at)
        if previous is not None and previous != row.received_at and since is not None:
            returns.append(utc_text(since))
        seen[station] = row.received_at
    if returns:
        flaps[station] = returns
    else:
        flaps.pop(station, None)
    if len(returns) < ctx.alerts.flap_count:
        return None
    return Finding("station-flapping", station, EPISODE, returns[0], station, ctx.place(station)["commune"],
                   {**ctx.place(station), "returns": len(returns), "window_s": ctx.alerts.flap_window_s})


def station_health(ctx: RuleContext) -> RuleResult:
    """The station health findings of every station with a status."""
    a = ctx.alerts
    out = RuleResult(owned=KINDS)
    flaps: dict[str, list[str]] = ctx.state.setdefault("flaps", {})
    seen: dict[str, str] = ctx.state.setdefault("online_since", {})
    published = ctx.published()
    offline_before = ctx.ago(a.offline_after_s)
    silent_before = ctx.ago(a.silence_after_s)
    window_start = utc_text(ctx.ago(a.flap_window_s))
    for row in ctx.statuses():
        station = row.station
        if ctx.station(station) is None:
            continue  # a station removed from the registry is nobody's to page about
        place = ctx.place(station)
        commune = place["commune"]
        flap = _flapping(ctx, row, flaps, seen, window_start)
        if flap is not None:
            out.findings.append(flap)
        status = ctx.parsed_status(row)
        since = _time(row.received_at)
        if row.state == "offline":
            if since is not None and since <= offline_before:
                at = status.at if status is not None else since
                out.findings.append(Finding("station-offline", station, utc_text(since), utc_text(since), station,
                                            commune, {**place, "cause": "offline-status", "last_status_at": utc_text(at)}))
            continue
        if status is None:
            continue
        if status.at <= silent_before:
            out.findings.append(Finding("station-offline", station, utc_text(status.at), utc_text(status.at),
                                        station, commune, {**place, "cause": "silent",
                                                           "last_status_at": utc_text(status.at)}))
            continue
        if status.clock_synced is False:
            out.findings.append(Finding("clock-unsynced", station, EPISODE, utc_text(status.at), station, commune,
                                        dict(place)))
        if status.media_missing:
            next_slot = utc_text(status.next_slot) if status.next_slot else None
            out.findings.append(Finding("media-missing", station, EPISODE, utc_text(status.at), station, commune,
                                        {**place, "segments": sorted(status.media_missing), "next_slot": next_slot}))
        latest = published.get(station)
        if latest is not None and status.schedule_version != latest[0]:
            version, published_at = latest
            pub_at = _time(published_at)
            if pub_at is not None and pub_at + timedelta(seconds=a.schedule_apply_after_s) <= ctx.now:
                out.findings.append(Finding(
                    "schedule-not-applied", station, f"v{version}", utc_text(pub_at), station, commune,
                    {**place, "published": version, "applied": status.schedule_version,
                     "schedule_error": status.schedule_error}))
    return out
