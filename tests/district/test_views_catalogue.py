"""Catalogue upload: every problem with its line and key before anything is sent, a
per-station month calendar for a good file, the size cap, publish through the same path
as ``schedule publish`` (stored schedules the stations verify), media from the media folder."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from views_testkit import KOI, RUONG, ViewsKit, make_views_kit

from district_collector.store.sqlite import SqliteStore
from district_collector.views.catalogue import (
    MAX_UPLOAD_BYTES,
    UploadRefused,
    check_upload,
    publish_upload,
)
from radio_protocol.jose import parse_jws
from radio_protocol.schedule.parse import parse_schedule

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
GOOD = """month: 2026-12
segments:
  - {id: dec-a, title: "Chuyển đổi số là gì?", program: chuyen-doi-so, media: a.wav}
  - {id: dec-b, title: "Bản tin xã", program: ban-tin, media: a.wav}
slots:
  - {segment: dec-a, every: [monday, thursday], at: "06:30"}
  - {segment: dec-b, dates: [2026-12-10], at: "17:00", stations: [dak-ruong-01]}
""".encode()
BROKEN = """month: 2026-12
segments:
  - {id: dec-a, title: "Chuyển đổi số", program: chuyen-doi-so, media: missing.wav}
slots:
  - {segment: dec-a, every: [monday], at: "25:00"}
  - {segment: nope, every: [monday], at: "06:30"}
""".encode()


@pytest.fixture
def vk(tmp_path: Path) -> ViewsKit:
    return make_views_kit(tmp_path)


def test_broken_catalogue_lists_every_problem_with_line_and_key(vk: ViewsKit) -> None:
    check = check_upload(vk.config, "../../etc/thang-12.yaml", BROKEN)
    assert not check.ok and check.stations == () and check.filename == "thang-12.yaml"
    found = {(p.line, p.key) for p in check.errors}
    assert {(3, "segments[0].media"), (5, "slots[0].at"), (6, "slots[1].segment")} <= found
    media = next(p for p in check.errors if p.key == "segments[0].media")
    assert str(vk.media_dir / "missing.wav") in media.message  # resolved in the media folder
    assert all("radio-catalogue-" not in p.message for p in check.errors)  # no temp path shown
    bad_yaml = check_upload(vk.config, "x.yaml", b"month: 2026-12\nsegments: [\n")
    assert not bad_yaml.ok and bad_yaml.errors[0].line >= 2 and bad_yaml.errors[0].key == "invalid YAML"


def test_size_cap_and_suffix(vk: ViewsKit) -> None:
    big = check_upload(vk.config, "big.yaml", b"#" * (MAX_UPLOAD_BYTES + 1))
    assert not big.ok and big.errors[0].key == "file" and "1 MiB" in big.errors[0].message
    exe = check_upload(vk.config, "catalogue.exe", GOOD)
    assert not exe.ok and ".yaml" in exe.errors[0].message


def test_good_catalogue_previews_each_stations_month(vk: ViewsKit) -> None:
    check = check_upload(vk.config, "thang-12.yaml", GOOD)
    assert check.ok and check.errors == () and check.month == "2026-12"
    previews = {p.station: p for p in check.stations}
    assert set(previews) == {KOI, RUONG}
    koi = previews[KOI]
    assert len(koi.days) == 31 and koi.days[0].day == date(2026, 12, 1)
    aired = {d.day.day: [(i.time, i.segment_id) for i in d.items] for d in koi.days if d.items}
    assert aired == {day: [("06:30", "dec-a")] for day in (3, 7, 10, 14, 17, 21, 24, 28, 31)}
    assert koi.slots == 9 and previews[RUONG].slots == 10
    ruong_10 = previews[RUONG].days[9]
    assert [(i.time, i.segment_id, i.title) for i in ruong_10.items] == [
        ("06:30", "dec-a", "Chuyển đổi số là gì?"), ("17:00", "dec-b", "Bản tin xã")]
    assert check.as_json()["stations"][0]["days"][2] == {
        "day": "2026-12-03", "items": [{"time": "06:30", "segment_id": "dec-a", "title": "Chuyển đổi số là gì?",
                                        "program": "chuyen-doi-so", "priority": "normal"}]}


def test_publish_stores_signed_schedules_and_refuses_a_broken_file(vk: ViewsKit) -> None:
    with SqliteStore(vk.config.database) as store:
        with pytest.raises(UploadRefused) as refused:
            publish_upload(vk.config, store, "x.yaml", BROKEN, actor="an", send=False, now=NOW)
        assert refused.value.check is not None and len(refused.value.check.errors) >= 3
        assert store.published_schedules() == []
        result = publish_upload(vk.config, store, "thang-12.yaml", GOOD, actor="an", send=False, now=NOW)
        again = publish_upload(vk.config, store, "thang-12.yaml", GOOD, actor="an", send=False, now=NOW)
        latest = store.latest_schedule(RUONG)
    assert result.month == "2026-12"
    assert [(p.station, p.version, p.slots, p.sent) for p in result.stations] == [(KOI, 1, 9, False),
                                                                                 (RUONG, 1, 10, False)]
    assert [p.version for p in again.stations] == [2, 2]
    assert latest is not None and latest[0] == 2
    schedule = parse_schedule(json.loads(parse_jws(latest[1])[2]))
    assert {s.media.url for s in schedule.segments} == {
        f"https://district.example/media/{schedule.segments[0].media.sha256}.wav"}
    assert (vk.media_dir / f"{schedule.segments[0].media.sha256}.wav").is_file()
