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

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

from district_collector.config import DistrictConfig
from district_collector.store.base import Store
from district_collector.views.common import JsonData
from radio_protocol.errors import CommuneRadioError

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


def check_upload(config: DistrictConfig, filename: str, data: bytes) -> UploadCheck:
    """Validate the uploaded catalogue; never raises for bad input (errors are in the result)."""
    raise NotImplementedError


def publish_upload(config: DistrictConfig, store: Store, filename: str, data: bytes, actor: str,
                   send: bool = True, now: datetime | None = None) -> PublishResult:
    """Check, then publish as ``schedule publish`` does; UploadRefused when the check fails."""
    raise NotImplementedError


def rollout(store: Store, config: DistrictConfig,
            communes: Collection[str] | None = None) -> list[RolloutRow]:
    """Per station of ``communes`` (None: all): published vs applied version, media missing."""
    raise NotImplementedError
