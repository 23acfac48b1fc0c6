"""Shared pieces of the Excel / iCalendar catalogue tests: a district with three stations, a
group, a media directory, and the signed schedules ``schedule publish --no-send`` stored."""

from __future__ import annotations

import json
from datetime import datetime, time
from pathlib import Path
from typing import Any

import yaml
from mqtt_broker import DistrictKit, make_district
from openpyxl import load_workbook
from schedule_testkit import make_wav

from district_collector.cli import main as district_main
from district_collector.config import load_district_config
from district_collector.store.sqlite import SqliteStore
from radio_protocol.jose import parse_jws
from radio_protocol.schedule.expand import expand
from radio_protocol.schedule.parse import parse_schedule

STATIONS = {"dak-koi-01": ("23335", "Xã Đăk Kôi"), "dak-ruong-01": ("23326", "Xã Đăk Ruồng"),
            "dak-pne-01": ("23320", "Xã Đăk Pne")}
GROUPS = {"bac": ["dak-koi-01", "dak-ruong-01"]}

# The same month twice: as YAML (ids as the Excel reader makes them) and as Excel rows.
YAML = """\
month: 2027-01
segments:
  - {id: chuyen-doi-so-la-gi-2027-01, title: "Chuyển đổi số là gì?", program: chuyen-doi-so,
     topic: policy, media: media/a.wav}
  - {id: ngay-hoi-so-2027-01, title: "Ngày hội số", program: chuyen-doi-so, priority: priority,
     media: media/b.wav}
  - {id: thoi-tiet-2027-01, title: "Thời tiết", program: general, media: media/a.wav}
slots:
  - {segment: chuyen-doi-so-la-gi-2027-01, every: [tuesday, friday], at: "06:30"}
  - {segment: ngay-hoi-so-2027-01, dates: [2027-01-05, 2027-01-12], at: ["06:00", "17:00"],
     stations: [dak-koi-01, dak-ruong-01]}
  - {segment: thoi-tiet-2027-01, every: day, at: "05:45", stations: [dak-pne-01]}
  - {segment: chuyen-doi-so-la-gi-2027-01, dates: [2027-01-20], at: "17:30"}
"""
# title, programme, topic, priority, media, date/weekday, time, stations
ROWS: list[tuple[Any, ...]] = [
    ("Chuyển đổi số là gì?", "chuyen-doi-so", "policy", "thường", "media/a.wav", "Thứ Ba, T6", time(6, 30), None),
    ("Ngày hội số", "chuyen-doi-so", None, "ưu tiên", "media/b.wav", "05/01/2027, 12/01/2027",
     "06:00, 17:00", "bac"),
    ("Thời tiết", "general", None, None, "media/a.wav", "Hằng ngày", "5:45", "dak-pne-01"),
    ("Chuyển đổi số là gì?", "chuyen-doi-so", "policy", "normal", "media/a.wav", datetime(2027, 1, 20),
     time(17, 30), None),
]


def district(root: Path, base_url: str = "https://media.example/m") -> DistrictKit:
    """A district of :data:`STATIONS` with ``groups`` and ``media`` (dir ``root/served``)."""
    kit = make_district(root, STATIONS)
    data = yaml.safe_load(kit.district_config.read_text(encoding="utf-8"))
    data["groups"] = GROUPS
    data["media"] = {"base_url": base_url, "dir": str(root / "served")}
    kit.district_config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    kit.config = load_district_config(kit.district_config)
    return kit


def media(directory: Path) -> None:
    (directory / "media").mkdir(parents=True, exist_ok=True)
    make_wav(directory / "media" / "a.wav", seconds=0.3, freq=440.0)
    make_wav(directory / "media" / "b.wav", seconds=0.4, freq=660.0)


def fill(template: Path, out: Path, rows: list[tuple[Any, ...]]) -> Path:
    """The template with its example row replaced by ``rows``, saved as ``out``."""
    wb = load_workbook(template)
    sheet = wb["Danh mục"]
    for r, row in enumerate(rows, start=3):
        for c, value in enumerate(row, start=1):
            sheet.cell(r, c, value)
    if not rows:
        for c in range(1, 9):
            sheet.cell(3, c, None)
    wb.save(out)
    return out


def cli(kit: DistrictKit, *args: str) -> int:
    return district_main(["-c", str(kit.district_config), *args])


def published(kit: DistrictKit) -> dict[str, dict[str, Any]]:
    """Each station's latest stored schedule payload."""
    out: dict[str, dict[str, Any]] = {}
    with SqliteStore(kit.config.database) as store:
        for station in STATIONS:
            latest = store.latest_schedule(station)
            if latest is not None:
                out[station] = json.loads(parse_jws(latest[1])[2])
    return out


def airings(payload: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(time, segment id, title, media sha256) of every slot the schedule airs."""
    return [(s.at.isoformat(), s.segment.id, s.segment.title, s.segment.media.sha256)
            for s in expand(parse_schedule(payload))]
