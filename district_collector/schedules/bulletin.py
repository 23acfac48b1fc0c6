"""An emergency or priority bulletin (TT39): a new signed schedule version per station.

There is no other path to a station's loudspeaker than its signed schedule, so
``radio-district broadcast`` adds no trust and no unsigned message: per target station
:func:`bulletin_schedule` takes the station's latest published schedule and adds

- one segment (the bulletin: its own id ``bulletin-<UTC time>``, its ``priority``, its media
  normalised like any published segment), and
- one ``at`` slot at the airing time with ``until`` (docs/protocol.md, "schedule"): a
  station airs it as soon as it has the schedule and the media, late if need be, while
  ``until`` has not passed, and records it ``missed`` (reason ``expired``) otherwise.

The rest of the previous schedule is kept as it was (its rules, its slots, its earlier
bulletins). When the bulletin's time lies outside the previous schedule's validity, the
validity is widened; so that widening never lets a rule fire on days it did not fire
before, the previous schedule's occurrences are then written out as ``at`` slots instead
of its rules (a station ignores those before the schedule reached it). With no previous schedule (or one that has ended)
the new schedule holds the bulletin alone.

:func:`stage_bulletin_media` puts the file in the district media directory (normalised
when ``media.loudness_target_lufs`` is set), where stations fetch it like any segment.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import soundfile as sf

from district_collector.config import DistrictConfig
from district_collector.media.publishing import loudness_stage
from radio_protocol.durable import fsync_dir
from radio_protocol.errors import ConfigError, ScheduleError
from radio_protocol.jose import file_sha256
from radio_protocol.schedule.build import slot_member
from radio_protocol.schedule.expand import expand
from radio_protocol.schedule.model import SlotRule
from radio_protocol.schedule.parse import parse_schedule
from radio_protocol.timefmt import format_rfc3339, zone

BULLETIN_PROGRAM = "thong-bao"  # the programme slug of bulletins (not counted by chuyen-doi-so)


@dataclass(frozen=True)
class Bulletin:
    """What is broadcast: segment id, title, priority, the airing time and validity end,
    and the ``media`` member (sha256, url, bytes, duration_s, optional loudness)."""

    segment_id: str
    title: str
    priority: str
    at: datetime
    until: datetime
    media: dict[str, Any]

    def segment_member(self) -> dict[str, Any]:
        member: dict[str, Any] = {"id": self.segment_id, "title": self.title, "program": BULLETIN_PROGRAM,
                                  "topic": None, "priority": self.priority}
        media = {k: self.media[k] for k in ("sha256", "url", "bytes", "duration_s")}
        member["media"] = media
        if self.media.get("loudness") is not None:
            member["loudness"] = self.media["loudness"]
        return member


def bulletin_id(at: datetime) -> str:
    """``bulletin-YYYYMMDDTHHMMSSZ`` (UTC): unique per second, valid as a segment id."""
    return f"bulletin-{at.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def stage_bulletin_media(path: Path, config: DistrictConfig) -> dict[str, Any]:
    """The ``media`` member for ``path``, the file (or its normalised copy) in the media dir.

    Raises ConfigError: no ``media`` section, unreadable or empty audio.
    """
    if config.media is None:
        raise ConfigError([f"{config.source}: broadcast needs media: {{base_url, dir}} to serve the "
                           "bulletin's file to the stations"])
    if not path.is_file():
        raise ConfigError([f"{path}: no such file"])
    staged = loudness_stage(path, config, str(path))
    source = staged.path
    try:
        info = sf.info(str(source))
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise ConfigError([f"{path}: not a playable audio file: {exc}"]) from exc
    if info.samplerate <= 0 or info.frames <= 0:
        raise ConfigError([f"{path}: audio file has no samples"])
    sha = file_sha256(source)
    name = f"{sha}{source.suffix.lower()}"
    target = config.media.dir / name
    if not target.exists():
        config.media.dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{name}.tmp")
        shutil.copyfile(source, tmp)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        fsync_dir(config.media.dir)
    member: dict[str, Any] = {"sha256": sha, "url": f"{config.media.base_url}/{name}",
                              "bytes": target.stat().st_size,
                              "duration_s": round(info.frames / info.samplerate, 3)}
    if staged.loudness is not None:
        member["loudness"] = staged.loudness
    return member


def bulletin_schedule(previous: dict[str, Any] | None, bulletin: Bulletin, *, district: str, station: str,
                      version: int, timezone: str, now_at: datetime) -> dict[str, Any]:
    """The payload of ``station``'s next schedule: ``previous`` plus the bulletin (module doc).

    Raises ScheduleError when the result would not parse at the station (e.g. a segment
    id clash, a month over its slot limit).
    """
    tz = zone(timezone)
    slot = slot_member(SlotRule(0, bulletin.segment_id, at=bulletin.at, until=bulletin.until), tz)
    first_day, last_day = bulletin.at.astimezone(tz).date(), bulletin.until.astimezone(tz).date()
    old = parse_schedule(previous) if previous is not None else None
    if previous is None or old is None or old.end_at <= bulletin.at:
        body: dict[str, Any] = {
            "v": 1, "type": "schedule", "district": district, "station": station, "version": version,
            "issued_at": format_rfc3339(now_at.astimezone(tz)), "valid_from": first_day.isoformat(),
            "valid_until": last_day.isoformat(), "timezone": timezone,
            "segments": [bulletin.segment_member()], "slots": [slot]}
        parse_schedule(body)
        return body
    body = dict(previous)
    body.update(version=version, issued_at=format_rfc3339(now_at.astimezone(old.tz)))
    body["segments"] = [*previous["segments"], bulletin.segment_member()]
    if first_day < old.valid_from or last_day > old.valid_until:
        remaining = expand(old)  # all of them: the month's record (scoring, documents) stays whole
        keep_ids = {s.segment.id for s in remaining}
        keep_ids |= {e.segment for e in old.slots if e.until is not None and e.at is not None}
        body["segments"] = [s for s in previous["segments"] if s.get("id") in keep_ids] \
            + [bulletin.segment_member()]
        old_bulletins = [e for e in previous["slots"] if "until" in e]
        body["slots"] = old_bulletins + [slot_member(SlotRule(i, s.segment.id, at=s.at), old.tz)
                                         for i, s in enumerate(remaining) if s.until is None]
        body["valid_from"] = min(first_day, old.valid_from).isoformat()
        body["valid_until"] = max(last_day, old.valid_until).isoformat()
    else:
        body["slots"] = list(previous["slots"])
    body["slots"] = [*body["slots"], slot]
    parse_schedule(body)
    return body


def valid_for(text: str) -> timedelta:
    """``1h``, ``30m``, ``90s``, ``1h30m`` -> a timedelta in 10 s .. 24 hours; ConfigError otherwise."""
    match = re.fullmatch(r"\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*", text or "")
    if not text or match is None or not any(match.groups()):
        raise ConfigError([f"--valid-for: {text!r} is not a duration like 1h, 30m, 90s or 1h30m"])
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    span = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    if not timedelta(seconds=10) <= span <= timedelta(hours=24):
        raise ConfigError([f"--valid-for: {text!r} must be between 10 seconds and 24 hours"])
    return span


__all__ = ["BULLETIN_PROGRAM", "Bulletin", "ScheduleError", "bulletin_id", "bulletin_schedule",
           "stage_bulletin_media", "valid_for"]
