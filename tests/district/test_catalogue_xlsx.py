"""The Excel catalogue: the template as the office gets it, and a filled one published."""

from __future__ import annotations

from pathlib import Path

import pytest
from catalogue_files_kit import ROWS, STATIONS, YAML, airings, cli, district, fill, media, published
from openpyxl import load_workbook

from district_collector.schedules.reading import read_catalogue
from radio_protocol.errors import ConfigError

HEADERS = ["Tiêu đề", "Chương trình", "Chủ đề", "Mức ưu tiên", "Tệp âm thanh", "Ngày / Thứ", "Giờ", "Trạm"]


def _template(tmp_path: Path, month: str = "2027-01") -> Path:
    kit = district(tmp_path / "district")
    out = tmp_path / "office" / f"danh-muc-{month}.xlsx"
    assert cli(kit, "catalogue", "template", "--month", month, "--out", str(out)) == 0
    return out


def test_catalogue_xlsx_template_has_headers_dropdowns_help_and_month(tmp_path: Path) -> None:
    wb = load_workbook(_template(tmp_path))
    assert wb.sheetnames == ["Danh mục", "Hướng dẫn", "Danh sách"]
    main = wb["Danh mục"]
    assert [c.value for c in main[2]] == HEADERS
    assert main["A3"].value.startswith("VÍ DỤ") and main["F3"].value == "Thứ Ba, Thứ Sáu"
    lists = wb["Danh sách"]
    column = {c.value: i for i, c in enumerate(lists[1], start=1) if c.value}
    stations = [lists.cell(r, column["Trạm, nhóm trạm / Stations, groups"]).value for r in range(2, 7)]
    assert stations == ["tất cả", "bac", *STATIONS]
    validations = {str(dv.sqref).split(":")[0]: dv.formula1 for dv in main.data_validations.dataValidation}
    assert set(validations) == {"B3", "C3", "D3", "F3", "H3"}  # programme, topic, priority, weekday, stations
    assert all(f.startswith("='Danh sách'!$") for f in validations.values())
    name = wb.defined_names["DanhMuc_Thang"]
    sheet, ref = next(name.destinations)
    assert wb[sheet][ref.replace("$", "")].value == "2027-01"
    help_text = "\n".join(str(c.value) for c in wb["Hướng dẫn"]["A"] if c.value)
    assert "Hướng dẫn lập danh mục" in help_text and "How to fill in the catalogue" in help_text
    assert help_text.index("Hướng dẫn") < help_text.index("How to fill")


def test_catalogue_xlsx_publishes_exactly_like_the_yaml(tmp_path: Path) -> None:
    office = tmp_path / "office"
    media(office)
    xlsx = fill(_template(tmp_path), office / "danh-muc.xlsx", ROWS)
    (office / "danh-muc.yaml").write_text(YAML, encoding="utf-8")
    results = []
    for name in ("danh-muc.yaml", "danh-muc.xlsx"):
        kit = district(tmp_path / name)
        assert cli(kit, "schedule", "publish", "--no-send", str(office / name)) == 0
        results.append(published(kit))
    from_yaml, from_xlsx = results
    assert set(from_yaml) == set(from_xlsx) == set(STATIONS)
    for station in STATIONS:
        assert from_xlsx[station]["segments"] == from_yaml[station]["segments"]
        assert from_xlsx[station]["slots"] == from_yaml[station]["slots"]
        assert airings(from_xlsx[station]) == airings(from_yaml[station])
    assert xlsx.exists()
    pne = airings(from_xlsx["dak-pne-01"])
    assert sum(1 for a in pne if a[1] == "thoi-tiet-2027-01") == 31  # every day, this station only
    assert not any(a[1] == "ngay-hoi-so-2027-01" for a in pne)  # group "bac" only


@pytest.mark.parametrize(("cell", "value", "column", "words"), [
    ("F", "Thứ Tám", "cột F (Ngày / Thứ)", "not a date"),
    ("F", "05/02/2027", "cột F (Ngày / Thứ)", "not in this template's month 2027-01"),
    ("F", "30/02/2027", "cột F (Ngày / Thứ)", "not a real date"),
    ("G", "6 giờ", "cột G (Giờ)", "not a time like 06:30"),
    ("D", "rất gấp", "cột D (Mức ưu tiên)", "pick normal, priority or emergency"),
    ("H", "dak-nowhere", "cột H (Trạm)", "station(s) dak-nowhere not registered"),
    ("E", "media/none.wav", "cột E (Tệp âm thanh)", "no such file"),
    ("B", None, "cột B (Chương trình)", "empty (required)"),
])
def test_catalogue_xlsx_broken_cell_is_named_by_sheet_row_and_column(
        tmp_path: Path, cell: str, value: object, column: str, words: str) -> None:
    office = tmp_path / "office"
    media(office)
    rows = [list(r) for r in ROWS]
    rows[1]["ABCDEFGH".index(cell)] = value
    xlsx = fill(_template(tmp_path), office / "danh-muc.xlsx", [tuple(r) for r in rows])
    kit = district(tmp_path / "d2")
    with pytest.raises(ConfigError) as caught:
        read_catalogue(xlsx, kit.config)
    assert len(caught.value.problems) == 1, caught.value.problems
    problem = caught.value.problems[0]
    assert problem.startswith(f"{xlsx}: trang tính 'Danh mục', dòng 4, {column} / sheet 'Danh mục', row 4, "
                              f"column {cell} "), problem
    assert words in problem


def test_catalogue_xlsx_of_another_month_is_refused(tmp_path: Path) -> None:
    office = tmp_path / "office"
    media(office)
    december = fill(_template(tmp_path, "2026-12"), office / "danh-muc.xlsx", ROWS)
    kit = district(tmp_path / "d2")
    with pytest.raises(ConfigError) as caught:
        read_catalogue(december, kit.config)
    assert "không thuộc tháng 12/2026 của mẫu này" in str(caught.value)
    assert "make a new template for another month" in str(caught.value)


def test_catalogue_xlsx_without_the_month_is_not_a_template(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    assert wb.active is not None
    wb.active.title = "Danh mục"
    wb.save(tmp_path / "own.xlsx")
    kit = district(tmp_path / "d")
    with pytest.raises(ConfigError, match="not a catalogue template"):
        read_catalogue(tmp_path / "own.xlsx", kit.config)


@pytest.mark.parametrize(("when", "at", "expected"), [
    ("Monday, friday", "6h30", ("FREQ=WEEKLY;BYDAY=MO,FR", (), "06:30")),
    ("thứ 2; CN", 0.25, ("FREQ=WEEKLY;BYDAY=MO,SU", (), "06:00")),
    ("2027-01-05\n7/1", "17:00", (None, ("2027-01-05", "2027-01-07"), "17:00")),
    (46392, "05:45", (None, ("2027-01-05",), "05:45")),  # an Excel serial not formatted as a date
    ("hằng ngày", "17.15", ("FREQ=DAILY", (), "17:15")),
])
def test_catalogue_xlsx_dates_and_times_as_typed(tmp_path: Path, when: object, at: object,
                                                 expected: tuple[str | None, tuple[str, ...], str]) -> None:
    office = tmp_path / "office"
    media(office)
    xlsx = fill(_template(tmp_path), office / "danh-muc.xlsx",
                [("Chuyển đổi số", "chuyen-doi-so", None, None, "media/a.wav", when, at, None)])
    slot = read_catalogue(xlsx, district(tmp_path / "d2").config).slots[0]
    assert (slot.rrule, tuple(d.isoformat() for d in slot.dates), slot.times[0].strftime("%H:%M")) == expected


def test_catalogue_xlsx_renders_the_catalogue_documents(tmp_path: Path) -> None:
    office = tmp_path / "office"
    media(office)
    xlsx = fill(_template(tmp_path), office / "danh-muc.xlsx", ROWS)
    kit = district(tmp_path / "d2")
    assert cli(kit, "catalogue", str(xlsx), "--out", str(tmp_path / "docs")) == 0
    assert (tmp_path / "docs" / "catalogue.pdf").stat().st_size > 1000
    assert (tmp_path / "docs" / "catalogue.xlsx").exists()
