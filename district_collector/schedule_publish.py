"""Publish a catalogue: media described once, one signed schedule per station, retained.

Steps (:func:`publish_catalogue`):

1. :func:`resolve_media`: each distinct media source of the catalogue is read (a local
   file) or downloaded (an http(s) URL) **once** to compute its SHA-256, size and duration
   (``soundfile.info``). A local file is copied into the district's media directory as
   ``<sha256><ext>`` (``media.dir``, served at ``media.base_url``); a URL is kept.
2. :func:`prepare_schedules`: per station, the next version (one above the highest in
   the store's ``schedules`` table), the payload (checked as the station will parse it),
   signed ``cr-schedule+json`` with the district key, and stored before anything is sent.
3. :func:`send_schedules`: published retained, QoS 1, to ``.../station/<id>/schedule``
   with a client id of its own (so a running collector is not kicked off the broker).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import soundfile as sf

from district_collector.catalogue import Catalogue, schedule_payload
from district_collector.config import DistrictConfig
from district_collector.store import Store
from firmware_daemon.schedule_model import ScheduleError, parse_schedule
from firmware_daemon.scheduler import expand
from radio_protocol.durable import fsync_dir
from radio_protocol.errors import CommuneRadioError, ConfigError
from radio_protocol.jose import Signer, file_sha256, sha256_hex
from radio_protocol.topics import topic

log = logging.getLogger(__name__)

SCHEDULE_TYP = "cr-schedule+json"
MAX_MEDIA_BYTES = 1024 * 1024 * 1024


class PublishError(CommuneRadioError):
    """A schedule could not be built or sent."""


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
                    sha, size, duration = _describe(local, where)
                url = seg.media
            else:
                if config.media is None:
                    raise ConfigError([f"{where}: media is a local file, so the district config needs "
                                       "media: {base_url, dir} to serve it to the stations"])
                source = Path(seg.media)
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


def prepare_schedules(catalogue: Catalogue, config: DistrictConfig, store: Store, signer: Signer,
                      media: dict[str, dict[str, Any]], stations: Iterable[str],
                      now_at: datetime) -> list[PreparedSchedule]:
    """Sign and store one schedule per station, each with its next version."""
    prepared: list[PreparedSchedule] = []
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
        jws = signer.sign(body, SCHEDULE_TYP)
        store.add_schedule(station, version, jws, sha256_hex(jws), now_at)
        slots = expand(parse_schedule(body))
        weeks = {s.at.isocalendar()[1] for s in slots if s.segment.program == "chuyen-doi-so"}
        month_weeks = {d.isocalendar()[1] for d in _days(catalogue)}
        prepared.append(PreparedSchedule(
            station, version, jws, body, len(slots), slots[0].at if slots else None,
            slots[-1].at if slots else None, tuple(sorted(month_weeks - weeks))))
    return prepared


def _days(catalogue: Catalogue) -> list[Any]:
    from datetime import timedelta

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
