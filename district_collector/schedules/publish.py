"""Publish a catalogue: media described once, one signed schedule per station, retained.

Steps (:func:`publish_catalogue`):

1. :func:`resolve_media`: each distinct media source of the catalogue is read (a local
   file) or downloaded (an http(s) URL) **once** to measure its loudness and, with
   ``media.loudness_target_lufs``, write a normalised copy that is published instead
   (:mod:`district_collector.media.publishing`), and to compute its SHA-256, size and
   duration (``soundfile.info``). A local file is copied into the district's media
   directory as ``<sha256><ext>`` (``media.dir``, served at ``media.base_url``); a URL is kept
   unless it was normalised.
2. :func:`prepare_schedules`: per station, the next version (one above the highest in
   the store's ``schedules`` table), the payload (checked as the station will parse it),
   signed ``cr-schedule+json`` with the district key, and stored before anything is sent.
   A schedule replaces the station's previous one wholly (docs/protocol.md), and next month's
   catalogue is published before the month starts, so :func:`carry_over` puts into it what
   the last published schedule still has to air between ``now`` and the new month (as
   explicit ``at`` slots, past ones dropped); the previous schedule's slots inside the new
   period are not kept (re-publishing a month corrects it).
3. :func:`send_schedules`: published retained, QoS 1, to ``.../station/<id>/schedule``
   with a client id of its own (so a running collector is not kicked off the broker).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import soundfile as sf

from district_collector.config import DistrictConfig
from district_collector.media.publishing import loudness_stage
from district_collector.schedules.catalogue import Catalogue, schedule_payload
from district_collector.store.base import Store
from radio_protocol.durable import fsync_dir
from radio_protocol.errors import CommuneRadioError, ConfigError, ScheduleError
from radio_protocol.jose import Signer, file_sha256, parse_jws, sha256_hex
from radio_protocol.names import MAX_SCHEDULE_BYTES, SCHEDULE_TYP
from radio_protocol.schedule.build import slot_member
from radio_protocol.schedule.expand import expand
from radio_protocol.schedule.model import MAX_MEDIA_BYTES, SlotRule
from radio_protocol.schedule.parse import parse_schedule
from radio_protocol.timefmt import zone
from radio_protocol.topics import topic

log = logging.getLogger(__name__)


class PublishError(CommuneRadioError):
    """A schedule could not be built or sent."""


@dataclass(frozen=True)
class CarriedOver:
    """What the previous schedule still had to air before the new catalogue's period."""

    from_version: int
    slots: int
    first_at: datetime | None
    last_at: datetime | None
    segments: tuple[str, ...]
    dropped_after: int = 0  # previous slots after the new period's end (not kept: warned)


@dataclass(frozen=True)
class PreparedSchedule:
    station: str
    version: int
    jws: bytes
    payload: dict[str, Any]
    slots: int
    first_at: datetime | None
    last_at: datetime | None
    weeks_without_airing: tuple[int, ...]
    carried: CarriedOver | None = None


def _describe(path: Path, source: str) -> tuple[str, int, float]:
    sha256 = file_sha256(path)
    size = path.stat().st_size
    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise ConfigError([f"{source}: not a playable audio file: {exc}"]) from exc
    if info.samplerate <= 0 or info.frames <= 0:
        raise ConfigError([f"{source}: audio file has no samples"])
    return sha256, size, round(info.frames / info.samplerate, 3)


def _download(url: str, into: Path, timeout_s: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "commune-radio-district"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response, into.open("wb") as out:
            got = 0
            for block in iter(lambda: response.read(1 << 20), b""):
                got += len(block)
                if got > MAX_MEDIA_BYTES:
                    raise ConfigError([f"{url}: larger than {MAX_MEDIA_BYTES} bytes"])
                out.write(block)
    except OSError as exc:
        raise ConfigError([f"{url}: cannot download: {exc}"]) from exc


def resolve_media(catalogue: Catalogue, config: DistrictConfig,
                  timeout_s: float = 60.0) -> dict[str, dict[str, Any]]:
    """``segment id -> {sha256, url, bytes, duration_s}``, each source read once."""
    by_source: dict[str, dict[str, Any]] = {}
    out: dict[str, dict[str, Any]] = {}
    for seg in catalogue.segments:
        where = f"{catalogue.source}:{seg.line}: segment {seg.id}"
        if seg.media not in by_source:
            if "://" in seg.media:
                with tempfile.TemporaryDirectory() as tmp:
                    local = Path(tmp) / "media"
                    _download(seg.media, local, timeout_s)
                    staged = loudness_stage(local, config, where)  # normalised into media.dir
                    sha, size, duration = _describe(staged.path, where)
                url = f"{config.media.base_url}/{staged.path.name}" if staged.normalised and config.media \
                    else seg.media
            else:
                if config.media is None:
                    raise ConfigError([f"{where}: media is a local file, so the district config needs "
                                       "media: {base_url, dir} to serve it to the stations"])
                staged = loudness_stage(Path(seg.media), config, where)
                source = staged.path
                sha, size, duration = _describe(source, where)
                name = f"{sha}{source.suffix.lower()}"
                target = config.media.dir / name
                if not target.exists():
                    config.media.dir.mkdir(parents=True, exist_ok=True)
                    tmp_target = target.with_name(f".{name}.tmp")
                    shutil.copyfile(source, tmp_target)
                    with tmp_target.open("rb") as fh:
                        os.fsync(fh.fileno())
                    os.replace(tmp_target, target)
                    fsync_dir(config.media.dir)
                url = f"{config.media.base_url}/{name}"
            by_source[seg.media] = {"sha256": sha, "url": url, "bytes": size, "duration_s": duration}
            if staged.loudness is not None:
                by_source[seg.media]["loudness"] = staged.loudness
            log.info("media described segment=%s sha256=%s bytes=%d", seg.id, sha, size)
        out[seg.id] = dict(by_source[seg.media])
    return out


def target_stations(catalogue: Catalogue, config: DistrictConfig,
                    only: Sequence[str] | None = None) -> list[str]:
    """The stations to publish to: ``only``, else the catalogue's list, else every one."""
    registered = [s.id for s in config.stations]
    wanted = list(only) if only else list(catalogue.stations or registered)
    unknown = [s for s in wanted if s not in registered]
    if unknown:
        raise ConfigError([f"station {s!r} is not registered in {config.source}" for s in unknown])
    return wanted


def _previous_payload(station: str, version: int, jws: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(parse_jws(jws)[2])
    except Exception as exc:
        raise PublishError(f"{station}: the stored schedule version {version} cannot be read: {exc}") from exc
    if not isinstance(payload, dict):
        raise PublishError(f"{station}: the stored schedule version {version} is not a JSON object")
    return payload


def carry_over(previous: dict[str, Any], body: dict[str, Any],
               now_at: datetime) -> tuple[dict[str, Any], CarriedOver | None]:
    """``body`` (the new catalogue's payload) plus what ``previous`` still airs before it.

    Kept: every occurrence of the previous schedule in ``[now_at, start of body's
    valid_from)``, as explicit ``at`` slots (a rule is thereby clipped exactly; past slots
    are dropped), with the segments they use. Occurrences of ``previous`` inside or after
    the new period are not kept. ``valid_from`` becomes the date of the first kept slot.
    A segment id in both with different content raises PublishError.
    Returns ``(body, None)`` when nothing is carried.
    """
    station = str(body.get("station"))
    try:
        old = parse_schedule(previous)
    except ScheduleError as exc:
        raise PublishError(f"{station}: the stored schedule version {previous.get('version')} "
                           f"no longer parses, cannot carry its remaining slots: {exc}") from exc
    tz = zone(str(body["timezone"]))
    new_from = date.fromisoformat(str(body["valid_from"]))
    new_until = date.fromisoformat(str(body["valid_until"]))
    new_start = datetime.combine(new_from, time(0), tz)
    new_end = datetime.combine(new_until + timedelta(days=1), time(0), tz)
    kept = expand(old, now_at, new_start) if now_at < new_start else []
    dropped_after = len(expand(old, max(now_at, new_end)))
    if not kept:
        info = CarriedOver(old.version, 0, None, None, (), dropped_after) if dropped_after else None
        return body, info
    new_segments = {str(s["id"]): s for s in body["segments"]}
    old_segments = {str(s.get("id")): s for s in previous.get("segments", []) if isinstance(s, dict)}
    used = list(dict.fromkeys(slot.segment.id for slot in kept))
    carried_segments: list[dict[str, Any]] = []
    for seg_id in used:
        seg = old_segments[seg_id]
        if seg_id in new_segments:
            if new_segments[seg_id] != seg:
                differ = sorted(k for k in set(seg) | set(new_segments[seg_id])
                                if seg.get(k) != new_segments[seg_id].get(k))
                raise PublishError(
                    f"{station}: segment id {seg_id!r} is in the catalogue and in schedule version "
                    f"{old.version}, which still airs it on "
                    f"{min(s.at for s in kept if s.segment.id == seg_id):%Y-%m-%d %H:%M}, "
                    f"with different {', '.join(differ)}: give the new segment another id")
            continue
        carried_segments.append(seg)
    merged = dict(body)
    merged["valid_from"] = min(kept[0].at.astimezone(tz).date(), new_from).isoformat()
    merged["segments"] = carried_segments + list(body["segments"])
    merged["slots"] = [slot_member(SlotRule(i, s.segment.id, at=s.at), tz)
                       for i, s in enumerate(kept)] + list(body["slots"])
    info = CarriedOver(old.version, len(kept), kept[0].at, kept[-1].at, tuple(used), dropped_after)
    return merged, info


def prepare_schedules(catalogue: Catalogue, config: DistrictConfig, store: Store, signer: Signer,
                      media: dict[str, dict[str, Any]], stations: Iterable[str],
                      now_at: datetime) -> list[PreparedSchedule]:
    """Sign and store one schedule per station, each with its next version.

    Every station's schedule is built and checked (as the station will parse it, and its
    size) before any is stored: one that would be refused stores none.
    """
    built: list[tuple[str, int, dict[str, Any], bytes, CarriedOver | None]] = []
    for station in stations:
        if not catalogue.slots_for(station):
            log.warning("catalogue has no slot for station=%s; skipped", station)
            continue
        latest = store.latest_schedule(station)
        version = (latest[0] if latest else 0) + 1
        try:
            body = schedule_payload(catalogue, district=config.district.id, station=station,
                                    version=version, issued_at=now_at, media=media)
        except ScheduleError as exc:
            raise PublishError(f"schedule for {station} would be refused: {exc}") from exc
        carried: CarriedOver | None = None
        if latest is not None:
            body, carried = carry_over(_previous_payload(station, *latest), body, now_at)
            try:
                parse_schedule(body)
            except ScheduleError as exc:
                raise PublishError(
                    f"schedule for {station} with the {carried.slots if carried else 0} slot(s) carried "
                    f"over from version {latest[0]} would be refused by the station: {exc}; publish "
                    "this catalogue after those slots have aired, or make it smaller") from exc
        jws = signer.sign(body, SCHEDULE_TYP)
        if len(jws) > MAX_SCHEDULE_BYTES:
            extra = f" (with {carried.slots} slot(s) carried over)" if carried and carried.slots else ""
            raise PublishError(f"schedule for {station}{extra} is {len(jws)} bytes signed; a station "
                               f"accepts at most {MAX_SCHEDULE_BYTES}: split the catalogue or use rules")
        built.append((station, version, body, jws, carried))
    prepared: list[PreparedSchedule] = []
    month_weeks = {d.isocalendar()[1] for d in _days(catalogue)}
    for station, version, body, jws, carried in built:
        store.add_schedule(station, version, jws, sha256_hex(jws), now_at)
        slots = expand(parse_schedule(body))  # carried slots air in their weeks too
        weeks = {s.at.isocalendar()[1] for s in slots if s.segment.program == "chuyen-doi-so"}
        prepared.append(PreparedSchedule(
            station, version, jws, body, len(slots), slots[0].at if slots else None,
            slots[-1].at if slots else None, tuple(sorted(month_weeks - weeks)), carried))
    return prepared


def _days(catalogue: Catalogue) -> list[date]:
    first, last = catalogue.valid_from, catalogue.valid_until
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def send_schedules(config: DistrictConfig, prepared: Sequence[PreparedSchedule],
                   timeout_s: float = 15.0) -> dict[str, str | None]:
    """Publish each retained, QoS 1; ``station -> None`` (sent) or the error."""
    if config.mqtt is None:
        raise PublishError(f"{config.source}: no mqtt section: schedules stored but cannot be sent")
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    m = config.mqtt
    connected = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{m.client_id}-schedule",
                         protocol=mqtt.MQTTv5)
    m.apply_login(client)
    client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
    results: dict[str, str | None] = {p.station: "not sent" for p in prepared}
    try:
        client.connect(m.host, m.port, keepalive=30)
    except OSError as exc:
        return {p.station: f"broker {m.host}:{m.port} unreachable: {exc}" for p in prepared}
    client.loop_start()
    try:
        if not connected.wait(timeout_s):
            return {p.station: f"broker {m.host}:{m.port} refused or did not answer" for p in prepared}
        infos = [(p, client.publish(topic(config.district.id, p.station, "schedule"), p.jws,
                                    qos=1, retain=True)) for p in prepared]
        for item, info in infos:
            try:
                info.wait_for_publish(timeout_s)
                results[item.station] = None if info.is_published() else "no PUBACK in time"
            except (RuntimeError, ValueError) as exc:
                results[item.station] = str(exc)
    finally:
        client.disconnect()
        client.loop_stop()
    return results
