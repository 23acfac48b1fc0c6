"""The bulletin's schedule (the station's schedule + one segment + one slot with ``until``),
the station list, and ``broadcast``'s errors for bad input (nothing stored, nothing sent)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from mqtt_broker import DistrictKit, make_district
from schedule_testkit import make_wav, payload, segment

from district_collector.admin.local_broker import free_port
from district_collector.cli import main as district_main
from district_collector.commands.broadcast import airing_time, target_stations
from district_collector.schedules.bulletin import (
    Bulletin,
    bulletin_id,
    bulletin_schedule,
    valid_for,
)
from district_collector.store.opening import open_store
from radio_protocol.errors import ConfigError
from radio_protocol.schedule.expand import expand
from radio_protocol.schedule.parse import parse_schedule
from radio_protocol.timefmt import zone

TZ = zone("Asia/Ho_Chi_Minh")
MEDIA = {"sha256": "c" * 64, "url": "http://127.0.0.1:1/media/c.flac", "bytes": 1000, "duration_s": 8.0,
         "loudness": {"measured_lufs": -21.0, "target_lufs": -16.0, "true_peak_dbtp": -1.1}}


def bulletin(at: datetime, hours: float = 1.0) -> Bulletin:
    return Bulletin(bulletin_id(at), "Thông báo khẩn cấp: bão số 3", "emergency", at, at + timedelta(hours=hours),
                    MEDIA)


def build(previous: dict[str, Any] | None, b: Bulletin, now: datetime) -> dict[str, Any]:
    return bulletin_schedule(previous, b, district="kon-ray", station="dak-koi-01", version=9,
                             timezone="Asia/Ho_Chi_Minh", now_at=now)


def test_bulletin_alone_when_there_is_no_schedule() -> None:
    now = datetime(2024, 3, 5, 8, 0, 3, tzinfo=TZ)
    body = build(None, bulletin(now), now)
    schedule = parse_schedule(body)
    assert (schedule.version, schedule.valid_from.isoformat(), schedule.valid_until.isoformat()) == \
        (9, "2024-03-05", "2024-03-05")
    (seg,) = schedule.segments
    assert (seg.id, seg.priority, seg.program) == ("bulletin-20240305T010003Z", "emergency", "thong-bao")
    assert seg.loudness is not None and seg.loudness.target_lufs == -16.0
    (slot,) = body["slots"]
    assert slot == {"segment": seg.id, "at": "2024-03-05T08:00:03.000+07:00",
                    "until": "2024-03-05T09:00:03.000+07:00"}


def test_bulletin_keeps_the_month_as_it_was() -> None:
    previous = payload(version=8)
    now = datetime(2024, 3, 5, 8, 0, tzinfo=TZ)
    body = build(previous, bulletin(now), now)
    assert body["slots"][:-1] == previous["slots"] and body["segments"][:-1] == previous["segments"]
    assert (body["valid_from"], body["valid_until"]) == (previous["valid_from"], previous["valid_until"])
    assert body["version"] == 9 and body["slots"][-1]["until"] == "2024-03-05T09:00:00.000+07:00"
    # a second bulletin keeps the first (its slot and segment) too
    later = now + timedelta(minutes=10)
    again = build(body, bulletin(later), later)
    assert [s["id"] for s in again["segments"]] == ["cds-a", "bulletin-20240305T010000Z", "bulletin-20240305T011000Z"]


def test_bulletin_past_the_month_end_widens_without_extra_rule_firings() -> None:
    previous = payload(version=8)
    now = datetime(2024, 3, 31, 23, 30, tzinfo=TZ)  # valid 1 h: until 1 April 00:30
    old = parse_schedule(previous)
    body = build(previous, bulletin(now), now)
    new = parse_schedule(body)
    assert (body["valid_from"], body["valid_until"]) == ("2024-03-01", "2024-04-01")
    assert all("rrule" not in s for s in body["slots"])  # the rule is written out as its slots
    normal = {(s.segment.id, s.at) for s in expand(new) if s.until is None}
    assert normal == {(s.segment.id, s.at) for s in expand(old)}  # the same month, nothing new on 1 April


def test_bulletin_after_the_schedule_ended_stands_alone() -> None:
    now = datetime(2024, 4, 2, 9, 0, tzinfo=TZ)
    body = build(payload(version=8), bulletin(now), now)
    assert [s["id"] for s in body["segments"]] == ["bulletin-20240402T020000Z"]


def test_bulletin_segment_id_clash_is_refused() -> None:
    now = datetime(2024, 3, 5, 8, 0, tzinfo=TZ)
    previous = payload(segments=[segment(), segment(bulletin_id(now))])
    with pytest.raises(Exception, match="appears 2 times"):
        build(previous, bulletin(now), now)


@pytest.mark.parametrize(("text", "seconds"), [("1h", 3600), ("30m", 1800), ("1h30m", 5400), ("45s", 45)])
def test_valid_for_reads_durations(text: str, seconds: int) -> None:
    assert valid_for(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "1d", "5s", "25h", "soon"])
def test_valid_for_refuses_others(text: str) -> None:
    with pytest.raises(ConfigError, match="--valid-for"):
        valid_for(text)


def test_airing_time_reads_hh_mm_and_rfc3339() -> None:
    now = datetime(2024, 3, 5, 1, 0, tzinfo=zone("UTC"))
    assert airing_time(None, now, "Asia/Ho_Chi_Minh") == now
    assert airing_time("09:15", now, "Asia/Ho_Chi_Minh") == datetime(2024, 3, 5, 9, 15, tzinfo=TZ)
    assert airing_time("2024-03-05T09:15:00+07:00", now, "Asia/Ho_Chi_Minh") == datetime(2024, 3, 5, 9, 15, tzinfo=TZ)
    with pytest.raises(ConfigError, match="--at"):
        airing_time("9h15", now, "Asia/Ho_Chi_Minh")


def kit_with_media(tmp_path: Path, media: bool = True) -> DistrictKit:
    kit = make_district(tmp_path / "district", port=free_port())
    if media:
        data = yaml.safe_load(kit.district_config.read_text(encoding="utf-8"))
        data["media"] = {"base_url": "http://127.0.0.1:9/media", "dir": str(tmp_path / "media-dir")}
        kit.district_config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return kit


def test_target_stations_by_ids_commune_and_all(tmp_path: Path) -> None:
    config = kit_with_media(tmp_path).config
    assert target_stations(config, None, None, True) == ["dak-koi-01", "dak-ruong-01"]
    assert target_stations(config, None, "23326", False) == ["dak-ruong-01"]
    assert target_stations(config, "dak-ruong-01, dak-koi-01,dak-ruong-01", None, False) == \
        ["dak-ruong-01", "dak-koi-01"]
    with pytest.raises(ConfigError, match="'nowhere-01' is not registered"):
        target_stations(config, "dak-koi-01,nowhere-01", None, False)
    with pytest.raises(ConfigError, match="--commune 99999"):
        target_stations(config, None, "99999", False)


def test_target_stations_takes_the_registry_groups(tmp_path: Path) -> None:
    kit = kit_with_media(tmp_path)
    data = yaml.safe_load(kit.district_config.read_text(encoding="utf-8"))
    data["groups"] = {"bac": ["dak-ruong-01"], "nam": ["dak-koi-01", "dak-ruong-01"]}
    kit.district_config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    from district_collector.config import load_district_config

    config = load_district_config(kit.district_config)
    assert target_stations(config, "bac", None, False) == ["dak-ruong-01"]
    assert target_stations(config, "dak-koi-01,nam", None, False) == ["dak-koi-01", "dak-ruong-01"]
    with pytest.raises(ConfigError, match="'tay' is not registered"):
        target_stations(config, "bac,tay", None, False)


@pytest.mark.parametrize(("media", "extra", "message"), [
    (False, [], "broadcast needs media"),
    (True, ["--stations", "nowhere-01"], "'nowhere-01' is not registered"),
    (True, ["--valid-for", "forever"], "--valid-for"),
    (True, ["--at", "2020-01-01T00:00:00+07:00"], "already over"),
    (True, ["--title", " "], "--title"),
])
def test_broadcast_bad_input_is_a_clear_error_and_stores_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], media: bool, extra: list[str], message: str) -> None:
    kit = kit_with_media(tmp_path, media)
    make_wav(tmp_path / "b.wav", seconds=1.0)
    args = {"--stations": "dak-koi-01", "--title": "Khẩn cấp"}
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        args[flag] = value
    argv = ["-c", str(kit.district_config), "broadcast", str(tmp_path / "b.wav"), "--priority", "emergency",
            *(x for kv in args.items() for x in kv), "--wait", "0"]
    assert district_main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    with open_store(kit.config) as store:
        assert store.latest_schedule("dak-koi-01") is None


def test_broadcast_with_the_broker_down_says_not_sent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kit = kit_with_media(tmp_path)
    make_wav(tmp_path / "b.wav", seconds=1.0)
    argv = ["-c", str(kit.district_config), "broadcast", str(tmp_path / "b.wav"), "--priority", "priority",
            "--title", "Thông báo", "--all", "--wait", "0"]
    assert district_main(argv) == 1
    out = capsys.readouterr().out
    assert "schedule published to 0 of 2 station(s)" in out
    assert "dak-koi-01: not sent: broker" in out and "dak-ruong-01: not sent: broker" in out
    with open_store(kit.config) as store:  # stored (signed) all the same, like schedule publish
        latest = store.latest_schedule("dak-koi-01")
    assert latest is not None and latest[0] == 1
