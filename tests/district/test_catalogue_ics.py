"""Calendars: the catalogue exported as .ics (checked by re-parsing), and .ics published."""

from __future__ import annotations

from pathlib import Path

import pytest
from catalogue_files_kit import STATIONS, YAML, airings, cli, district, media, published
from icalendar import Calendar
from schedule_testkit import media_server

from district_collector.schedules.reading import read_catalogue
from radio_protocol.errors import ConfigError

EVENT = """\
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:good-1
DTSTAMP:20261201T000000Z
DTSTART;TZID=Asia/Ho_Chi_Minh:20270105T063000
SUMMARY:Chuyển đổi số là gì?
DESCRIPTION:Chương trình: chuyen-doi-so
ATTACH:media/a.wav
RRULE:FREQ=WEEKLY;BYDAY=TU
END:VEVENT
BEGIN:VEVENT
UID:broken-2
DTSTAMP:20261201T000000Z
DTSTART;TZID=Asia/Ho_Chi_Minh:20270106T063000
SUMMARY:Ngày hội số
DESCRIPTION:Programme: chuyen-doi-so
ATTACH:media/a.wav
{broken}
END:VEVENT
END:VCALENDAR
"""


def _export(tmp_path: Path, base_url: str) -> tuple[Path, Path]:
    office = tmp_path / "office"
    media(office)
    (office / "danh-muc.yaml").write_text(YAML, encoding="utf-8")
    kit = district(tmp_path / "export", base_url)
    out = tmp_path / "ics"
    assert cli(kit, "catalogue", "ics", str(office / "danh-muc.yaml"), "--out", str(out)) == 0
    return office / "danh-muc.yaml", out


def test_catalogue_ics_export_is_valid_icalendar_with_stable_uids(tmp_path: Path) -> None:
    _, out = _export(tmp_path, "https://media.example/m")
    assert sorted(p.name for p in out.glob("*.ics")) == sorted([*(f"{s}.ics" for s in STATIONS), "all.ics"])
    first = (out / "all.ics").read_bytes()
    cal = Calendar.from_ical(first)
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Asia/Ho_Chi_Minh"]
    events = cal.walk("VEVENT")
    # 4 catalogue slots: 1 rule x 1 time, 2 dates x 2 times, 1 rule, 1 date: 7 events, rules not exploded
    assert len(events) == 7
    rules = [e for e in events if e.get("rrule")]
    assert sorted(";".join(p for p in e["rrule"].to_ical().decode().split(";") if not p.startswith("UNTIL="))
                  for e in rules) == ["FREQ=DAILY", "FREQ=WEEKLY;BYDAY=TU,FR"]
    assert all(e["rrule"]["UNTIL"][0].isoformat() == "2027-01-31T16:59:59+00:00" for e in rules)
    weekly = next(e for e in rules if "WEEKLY" in e["rrule"].to_ical().decode())
    assert weekly["dtstart"].params["TZID"] == "Asia/Ho_Chi_Minh"
    assert weekly["dtstart"].dt.isoformat() == "2027-01-01T06:30:00+07:00"  # the first Friday
    assert str(weekly["summary"]) == "Chuyển đổi số là gì?"
    assert "Chương trình / Programme: chuyen-doi-so" in str(weekly["description"])
    assert "Chủ đề / Topic: policy" in str(weekly["description"])
    assert str(weekly["attach"]).startswith("https://media.example/m/") and str(weekly["attach"]).endswith(".wav")
    daily = next(e for e in rules if "DAILY" in e["rrule"].to_ical().decode())
    assert str(daily["x-cr-stations"]) == "dak-pne-01"
    uids = [str(e["uid"]) for e in events]
    assert len(set(uids)) == 7
    again = tmp_path / "again"
    kit = district(tmp_path / "export")
    assert cli(kit, "catalogue", "ics", str(tmp_path / "office" / "danh-muc.yaml"), "--out", str(again)) == 0
    assert [str(e["uid"]) for e in Calendar.from_ical((again / "all.ics").read_bytes()).walk("VEVENT")] == uids
    pne = Calendar.from_ical((out / "dak-pne-01.ics").read_bytes()).walk("VEVENT")
    assert {str(e["summary"]) for e in pne} == {"Chuyển đổi số là gì?", "Thời tiết"}


@pytest.mark.parametrize("name", ["all.ics", "dak-pne-01.ics"])
def test_catalogue_ics_round_trip_publishes_the_yaml_slots(tmp_path: Path, name: str) -> None:
    with media_server() as server:
        yaml_path, out = _export(tmp_path, server.url("/media"))
        server.directory = tmp_path / "export" / "served"
        by_yaml = district(tmp_path / "by-yaml", server.url("/media"))
        assert cli(by_yaml, "schedule", "publish", "--no-send", str(yaml_path)) == 0
        by_ics = district(tmp_path / "by-ics", server.url("/media"))
        assert cli(by_ics, "schedule", "publish", "--no-send", str(out / name)) == 0
    expected, got = published(by_yaml), published(by_ics)
    stations = list(STATIONS) if name == "all.ics" else ["dak-pne-01"]
    assert sorted(got) == sorted(stations)
    for station in stations:
        assert airings(got[station]) == airings(expected[station])
        assert [s["id"] for s in got[station]["segments"]] == [s["id"] for s in expected[station]["segments"]]


@pytest.mark.parametrize(("broken", "words"), [
    ("RRULE:FREQ=MINUTELY;INTERVAL=5", "RRULE: "),
    ("RDATE;TZID=Asia/Ho_Chi_Minh:20270107T063000", "RDATE: not supported"),
    ("X-CR-STATIONS:dak-nowhere", "X-CR-STATIONS: station(s) dak-nowhere not registered"),
    ("CATEGORIES:Work", None),
])
def test_catalogue_ics_errors_name_the_vevent(tmp_path: Path, broken: str, words: str | None) -> None:
    media(tmp_path)
    path = tmp_path / "calendar.ics"
    path.write_text(EVENT.replace("{broken}", broken), encoding="utf-8")
    kit = district(tmp_path / "d")
    if words is None:  # a category that is no station: ignored, every station
        catalogue = read_catalogue(path, kit.config)
        assert [s.stations for s in catalogue.slots] == [None, None]
        assert catalogue.slots[1].dates[0].isoformat() == "2027-01-06"
        return
    with pytest.raises(ConfigError) as caught:
        read_catalogue(path, kit.config)
    assert len(caught.value.problems) == 1, caught.value.problems
    assert caught.value.problems[0].startswith(f"{path}:13: VEVENT UID=broken-2: {words}")


def test_catalogue_ics_all_day_event_and_missing_attach(tmp_path: Path) -> None:
    media(tmp_path)
    text = EVENT.replace("{broken}", "").replace("DTSTART;TZID=Asia/Ho_Chi_Minh:20270106T063000",
                                                   "DTSTART;VALUE=DATE:20270106")
    text = text.replace("ATTACH:media/a.wav\nRRULE", "RRULE")
    path = tmp_path / "calendar.ics"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        read_catalogue(path, district(tmp_path / "d").config)
    assert [p.split(": ", 2)[1:] for p in caught.value.problems] == [
        ["VEVENT UID=good-1", "ATTACH: missing: the media file's URL is required / thiếu tệp âm thanh"],
        ["VEVENT UID=broken-2", "DTSTART: needs a date and time (not an all-day event) / cần ngày và giờ phát"],
    ]


def test_catalogue_ics_from_a_phone_calendar(tmp_path: Path) -> None:
    """A calendar made elsewhere: UTC times, a rule begun last month, a group in CATEGORIES."""
    media(tmp_path)
    path = tmp_path / "phone.ics"
    path.write_text("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nX-CR-MONTH:2027-01\r\nBEGIN:VEVENT\r\nUID:p1\r\n"
                    "DTSTART:20261201T233000Z\r\nSUMMARY:Chuyển đổi số\r\nDESCRIPTION:Programme: chuyen-doi-so\r\n"
                    "CATEGORIES:Công việc,bac\r\nATTACH:media/a.wav\r\nRRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\n"
                    "END:VCALENDAR\r\n", encoding="utf-8")
    catalogue = read_catalogue(path, district(tmp_path / "d").config)
    (slot,) = catalogue.slots
    assert (slot.rrule, slot.start and slot.start.isoformat(), slot.times[0].isoformat()) == \
        ("FREQ=WEEKLY", "2026-12-02", "06:30:00")  # 23:30 UTC is 06:30 in Hà Nội, Wednesdays
    assert slot.stations == ("dak-koi-01", "dak-ruong-01")
