"""Danh mục: check an uploaded catalogue, preview it per station, publish it, follow its rollout.

The same code as ``radio-district schedule publish``: the file is read by the catalogue
reader (:func:`read_upload`, the one suffix dispatch: ``.yaml``/``.yml`` today), stations
chosen by ``target_stations``, media by ``resolve_media``, schedules signed and stored by
``prepare_schedules`` and sent by ``send_schedules``.

Uploads: at most :data:`MAX_UPLOAD_BYTES`; the bytes are written only into a fresh temp
directory under a name chosen here (``catalogue`` + the allowed suffix); the uploaded
file name only picks the suffix and is shown in messages. Relative media paths resolve
against the district's media directory (``media.dir`` of the config), as for a catalogue
file placed in that directory; without a ``media`` section only http(s) media can be used.

- ``check_upload(config, filename, data) -> UploadCheck``
- ``publish_upload(config, store, filename, data, actor, send=True, now=None) -> PublishResult``
  (UploadRefused when the check fails; PublishError as ``schedule publish``)
- ``rollout(store, config, communes=None) -> list[RolloutRow]``

Dataclasses (each with ``as_json()``):

- ``UploadProblem(line: int, key: str, message: str)`` (line 0: the whole file)
- ``UploadCheck(ok: bool, filename: str, month: str | None, errors: tuple[UploadProblem, ...],
  stations: tuple[StationPreview, ...])``
- ``StationPreview(station: str, commune: str, slots: int, days: tuple[PreviewDay, ...])``:
  every day of the catalogue's month, in order
- ``PreviewDay(day: date, items: tuple[PreviewItem, ...])``
- ``PreviewItem(time: str, segment_id: str, title: str, program: str, priority: str)``
  (``time`` ``HH:MM``, the catalogue's timezone)
- ``PublishResult(month: str, stations: tuple[PublishedStation, ...])``
- ``PublishedStation(station: str, version: int, slots: int, sent: bool, error: str | None,
  carried_slots: int, warnings: tuple[str, ...])``
- ``RolloutRow(station: str, commune: str, published: int | None, applied: int | None,
  up_to_date: bool, online: bool | None, schedule_error: str | None,
  media_missing: tuple[str, ...])``
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path, PurePath

from district_collector.config import DistrictConfig
from district_collector.schedules.catalogue import Catalogue, load_catalogue, schedule_payload
from district_collector.schedules.publish import (
    PreparedSchedule,
    prepare_schedules,
    resolve_media,
    send_schedules,
    target_stations,
)
from district_collector.store.base import Store
from district_collector.views.common import JsonData, visible_stations
from district_collector.views.fleet import status_info
from radio_protocol.clock import SystemClock
from radio_protocol.errors import CommuneRadioError, ConfigError, ScheduleError
from radio_protocol.jose import Signer, load_private_key
from radio_protocol.schedule.expand import expand
from radio_protocol.schedule.parse import parse_schedule
from radio_protocol.timefmt import zone

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 1 << 20
SUFFIXES = (".yaml", ".yml")


class UploadRefused(CommuneRadioError):
    """The upload is too big, of a kind not read, or fails validation (``check`` says why)."""

    def __init__(self, message: str, check: UploadCheck | None = None) -> None:
        super().__init__(message)
        self.check = check


@dataclass(frozen=True)
class UploadProblem(JsonData):
    line: int
    key: str
    message: str


@dataclass(frozen=True)
class PreviewItem(JsonData):
    time: str
    segment_id: str
    title: str
    program: str
    priority: str


@dataclass(frozen=True)
class PreviewDay(JsonData):
    day: date
    items: tuple[PreviewItem, ...]


@dataclass(frozen=True)
class StationPreview(JsonData):
    station: str
    commune: str
    slots: int
    days: tuple[PreviewDay, ...]


@dataclass(frozen=True)
class UploadCheck(JsonData):
    ok: bool
    filename: str
    month: str | None
    errors: tuple[UploadProblem, ...]
    stations: tuple[StationPreview, ...]


@dataclass(frozen=True)
class PublishedStation(JsonData):
    station: str
    version: int
    slots: int
    sent: bool
    error: str | None
    carried_slots: int
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class PublishResult(JsonData):
    month: str
    stations: tuple[PublishedStation, ...]


@dataclass(frozen=True)
class RolloutRow(JsonData):
    station: str
    commune: str
    published: int | None
    applied: int | None
    up_to_date: bool
    online: bool | None
    schedule_error: str | None
    media_missing: tuple[str, ...]


def read_upload(path: Path, config: DistrictConfig) -> Catalogue:
    """The catalogue in ``path`` (a file this module wrote), by its suffix: the one place
    the console picks a reader. ConfigError lists every problem with its line and key."""
    if path.suffix.lower() in (".yaml", ".yml"):
        base = config.media.dir if config.media is not None else None
        return load_catalogue(path, config.district.timezone, media_base=base)
    raise ConfigError([f"{path}:0: file: a catalogue file must end in {', '.join(SUFFIXES)}"])


def _shown_name(filename: str) -> str:
    name = PurePath(filename.replace("\\", "/")).name
    return (name or "catalogue")[:120]


def _problem(text: str, path: Path, tmp: str) -> UploadProblem:
    """``FILE:LINE: KEY: MESSAGE`` as its parts (the temp folder's name left out)."""
    body = text.replace(f"{tmp}/", "").replace(tmp, "")
    match = _PROBLEM.match(body)
    if match is None:
        return UploadProblem(0, "", body.removeprefix(f"{path.name}: ").removeprefix(f"{path.name}:0: "))
    return UploadProblem(int(match.group(1)), match.group(2), match.group(3))


_PROBLEM = re.compile(r"^[^:]*:(\d+): ([^:]+): (.*)$", re.S)


class _Upload:
    """The uploaded bytes in a fresh temp folder, under a name chosen here; removed on exit."""

    def __init__(self, filename: str, data: bytes) -> None:
        self.shown = _shown_name(filename)
        suffix = PurePath(self.shown).suffix.lower()
        self.problems: list[UploadProblem] = []
        if len(data) > MAX_UPLOAD_BYTES:
            self.problems.append(UploadProblem(0, "file", f"the file is {len(data)} bytes; at most "
                                               f"{MAX_UPLOAD_BYTES} bytes (1 MiB) are accepted"))
        elif suffix not in SUFFIXES:
            self.problems.append(UploadProblem(0, "file", f"a catalogue file must end in {', '.join(SUFFIXES)}"))
        self._tmp = tempfile.TemporaryDirectory(prefix="radio-catalogue-")
        self.path = Path(self._tmp.name) / f"catalogue{suffix if suffix in SUFFIXES else '.yaml'}"
        if not self.problems:
            self.path.write_bytes(data)

    def __enter__(self) -> _Upload:
        return self

    def __exit__(self, *exc: object) -> None:
        self._tmp.cleanup()

    def read(self, config: DistrictConfig) -> tuple[Catalogue | None, list[str]]:
        """The catalogue and its target stations, or None with the problems."""
        if self.problems:
            return None, []
        try:
            catalogue = read_upload(self.path, config)
            return catalogue, target_stations(catalogue, config)
        except ConfigError as exc:
            self.problems = [_problem(t, self.path, self._tmp.name) for t in exc.problems]
            return None, []


def check_upload(config: DistrictConfig, filename: str, data: bytes) -> UploadCheck:
    """Validate the uploaded catalogue; never raises for bad input (errors are in the result)."""
    with _Upload(filename, data) as upload:
        catalogue, stations = upload.read(config)
        if catalogue is None:
            return UploadCheck(False, upload.shown, None, tuple(upload.problems), ())
        month = f"{catalogue.year}-{catalogue.month:02d}"
        previews, problems = [], []
        for sid in stations:
            try:
                previews.append(preview(catalogue, config, sid))
            except ScheduleError as exc:
                problems += [UploadProblem(0, f"stations.{sid}", p) for p in exc.problems]
        return UploadCheck(not problems, upload.shown, month, tuple(problems), tuple(previews))


_PLACEHOLDER = {"sha256": "0" * 64, "url": "https://media.invalid/m", "bytes": 1, "duration_s": 1.0}


def preview(catalogue: Catalogue, config: DistrictConfig, station: str) -> StationPreview:
    """What ``station`` airs on each day of the catalogue's month (its slots of this
    catalogue alone, as the schedule built for it expands). ScheduleError when the
    station would refuse its schedule."""
    tz = zone(catalogue.timezone)
    body = schedule_payload(catalogue, district=config.district.id, station=station, version=1,
                            issued_at=datetime.combine(catalogue.valid_from, time(0), tz),
                            media={s.id: _PLACEHOLDER for s in catalogue.segments})
    by_day: dict[date, list[PreviewItem]] = {}
    slots = expand(parse_schedule(body))
    for slot in slots:
        at = slot.at.astimezone(tz)
        seg = slot.segment
        by_day.setdefault(at.date(), []).append(PreviewItem(f"{at:%H:%M}", seg.id, seg.title, seg.program,
                                                            seg.priority))
    days = []
    day = catalogue.valid_from
    while day <= catalogue.valid_until:
        days.append(PreviewDay(day, tuple(by_day.get(day, ()))))
        day += timedelta(days=1)
    entry = config.station(station)
    return StationPreview(station, entry.commune_code if entry else "", len(slots), tuple(days))


def publish_upload(config: DistrictConfig, store: Store, filename: str, data: bytes, actor: str,
                   send: bool = True, now: datetime | None = None) -> PublishResult:
    """Check, then publish as ``schedule publish`` does (media described and copied into
    the media folder, one schedule per station signed with its next version, stored, sent
    retained unless ``send`` is False). UploadRefused when the check fails; PublishError or
    ConfigError (media) as the command raises them."""
    check = check_upload(config, filename, data)
    if not check.ok:
        raise UploadRefused(f"{check.filename}: the catalogue has {len(check.errors)} problem(s)", check)
    with _Upload(filename, data) as upload:
        catalogue, stations = upload.read(config)
        if catalogue is None:
            raise UploadRefused(f"{upload.shown}: the catalogue does not read", check)
        signer = Signer(load_private_key(config.signing_key))
        media = resolve_media(catalogue, config)
        prepared = prepare_schedules(catalogue, config, store, signer, media, stations,
                                     now or SystemClock().now())
    results: dict[str, str | None] = send_schedules(config, prepared) if send and prepared \
        else {p.station: "stored, not sent" for p in prepared}
    log.info("catalogue published by actor=%s month=%s stations=%d", actor, check.month, len(prepared))
    return PublishResult(str(check.month), tuple(_published(p, results.get(p.station), send) for p in prepared))


def _published(p: PreparedSchedule, error: str | None, send: bool) -> PublishedStation:
    warnings = []
    carried = p.carried
    if carried is not None and carried.dropped_after:
        warnings.append(f"the previous version had {carried.dropped_after} slots after this catalogue's "
                        "period; they are replaced and will not air")
    if p.weeks_without_airing:
        warnings.append("no chuyen-doi-so airing in ISO week(s) " + ", ".join(map(str, p.weeks_without_airing)))
    return PublishedStation(p.station, p.version, p.slots, send and error is None, error,
                            carried.slots if carried else 0, tuple(warnings))


def rollout(store: Store, config: DistrictConfig,
            communes: Collection[str] | None = None) -> list[RolloutRow]:
    """Per station of ``communes`` (None: all): published vs applied version, media missing."""
    statuses = store.latest_statuses()
    published = store.latest_schedule_versions()
    rows = []
    for st in visible_stations(config, communes):
        stored = statuses.get(st.id)
        info = status_info(stored)
        applied = info.schedule_version if info else None
        version = published.get(st.id)
        rows.append(RolloutRow(st.id, st.commune_code, version, applied,
                               version is not None and applied == version,
                               None if stored is None else stored.state == "online",
                               info.schedule_error if info else None, info.media_missing if info else ()))
    return rows
