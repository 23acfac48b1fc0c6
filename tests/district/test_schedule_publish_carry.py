"""Publishing next month's catalogue early keeps what the previous schedule still has to air.

A station holds one schedule and a new one replaces it wholly, so the district carries the
previous schedule's remaining slots (from ``now`` to the new month) into the new one.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from mqtt_broker import DistrictKit, make_district
from schedule_testkit import make_wav

from district_collector.cli import main as district_main
from district_collector.commands import schedule as commands_schedule
from district_collector.schedules import publish as publish
from district_collector.schedules.catalogue import load_catalogue
from district_collector.schedules.publish import PreparedSchedule, PublishError, prepare_schedules
from district_collector.store.sqlite import SqliteStore
from radio_protocol.jose import parse_jws
from radio_protocol.schedule.expand import due_slots, expand, next_slots
from radio_protocol.schedule.model import Schedule
from radio_protocol.schedule.parse import parse_schedule
from radio_protocol.timefmt import zone

TZ = zone("Asia/Ho_Chi_Minh")
MEDIA = {"sha256": "a" * 64, "url": "https://district.example/media/a.wav", "bytes": 10, "duration_s": 1.0}
OCTOBER = """
month: 2026-10
segments:
  - {id: oct-a, title: "Chuyển đổi số là gì?", program: chuyen-doi-so, media: a.wav}
  - {id: oct-b, title: "Ngày Chuyển đổi số quốc gia", program: chuyen-doi-so, media: a.wav}
slots:
  - {segment: oct-a, every: [tuesday, friday], at: "06:30"}
  - {segment: oct-b, dates: [2026-10-10, 2026-10-28], at: "17:00"}
"""
NOVEMBER = """
month: 2026-11
segments:
  - {id: nov-a, title: "Mô hình chuyển đổi số", program: chuyen-doi-so, media: a.wav}
slots:
  - {segment: nov-a, every: [%s], at: "06:30"}
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def catalogue(root: Path, name: str, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    make_wav(root / "a.wav", seconds=0.2)
    path = root / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def run(kit: DistrictKit, path: Path, now_at: datetime) -> list[PreparedSchedule]:
    cat = load_catalogue(path)
    media = {s.id: dict(MEDIA) for s in cat.segments}
    with SqliteStore(kit.config.database) as store:
        return prepare_schedules(cat, kit.config, store, kit.district_signer, media,
                                 [s.id for s in kit.config.stations], now_at)


def stored(kit: DistrictKit, station: str) -> tuple[int, Schedule]:
    with SqliteStore(kit.config.database) as store:
        latest = store.latest_schedule(station)
    assert latest is not None
    return latest[0], parse_schedule(json.loads(parse_jws(latest[1])[2]))


def starts(schedule: Schedule) -> list[str]:
    return [f"{s.segment.id}@{s.at:%m-%d %H:%M}" for s in expand(schedule)]


OCT_LEFT = ["oct-a@10-27 06:30", "oct-b@10-28 17:00", "oct-a@10-30 06:30"]
NOV_MONDAYS = [f"nov-a@11-{d:02d} 06:30" for d in (2, 9, 16, 23, 30)]


def test_publish_carry_next_month_keeps_remaining_slots(tmp_path: Path) -> None:
    kit = make_district(tmp_path / "district")
    run(kit, catalogue(tmp_path / "office", "october", OCTOBER), at("2026-09-28T09:00"))
    prepared = run(kit, catalogue(tmp_path / "office", "november", NOVEMBER % "monday"),
                   at("2026-10-25T10:00"))
    assert [p.station for p in prepared] == ["dak-koi-01", "dak-ruong-01"]
    for item in prepared:
        version, schedule = stored(kit, item.station)
        assert version == 2 and item.version == 2
        assert starts(schedule) == OCT_LEFT + NOV_MONDAYS  # nothing before 25 October
        assert (schedule.valid_from.isoformat(), schedule.valid_until.isoformat()) == ("2026-10-27", "2026-11-30")
        assert sorted(s.id for s in schedule.segments) == ["nov-a", "oct-a", "oct-b"]
        assert item.carried is not None and item.carried.from_version == 1
        assert (item.carried.slots, item.carried.segments) == (3, ("oct-a", "oct-b"))
        assert item.slots == 8 and item.weeks_without_airing == ()
        # every carried entry is a plain 'at' (the October rule is not carried as a rule)
        assert [s.at is not None for s in schedule.slots[:3]] == [True, True, True]


def test_publish_carry_station_still_airs_october_slots(tmp_path: Path) -> None:
    kit = make_district(tmp_path / "district")
    run(kit, catalogue(tmp_path / "office", "october", OCTOBER), at("2026-09-28T09:00"))
    run(kit, catalogue(tmp_path / "office", "november", NOVEMBER % "monday"), at("2026-10-25T10:00"))
    _, schedule = stored(kit, "dak-koi-01")
    applied_at = at("2026-10-25T10:05")  # the station takes the new version
    assert [f"{s.segment.id}@{s.at:%m-%d %H:%M}" for s in next_slots(schedule, applied_at, 4)] == \
        OCT_LEFT + NOV_MONDAYS[:1]
    due = due_slots(schedule, at("2026-10-27T06:29:30"), since_at=applied_at, lead_s=45.0)
    assert [s.key for s in due.ready] == ["oct-a@2026-10-26T23:30:00.000000Z"] and due.missed == ()
    evening = due_slots(schedule, at("2026-10-28T17:00:05"), since_at=applied_at,
                        done={"oct-a@2026-10-26T23:30:00.000000Z"})
    assert [s.segment.id for s in evening.ready] == ["oct-b"] and evening.missed == ()


def test_publish_carry_republishing_a_month_replaces_its_slots(tmp_path: Path) -> None:
    kit = make_district(tmp_path / "district")
    run(kit, catalogue(tmp_path / "office", "october", OCTOBER), at("2026-09-28T09:00"))
    run(kit, catalogue(tmp_path / "office", "november", NOVEMBER % "monday"), at("2026-10-25T10:00"))
    prepared = run(kit, catalogue(tmp_path / "office", "november-fixed", NOVEMBER % "wednesday"),
                   at("2026-10-27T08:00"))  # correction; 27 Oct 06:30 has aired
    version, schedule = stored(kit, "dak-ruong-01")
    wednesdays = [f"nov-a@11-{d:02d} 06:30" for d in (4, 11, 18, 25)]
    assert version == 3 and starts(schedule) == OCT_LEFT[1:] + wednesdays
    assert schedule.valid_from.isoformat() == "2026-10-28"
    assert prepared[0].carried is not None and prepared[0].carried.from_version == 2
    # once November has begun, a correction carries nothing: the month is simply replaced
    prepared = run(kit, catalogue(tmp_path / "office", "november-back", NOVEMBER % "monday"),
                   at("2026-11-03T12:00"))
    version, schedule = stored(kit, "dak-ruong-01")
    assert version == 4 and starts(schedule) == NOV_MONDAYS
    assert schedule.valid_from.isoformat() == "2026-11-01" and prepared[0].carried is None


@pytest.mark.parametrize(("name", "segment", "expected"), [
    ("title", '{id: oct-a, title: "Khác", program: chuyen-doi-so, media: a.wav}', "different title"),
    ("program", '{id: oct-b, title: "Ngày Chuyển đổi số quốc gia", program: khac, media: a.wav}',
     "different program"),
])
def test_publish_carry_segment_id_clash_is_an_error(tmp_path: Path, name: str, segment: str,
                                                     expected: str) -> None:
    kit = make_district(tmp_path / "district")
    run(kit, catalogue(tmp_path / "office", "october", OCTOBER), at("2026-09-28T09:00"))
    seg_id = segment.split(",")[0].split(": ")[1]
    text = NOVEMBER % "monday" + f"  - {{segment: {seg_id}, dates: [2026-11-05], at: '17:00'}}\n"
    text = text.replace("segments:\n", f"segments:\n  - {segment}\n")
    with pytest.raises(PublishError) as info:
        run(kit, catalogue(tmp_path / "office", f"clash-{name}", text), at("2026-10-25T10:00"))
    assert f"segment id {seg_id!r}" in str(info.value) and expected in str(info.value)
    assert stored(kit, "dak-koi-01")[0] == 1 and stored(kit, "dak-ruong-01")[0] == 1  # nothing stored


def test_publish_carry_same_segment_is_kept_once(tmp_path: Path) -> None:
    kit = make_district(tmp_path / "district")
    run(kit, catalogue(tmp_path / "office", "october", OCTOBER), at("2026-09-28T09:00"))
    text = (NOVEMBER % "monday").replace(
        "segments:\n", 'segments:\n  - {id: oct-a, title: "Chuyển đổi số là gì?", program: chuyen-doi-so, '
        "media: a.wav}\n") + "  - {segment: oct-a, dates: [2026-11-05], at: '17:00'}\n"
    run(kit, catalogue(tmp_path / "office", "november", text), at("2026-10-25T10:00"))
    _, schedule = stored(kit, "dak-koi-01")
    assert sorted(s.id for s in schedule.segments) == ["nov-a", "oct-a", "oct-b"]
    assert "oct-a@11-05 17:00" in starts(schedule) and starts(schedule)[:3] == OCT_LEFT


def test_publish_carry_too_large_is_refused_before_storing(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    kit = make_district(tmp_path / "district")
    run(kit, catalogue(tmp_path / "office", "october", OCTOBER), at("2026-09-28T09:00"))
    monkeypatch.setattr(publish, "MAX_SCHEDULE_BYTES", 2000)
    with pytest.raises(PublishError, match=r"dak-koi-01 \(with 3 slot\(s\) carried over\) is \d+ bytes"
                                           r" signed; a station accepts at most 2000"):
        run(kit, catalogue(tmp_path / "office", "november", NOVEMBER % "monday"), at("2026-10-25T10:00"))
    assert stored(kit, "dak-koi-01")[0] == 1


def test_publish_carry_cli_prints_what_was_carried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    kit = make_district(tmp_path / "district")
    data: dict[str, Any] = yaml.safe_load(kit.district_config.read_text(encoding="utf-8"))
    data["media"] = {"base_url": "https://district.example/media", "dir": str(tmp_path / "served")}
    kit.district_config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    now = {"at": at("2026-09-28T09:00")}

    class FixedClock:
        def now(self) -> datetime:
            return now["at"]

    monkeypatch.setattr(commands_schedule, "SystemClock", FixedClock)
    base = ["-c", str(kit.district_config), "schedule", "publish", "--no-send", "--stations", "dak-koi-01"]
    assert district_main(base + [str(catalogue(tmp_path / "office", "october", OCTOBER))]) == 0
    now["at"] = at("2026-10-25T10:00")
    assert district_main(base + [str(catalogue(tmp_path / "office", "november", NOVEMBER % "monday"))]) == 0
    out = capsys.readouterr().out
    assert "dak-koi-01: version 2, 8 slots (2026-10-27 06:30 .. 2026-11-30 06:30)" in out
    assert ("  carried over from version 1: 3 slots still to air (2026-10-27 06:30 .. 2026-10-30 06:30), "
            "segments oct-a, oct-b") in out


def test_publish_carry_earlier_month_after_later_one_reports_dropped_slots(tmp_path: Path) -> None:
    kit = make_district(tmp_path / "district")
    run(kit, catalogue(tmp_path / "office", "november", NOVEMBER % "monday"), at("2026-10-20T09:00"))
    prepared = run(kit, catalogue(tmp_path / "office", "october", OCTOBER), at("2026-10-21T09:00"))
    _, schedule = stored(kit, "dak-koi-01")
    assert starts(schedule)[0] == "oct-a@10-02 06:30" and schedule.valid_until.isoformat() == "2026-10-31"
    carried = prepared[0].carried
    assert carried is not None and (carried.slots, carried.dropped_after) == (0, 5)
