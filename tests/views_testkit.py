"""A district for the console's views: real keys, a config with a media folder, and
helpers that sign airings and statuses and store them through the real ``Ingestor``.

Communes: ``dak-koi-01`` in 23335 (Xã Đăk Kôi) and ``dak-ruong-01`` in 23326 (Xã Đăk Ruồng),
as :func:`mqtt_broker.make_district` registers them. ``make_views_kit(root, store_backend)``
names that backend's store in the config (``vk.open()`` opens it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from mqtt_broker import DistrictKit, make_airing_event, make_district
from schedule_testkit import make_wav
from store_backends import StoreBackend

from district_collector.config import DistrictConfig, load_district_config
from district_collector.intake.ingest import Ingestor
from district_collector.store.base import Store
from district_collector.store.opening import open_store
from radio_protocol.jose import canonical_json, sha256_hex
from radio_protocol.messages.event import build_event
from radio_protocol.messages.status import Status, build_status
from radio_protocol.names import EVENT_TYP, STATUS_TYP
from radio_protocol.timefmt import zone
from radio_protocol.topics import topic

KOI, RUONG = "dak-koi-01", "dak-ruong-01"
KOI_COMMUNE, RUONG_COMMUNE = "23335", "23326"
TZ = zone("Asia/Ho_Chi_Minh")


def local(text: str) -> datetime:
    """``YYYY-MM-DD HH:MM`` in the district's timezone."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


@dataclass
class ViewsKit:
    kit: DistrictKit
    media_dir: Path
    prev: dict[str, str | None]
    seq: dict[str, int]

    @property
    def config(self) -> DistrictConfig:
        return self.kit.config

    def open(self) -> Store:
        """The configured store (SQLite or PostgreSQL), for writing."""
        return open_store(self.config)

    def airing(self, station: str, started: str, **changes: Any) -> bytes:
        """The station's next event (chained), started at ``started`` (local time)."""
        seq = self.seq.get(station, 0) + 1
        at = local(started)
        event = make_airing_event(station, seq, self.prev.get(station), commune=self.kit.stations[station].commune,
                                  slot_at=at, started_at=at + dt.timedelta(milliseconds=40),
                                  ended_at=at + dt.timedelta(seconds=301), **changes)
        body = canonical_json(build_event(event))
        self.prev[station], self.seq[station] = sha256_hex(body), seq
        return self.kit.stations[station].signer.sign(body, EVENT_TYP)

    def status(self, station: str, state: str, at: str, **fields: Any) -> bytes:
        return self.kit.stations[station].signer.sign(build_status(Status(station, state, local(at), **fields)),
                                                      STATUS_TYP)

    def ingest(self, station: str, messages: list[bytes], kind: str = "event",
               received_at: datetime | None = None) -> None:
        with self.open() as store:
            Ingestor(self.config, store).ingest(
                [(topic(self.config.district.id, station, kind), m, "mqtt") for m in messages],
                received_at or datetime.now(UTC))


def make_views_kit(root: Path, backend: StoreBackend | None = None) -> ViewsKit:
    """The district of :func:`mqtt_broker.make_district` plus ``media: {base_url, dir}``
    holding ``a.wav``; its store on ``backend`` (default SQLite)."""
    kit = make_district(root)
    media_dir = root / "district" / "media"
    media_dir.mkdir(parents=True)
    make_wav(media_dir / "a.wav", seconds=0.2)
    data = yaml.safe_load(kit.district_config.read_text(encoding="utf-8"))
    data["media"] = {"base_url": "https://district.example/media", "dir": str(media_dir)}
    kit.district_config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    kit.config = load_district_config(kit.district_config)
    if backend is not None:
        kit.config = backend.configure_file(kit.district_config)
    return ViewsKit(kit, media_dir, {}, {})
