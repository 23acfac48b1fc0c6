"""Broken files from users: every command says file, line and key (sheet, row and column for Excel;
the VEVENT's line and UID for calendars), and never shows a traceback.

A table of (what is broken, the broken file, where the message must point) per kind of
user file (catalogue YAML, district config, station config), crossed with every command
that reads that kind of file. To cover a new kind of input (an XLSX catalogue, an ICS
calendar), add a BrokenFile table and the commands that read it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from district_collector.cli import main as district_main
from firmware_daemon.cli import main as station_main

GOOD_DISTRICT = """\
district: {id: kon-ray, name: Huyện Kon Rẫy, timezone: Asia/Ho_Chi_Minh}
database: collector.sqlite3
signing_key: district.key
ack:
  max_batch: 500
stations:
  - id: dak-koi-01
    commune: {code: "23335", name: Xã Đăk Kôi}
    keys: [{kty: OKP, crv: Ed25519, x: "zfiDOLJSTIhYsFBwh_ZVjcvj2biNFHuYHTU3BCQINuw"}]
"""

GOOD_STATION = """\
station: {id: dak-koi-01, district: kon-ray, commune: "23335"}
timezone: Asia/Ho_Chi_Minh
data_dir: data
amplifier:
  pin: 17
gpio: {pin_factory: mock}
audio:
  device: default
"""

GOOD_CATALOGUE = """\
month: 2026-02
segments:
  - id: cds-a
    title: Chuyển đổi số
    program: chuyen-doi-so
    media: a.wav
slots:
  - {segment: cds-a, every: [tuesday], at: "06:30"}
  - {segment: cds-a, dates: [2026-02-10], at: "17:00"}
"""


@dataclass(frozen=True)
class BrokenFile:
    """``good`` with ``old`` replaced by ``new``; the message must name ``line`` and ``key``."""

    name: str
    old: str
    new: str
    line: int
    key: str | None  # None: a YAML syntax error, which has a line but no key yet

    def text(self, good: str) -> str:
        assert self.old in good, self.name
        return good.replace(self.old, self.new, 1)


CATALOGUES = [
    BrokenFile("impossible-date-unquoted", "[2026-02-10]", "[2026-02-30]", 9, "slots[1].dates"),
    BrokenFile("date-outside-month", "[2026-02-10]", "[2026-03-10]", 9, "slots[1].dates"),
    BrokenFile("bad-time", '"06:30"', '"6h30"', 8, "slots[0].at"),
    BrokenFile("tagged-int", "program: chuyen-doi-so", "program: !!int many", 5, None),
    BrokenFile("unclosed-bracket", "every: [tuesday]", "every: [tuesday", 8, None),
    BrokenFile("duplicate-key", "    media: a.wav", "    media: a.wav\n    media: b.wav", 7, None),
]

DISTRICTS = [
    BrokenFile("impossible-date-timezone", "timezone: Asia/Ho_Chi_Minh", "timezone: 2026-02-30", 1,
               "district.timezone"),
    BrokenFile("text-for-number", "max_batch: 500", "max_batch: lots", 5, "ack.max_batch"),
    BrokenFile("typo", "ack:", "akc:", 4, "akc"),
    BrokenFile("station-commune", 'code: "23335"', "code: 2026-02-30", 8, "stations[0].commune.code"),
    BrokenFile("tagged-int", "max_batch: 500", "max_batch: !!int lots", 5, None),
]

GOOD_ICS = """\
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:cds-a-tuesdays
DTSTART;TZID=Asia/Ho_Chi_Minh:20260203T063000
SUMMARY:Chuyển đổi số
DESCRIPTION:Chương trình / Programme: chuyen-doi-so
ATTACH:a.wav
RRULE:FREQ=WEEKLY;BYDAY=TU
END:VEVENT
BEGIN:VEVENT
UID:cds-a-10
DTSTART;TZID=Asia/Ho_Chi_Minh:20260210T170000
SUMMARY:Chuyển đổi số
DESCRIPTION:Chương trình / Programme: chuyen-doi-so
ATTACH:a.wav
END:VEVENT
END:VCALENDAR
"""

CALENDARS = [  # line: the VEVENT's BEGIN; key: the VEVENT's UID
    BrokenFile("every-5-minutes", "FREQ=WEEKLY;BYDAY=TU", "FREQ=MINUTELY;INTERVAL=5", 4, "VEVENT UID=cds-a-tuesdays"),
    BrokenFile("all-day", "DTSTART;TZID=Asia/Ho_Chi_Minh:20260210T170000", "DTSTART;VALUE=DATE:20260210", 12,
               "VEVENT UID=cds-a-10"),
    BrokenFile("date-outside-month", "20260210T170000", "20260310T170000", 12, "VEVENT UID=cds-a-10"),
    BrokenFile("no-attach", "ATTACH:a.wav\nEND", "END", 12, "VEVENT UID=cds-a-10"),
    BrokenFile("unknown-station", "UID:cds-a-10", "UID:cds-a-10\nX-CR-STATIONS:dak-nowhere", 12,
               "VEVENT UID=cds-a-10"),
]


@dataclass(frozen=True)
class BrokenCell:
    """The good Excel row with one cell changed; the message must name sheet, row 3 and the column."""

    name: str
    column: str
    value: object
    header: str


GOOD_ROW = ("Chuyển đổi số", "chuyen-doi-so", None, None, "a.wav", "Thứ Ba, 10/02/2026", "06:30", None)
WORKBOOKS = [
    BrokenCell("bad-weekday", "F", "Thứ Tám", "Ngày / Thứ"),
    BrokenCell("date-outside-month", "F", "10/03/2026", "Ngày / Thứ"),
    BrokenCell("bad-time", "G", "sáu giờ", "Giờ"),
    BrokenCell("unknown-station", "H", "dak-nowhere", "Trạm"),
    BrokenCell("no-media", "E", None, "Tệp âm thanh"),
    BrokenCell("bad-priority", "D", "gấp", "Mức ưu tiên"),
]

STATIONS = [
    BrokenFile("impossible-date-timezone", "timezone: Asia/Ho_Chi_Minh", "timezone: 2026-02-30", 2, "timezone"),
    BrokenFile("text-for-pin", "pin: 17", "pin: seventeen", 5, "amplifier.pin"),
    BrokenFile("typo", "audio:", "audoi:", 7, "audoi"),
    BrokenFile("tagged-float", "pin: 17", "pin: !!float x", 5, None),
]

Main = Callable[[Sequence[str] | None], int]


@dataclass(frozen=True)
class Command:
    name: str
    main: Main
    argv: Callable[[Path], list[str]]  # from the tmp dir (config at tmp/conf.yaml)


def _d(*args: str) -> Callable[[Path], list[str]]:
    return lambda tmp: ["-c", str(tmp / "conf.yaml"), *[a.replace("TMP", str(tmp)) for a in args]]


DISTRICT_COMMANDS = [Command(n, district_main, a) for n, a in (
    ("check", _d("check")), ("stations", _d("stations")), ("report", _d("report")),
    ("evidence", _d("evidence", "--out", "TMP/ev")), ("schedule-show", _d("schedule", "show")),
    ("publish", _d("schedule", "publish", "--no-send", "TMP/catalogue.yaml")),
    ("catalogue", _d("catalogue", "TMP/catalogue.yaml", "--out", "TMP/cat")), ("keygen", _d("keygen")),
    ("import", _d("import", "TMP/none.jsonl")), ("user-list", _d("user", "list")),
    ("user-add", _d("user", "add", "an", "--role", "admin", "--password-file", "TMP/none")))]
STATION_COMMANDS = [Command(n, station_main, a) for n, a in (
    ("check", _d("check")), ("schedule", _d("schedule")), ("events", _d("events")),
    ("play", _d("play", "TMP/a.wav")), ("keygen", _d("keygen")), ("run", _d("run")))]
CATALOGUE_COMMANDS = [c for c in DISTRICT_COMMANDS if c.name in ("publish", "catalogue")]
FILE_COMMANDS = [Command(n, district_main, a) for n, a in (
    ("publish", _d("schedule", "publish", "--no-send", "TMP/FILE")), ("catalogue", _d("catalogue", "TMP/FILE", "--out", "TMP/cat")),
    ("ics", _d("catalogue", "ics", "TMP/FILE", "--out", "TMP/ics")))]


def _run(tmp: Path, command: Command, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = command.main(command.argv(tmp))
    out = capsys.readouterr()
    return code, out.out + out.err


def _assert_points_at(text: str, path: Path, broken: BrokenFile) -> None:
    assert "Traceback" not in text and "unexpected error" not in text, text
    assert str(path) in text, text
    assert (f"{path}:{broken.line}:" in text or f"(line {broken.line})" in text
            or f"line {broken.line} column" in text), text
    if broken.key is not None:
        assert f"{broken.key}:" in text, text


@pytest.mark.parametrize("broken", CATALOGUES, ids=lambda b: b.name)
@pytest.mark.parametrize("command", CATALOGUE_COMMANDS, ids=lambda c: c.name)
def test_user_file_broken_catalogue_named_by_line_and_key(
        tmp_path: Path, broken: BrokenFile, command: Command, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "conf.yaml").write_text(GOOD_DISTRICT, encoding="utf-8")
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    catalogue = tmp_path / "catalogue.yaml"
    catalogue.write_text(broken.text(GOOD_CATALOGUE), encoding="utf-8")
    code, text = _run(tmp_path, command, capsys)
    assert code == 1
    _assert_points_at(text, catalogue, broken)


@pytest.mark.parametrize("broken", CALENDARS, ids=lambda b: b.name)
@pytest.mark.parametrize("command", FILE_COMMANDS, ids=lambda c: c.name)
def test_user_file_broken_calendar_named_by_vevent_line_and_uid(
        tmp_path: Path, broken: BrokenFile, command: Command, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "conf.yaml").write_text(GOOD_DISTRICT, encoding="utf-8")
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    calendar = tmp_path / "calendar.ics"
    calendar.write_text(broken.text(GOOD_ICS), encoding="utf-8")
    code, text = _run(tmp_path, Command(command.name, command.main,
                                        lambda tmp: [a.replace("FILE", "calendar.ics") for a in command.argv(tmp)]),
                      capsys)
    assert code == 1
    _assert_points_at(text, calendar, broken)


@pytest.mark.parametrize("broken", WORKBOOKS, ids=lambda b: b.name)
@pytest.mark.parametrize("command", FILE_COMMANDS, ids=lambda c: c.name)
def test_user_file_broken_workbook_named_by_sheet_row_and_column(
        tmp_path: Path, broken: BrokenCell, command: Command, capsys: pytest.CaptureFixture[str]) -> None:
    from openpyxl import load_workbook

    (tmp_path / "conf.yaml").write_text(GOOD_DISTRICT, encoding="utf-8")
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    workbook = tmp_path / "danh-muc.xlsx"
    assert district_main(["-c", str(tmp_path / "conf.yaml"), "catalogue", "template", "--month", "2026-02",
                          "--out", str(workbook)]) == 0
    wb = load_workbook(workbook)
    for column, value in zip("ABCDEFGH", GOOD_ROW, strict=True):
        wb["Danh mục"][f"{column}3"] = broken.value if column == broken.column else value
    wb.save(workbook)
    capsys.readouterr()
    code, text = _run(tmp_path, Command(command.name, command.main,
                                        lambda tmp: [a.replace("FILE", "danh-muc.xlsx") for a in command.argv(tmp)]),
                      capsys)
    assert code == 1
    assert "Traceback" not in text and "unexpected error" not in text, text
    assert f"{workbook}: trang tính 'Danh mục', dòng 3, cột {broken.column} ({broken.header}) / " \
           f"sheet 'Danh mục', row 3, column {broken.column} (" in text, text


@pytest.mark.parametrize("broken", DISTRICTS, ids=lambda b: b.name)
@pytest.mark.parametrize("command", DISTRICT_COMMANDS, ids=lambda c: c.name)
def test_user_file_broken_district_config_named_by_line_and_key(
        tmp_path: Path, broken: BrokenFile, command: Command, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "conf.yaml"
    config.write_text(broken.text(GOOD_DISTRICT), encoding="utf-8")
    (tmp_path / "catalogue.yaml").write_text(GOOD_CATALOGUE, encoding="utf-8")
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    code, text = _run(tmp_path, command, capsys)
    assert code == 1
    _assert_points_at(text, config, broken)


@pytest.mark.parametrize("broken", STATIONS, ids=lambda b: b.name)
@pytest.mark.parametrize("command", STATION_COMMANDS, ids=lambda c: c.name)
def test_user_file_broken_station_config_named_by_line_and_key(
        tmp_path: Path, broken: BrokenFile, command: Command, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "conf.yaml"
    config.write_text(broken.text(GOOD_STATION), encoding="utf-8")
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    code, text = _run(tmp_path, command, capsys)
    assert code == 1
    _assert_points_at(text, config, broken)
    assert not (tmp_path / "data").exists()  # nothing created from a broken config


def test_user_file_unexpected_error_is_one_line_not_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug of ours (any exception that is not a CommuneRadioError) is one line and exit 1."""
    import district_collector.commands.check as check

    def boom(path: str) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(check, "load_district_config", boom)
    (tmp_path / "conf.yaml").write_text(GOOD_DISTRICT, encoding="utf-8")
    code, text = _run(tmp_path, DISTRICT_COMMANDS[0], capsys)
    assert code == 1
    assert "Traceback" not in text
    assert "radio-district: unexpected error (ZeroDivisionError: division by zero); this is a bug" in text
