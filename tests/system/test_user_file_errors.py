"""Broken files from users: every command says file, line and key, and never shows a traceback.

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
