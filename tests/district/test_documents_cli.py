"""``radio-district catalogue``: real config, real catalogue file, real store, files read back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from openpyxl import load_workbook
from test_evidence_support import pdf_text

from district_collector.commands.catalogue import CATALOGUE_PDF, CATALOGUE_XLSX
from radio_protocol.cli_base import run_main
from radio_protocol.jose import Signer, public_jwk, sha256_hex
from radio_protocol.names import SCHEDULE_TYP

STATIONS = [("dak-rve-01", "23317", "Thị trấn Đăk Rve"), ("dak-koi-01", "23320", "Xã Đăk Kôi"),
            ("tan-lap-01", "23335", "Xã Tân Lập")]


def run(argv: list[str]) -> int:
    return run_main("radio-district", "test", ["district_collector.commands.catalogue"], argv)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    stations = [{"id": sid, "commune": {"code": code, "name": name}, "level": "commune",
                 "keys": [public_jwk(Ed25519PrivateKey.generate().public_key())]}
                for sid, code, name in STATIONS]
    data = {"district": {"id": "kon-ray", "name": "Huyện Kon Rẫy", "timezone": "Asia/Ho_Chi_Minh"},
            "database": "collector.sqlite3", "signing_key": "district.key", "stations": stations}
    path = tmp_path / "district.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def write_catalogue(tmp_path: Path, **changes: Any) -> Path:
    (tmp_path / "media").mkdir(exist_ok=True)
    soundfile.write(tmp_path / "media" / "cds-a.wav", np.zeros(8000 * 3, dtype=np.int16), 8000)
    data: dict[str, Any] = {
        "month": "2024-03",
        "segments": [
            {"id": "cds-2024-03-a", "title": "Chuyển đổi số là gì?", "program": "chuyen-doi-so",
             "topic": "policy", "media": "media/cds-a.wav"},
            {"id": "cds-2024-03-b", "title": "Đưa nông sản lên sàn thương mại điện tử", "program": "chuyen-doi-so",
             "topic": "ecommerce", "media": "https://media.kon-ray.example/cds-b.mp3"},
        ],
        "slots": [
            {"segment": "cds-2024-03-a", "every": ["thứ ba", "friday"], "at": "06:30",
             "stations": ["dak-rve-01", "dak-koi-01"]},
            {"segment": "cds-2024-03-b", "rrule": "FREQ=MONTHLY;BYDAY=SA;BYSETPOS=-1", "at": "07:00",
             "stations": ["dak-koi-01"]},
        ],
    }
    data.update(changes)
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_catalogue_command_writes_pdf_and_xlsx(tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalogue = write_catalogue(tmp_path)
    out = tmp_path / "out"
    assert run(["-c", str(config), "catalogue", str(catalogue), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "catalogue 2024-03 written" in printed
    assert "dak-koi-01: 10 airing(s) of chuyen-doi-so; meets at least once a week" in printed
    assert "tan-lap-01: 0 airing(s) of chuyen-doi-so; does NOT meet once a week" in printed
    text = pdf_text(out / CATALOGUE_PDF)
    for expected in ("DANH MỤC PHÁT SÓNG", "Tháng 03/2024", "Xã Đăk Kôi", "Xã Tân Lập", "Thứ Ba", "30/03/2024",
                     "0:03", "Đưa nông sản lên sàn thương mại điện tử", "Không (2024-W10, 2024-W11, 2024-W12, 2024-W13)"):
        assert expected in text, expected
    assert "Phiên bản" not in text  # not published: no version is claimed
    weekly = list(load_workbook(out / CATALOGUE_XLSX)["Số lần theo tuần"].iter_rows(values_only=True))
    assert weekly[1] == ("dak-rve-01", "Thị trấn Đăk Rve", 1, 2, 2, 2, 2, 9, "Có")
    assert weekly[2][:8] == ("dak-koi-01", "Xã Đăk Kôi", 1, 2, 2, 2, 3, 10)


def test_catalogue_command_english(tmp_path: Path, config: Path) -> None:
    out = tmp_path / "out"
    assert run(["-c", str(config), "catalogue", str(write_catalogue(tmp_path)), "--out", str(out), "--lang", "en"]) == 0
    assert "BROADCAST CATALOGUE" in pdf_text(out / CATALOGUE_PDF)
    assert load_workbook(out / CATALOGUE_XLSX).sheetnames == ["Segments", "Schedule", "Per week"]


def test_catalogue_command_renders_what_was_published(tmp_path: Path, config: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from district_collector.store.sqlite import SqliteStore

    signer = Signer(Ed25519PrivateKey.generate())
    payloads: list[dict[str, Any]] = []
    for version, rule in ((7, "FREQ=WEEKLY;BYDAY=MO"), (8, "FREQ=WEEKLY;BYDAY=WE,SU")):
        payloads.append({
            "v": 1, "type": "schedule", "district": "kon-ray", "station": "dak-koi-01", "version": version,
            "issued_at": "2024-02-25T08:00:00.000+07:00", "valid_from": "2024-03-01", "valid_until": "2024-03-31",
            "timezone": "Asia/Ho_Chi_Minh",
            "segments": [{"id": "cds-a", "title": "Ngày Chuyển đổi số quốc gia 10/10", "program": "chuyen-doi-so",
                          "topic": "national-dx-day", "priority": "priority",
                          "media": {"sha256": "cd" * 32, "url": "https://media.kon-ray.example/a.mp3",
                                    "bytes": 1000, "duration_s": 125.0}}],
            "slots": [{"segment": "cds-a", "rrule": rule, "dtstart": "2024-03-01T18:00:00+07:00"}]})
    with SqliteStore(tmp_path / "collector.sqlite3") as store:
        for p in payloads:
            jws = signer.sign(p, SCHEDULE_TYP)
            store.add_schedule("dak-koi-01", p["version"], jws, sha256_hex(jws), datetime(2024, 2, 25, tzinfo=UTC))
    out = tmp_path / "published"
    assert run(["-c", str(config), "catalogue", "--month", "2024-03", "--out", str(out)]) == 0
    assert "dak-koi-01: 9 airing(s)" in capsys.readouterr().out  # version 8: Wednesdays and Sundays
    text = pdf_text(out / CATALOGUE_PDF)
    for expected in ("Phiên bản 8", "Ngày Chuyển đổi số quốc gia 10/10", "2:05", "ưu tiên", "Chủ nhật", "Thứ Tư"):
        assert expected in text, expected
    assert "Thứ Hai" not in text
    # A later month: March's schedule is not that month's catalogue, whatever is in force.
    later = tmp_path / "later"
    assert run(["-c", str(config), "catalogue", "--month", "2024-05", "--out", str(later)]) == 0
    out_text = capsys.readouterr().out
    assert "no station has a schedule for 2024-05" in out_text
    assert "dak-koi-01: no schedule was published for 2024-05" in out_text
    assert "Phiên bản 8" not in pdf_text(later / CATALOGUE_PDF)


@pytest.mark.parametrize(("args", "message"), [
    (["--out", "OUT"], "give a catalogue file (CATALOGUE.yaml) or --month YYYY-MM"),
    (["--month", "2024-3", "--out", "OUT"], "--month '2024-3': expected YYYY-MM"),
    (["CAT", "--month", "2024-04", "--out", "OUT"], "is the catalogue of 2024-03, not of --month 2024-04"),
    (["CAT", "--out", "FILE"], "exists and is not a directory"),
    (["missing.yaml", "--out", "OUT"], "missing.yaml: file not found"),
    (["BADCAT", "--out", "OUT"], "catalogue.yaml:"),
    (["UNKNOWNSTATION", "--out", "OUT"], "station(s) ghost-01 not registered"),
])
def test_catalogue_command_problems_are_one_clear_message(tmp_path: Path, config: Path, args: list[str], message: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "FILE").write_text("not a directory")
    subs = {"OUT": str(tmp_path / "out"), "FILE": str(tmp_path / "FILE"), "missing.yaml": str(tmp_path / "missing.yaml")}
    if "CAT" in args:
        subs["CAT"] = str(write_catalogue(tmp_path))
    if "BADCAT" in args:
        subs["BADCAT"] = str(write_catalogue(tmp_path, slots=[{"segment": "cds-2024-03-a", "every": ["someday"],
                                                                "at": "25:00"}]))
    if "UNKNOWNSTATION" in args:
        subs["UNKNOWNSTATION"] = str(write_catalogue(tmp_path, stations=["ghost-01"]))
    code = run(["-c", str(config), "catalogue", *[subs.get(a, a) for a in args]])
    err = capsys.readouterr().err
    assert code == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "out" / CATALOGUE_PDF).exists()


def test_catalogue_command_is_registered() -> None:
    from district_collector import cli

    assert "district_collector.commands.catalogue" in cli.COMMAND_MODULES
