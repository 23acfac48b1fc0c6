"""Fuzz targets of the Excel and iCalendar catalogue readers (tests/fuzzkit.py).

``read_catalogue`` of a ``.xlsx`` (the template with random values in its cells, or damaged
bytes) and of a ``.ics`` (lines of real calendars shuffled and broken, or any text) may
raise ConfigError only: anything else is a bug.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import datetime, time
from pathlib import Path

import pytest
from catalogue_files_kit import district, media
from fuzzkit import FuzzRecorder, scaled
from hypothesis import assume, given
from hypothesis import strategies as st
from openpyxl import load_workbook

from district_collector.config import DistrictConfig
from district_collector.schedules.reading import read_catalogue
from district_collector.schedules.xlsx_template import write_template
from radio_protocol.errors import ConfigError


@pytest.fixture
def fuzz(request: pytest.FixtureRequest) -> Iterator[FuzzRecorder]:
    recorder = FuzzRecorder(request.node.name.removeprefix("test_fuzz_"))
    yield recorder
    recorder.save()


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DistrictConfig, bytes]:
    root = tmp_path_factory.mktemp("fuzz-files")
    media(root)
    config = district(root / "district").config
    template = write_template(root / "template.xlsx", config, 2027, 1)
    wb = load_workbook(template)
    good = ("Chuyển đổi số", "chuyen-doi-so", None, None, "media/a.wav", "Thứ Hai", time(6, 30), "bac")
    for col, value in enumerate(good, start=1):  # the example row made valid: mutations start from "ok"
        wb["Danh mục"].cell(3, col, value)
    wb.save(template)
    return root, config, template.read_bytes()


CELL_VALUES = st.one_of(
    st.none(), st.text(max_size=30), st.integers(-10, 3_000_000), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["Thứ Hai", "T7, CN", "Hằng ngày", "05/01/2027", "31/02/2027", "2027-01-05", "06:30",
                     "25:61", "06:30, 17:00", "media/a.wav", "media/../../etc/passwd", "http://127.0.0.1/x.wav",
                     "bac", "tất cả", "dak-koi-01, nam", "khẩn cấp", "chuyen-doi-so", "Tiêu đề", "=1/0"]),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(2100, 1, 1)),
    st.times().map(lambda t: t.replace(microsecond=0)), st.just(time(6, 30)))


@scaled(0.025)  # about 0.5 s a case (openpyxl writes and reads a workbook)
@given(st.lists(st.tuples(st.integers(1, 12), st.integers(1, 10), CELL_VALUES), max_size=12),
       st.sampled_from(["keep", "drop-month", "rename-sheet", "bytes"]), st.binary(max_size=40))
def test_fuzz_catalogue_xlsx(fuzz: FuzzRecorder, place: tuple[Path, DistrictConfig, bytes],
                             cells: list[tuple[int, int, object]], how: str, noise: bytes) -> None:
    root, config, template = place
    path = root / "fuzz.xlsx"
    if how == "bytes":  # damaged files: a cut or overwritten zip, or a zip of something else
        data = bytearray(template)
        at = len(noise) * 997 % len(data)
        data[at:at + len(noise)] = noise
        if not noise:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as z:
                z.writestr("[Content_Types].xml", "<x/>")
            data = bytearray(buffer.getvalue())
        path.write_bytes(bytes(data))
    else:
        wb = load_workbook(io.BytesIO(template))
        sheet = wb["Danh mục"]
        for row, col, value in cells:
            try:
                sheet.cell(row, col, value)
            except Exception:  # noqa: BLE001 - openpyxl will not store it, so no workbook holds it
                continue
        if how == "drop-month":
            del wb.defined_names["DanhMuc_Thang"]
        elif how == "rename-sheet":
            sheet.title = "Sheet1"
        try:
            wb.save(path)
        except Exception:  # noqa: BLE001 - openpyxl cannot write it (a time in a shared-string cell...):
            assume(False)  # no such workbook exists to be read

    with fuzz.case(ConfigError, reason=lambda exc: ""):
        read_catalogue(path, config)


ICS_LINES = st.sampled_from([
    "BEGIN:VCALENDAR", "END:VCALENDAR", "VERSION:2.0", "BEGIN:VEVENT", "END:VEVENT", "UID:x", "UID:",
    "X-CR-MONTH:2027-01", "X-CR-MONTH:2027-13", "DTSTART;TZID=Asia/Ho_Chi_Minh:20270105T063000",
    "DTSTART:20270105T063000Z", "DTSTART;VALUE=DATE:20270105", "DTSTART:20270105T063015",
    "DTSTART;TZID=Nowhere/Zone:20270105T063000", "DTSTART:99999999T999999", "SUMMARY:Chuyển đổi số",
    "SUMMARY:", "DESCRIPTION:Chương trình / Programme: chuyen-doi-so\\nMức ưu tiên / Priority: khẩn",
    "DESCRIPTION:Programme: chuyen-doi-so", "ATTACH:media/a.wav", "ATTACH:file:///etc/passwd",
    "ATTACH:https://m.example/a.wav", "ATTACH:ftp://x", "RRULE:FREQ=WEEKLY;BYDAY=TU",
    "RRULE:FREQ=MINUTELY", "RRULE:FREQ=DAILY;UNTIL=20270131T165959Z", "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
    "RRULE:FREQ=WEEKLY;COUNT=3;UNTIL=20270131T000000Z", "RRULE:GARBAGE", "RDATE:20270107T063000Z",
    "CATEGORIES:bac,Work", "X-CR-STATIONS:dak-koi-01\\,nam", "X-CR-SEGMENT:a b", "X-CR-SEGMENT:seg-1",
    " folded", "DURATION:PT5M", "BEGIN:VTODO", "END:VTODO", ":", ";;;", "\t"])


GOOD_ICS = ["BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:VEVENT", "UID:a", "DTSTART;TZID=Asia/Ho_Chi_Minh:20270105T063000",
            "SUMMARY:Chuyển đổi số", "DESCRIPTION:Programme: chuyen-doi-so", "ATTACH:media/a.wav",
            "RRULE:FREQ=WEEKLY;BYDAY=TU", "END:VEVENT", "END:VCALENDAR"]


@st.composite
def good_ics_changed(draw: st.DrawFn) -> list[str]:
    """The good calendar with a few lines replaced, removed or added."""
    lines = list(GOOD_ICS)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["replace", "insert", "remove"]))
        if action == "remove" and len(lines) > 1:
            del lines[at]
        else:
            lines[at:at + (action == "replace")] = [draw(ICS_LINES)]
    return lines


@scaled(0.3)
@given(good_ics_changed() | st.lists(ICS_LINES, max_size=24) | st.text(max_size=200).map(lambda t: [t]))
def test_fuzz_catalogue_ics(fuzz: FuzzRecorder, place: tuple[Path, DistrictConfig, bytes], lines: list[str]) -> None:
    root, config, _ = place
    path = root / "fuzz.ics"
    path.write_text("\r\n".join(lines), encoding="utf-8", errors="surrogatepass")
    with fuzz.case(ConfigError, reason=lambda exc: ""):
        read_catalogue(path, config)
