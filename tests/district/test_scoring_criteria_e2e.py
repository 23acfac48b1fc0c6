"""A second criteria set end to end: a province (tỉnh) scoring its communes with other
criteria, points and thresholds, through ``report``, ``evidence`` (PDF and XLSX) and
``verify`` (which recomputes with the set the bundle carries)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from openpyxl import load_workbook
from test_evidence_support import (
    PERIOD,
    District,
    build_district,
    pdf_text,
    rewrite_manifest_hashes,
)

from district_collector.cli import main
from radio_protocol.jose import Signer, load_private_key
from radio_protocol.names import MANIFEST_TYP

PROVINCE_SET: dict[str, Any] = {
    "id": "tinh-2025",
    "name": {"vi": "Bộ chỉ số chuyển đổi số cấp tỉnh, cấp xã 2025",
             "en": "Province and commune digital-transformation index 2025"},
    "program": "chuyen-doi-so",
    "tiers": {"weekly": 1, "monthly": 2},  # a month counts with two airings
    "criteria": [
        {"id": "T2.1", "level": "region", "rule": "tier", "points": {"weekly": 15, "monthly": 8},
         "text": {"vi": "Tỉnh duy trì chuyên mục chuyển đổi số trên hệ thống truyền thanh cơ sở",
                  "en": "The province keeps the digital-transformation programme on the grassroots radio"}},
        {"id": "X3.4", "level": "commune", "rule": "tier", "points": {"weekly": 12, "monthly": 6},
         "text": {"vi": "Xã phát chuyên mục chuyển đổi số hằng tuần",
                  "en": "The commune airs the programme every week"}},
        {"id": "X3.5", "level": "commune", "rule": "has-airing", "points": 4, "min_airings": 12,
         "text": {"vi": "Xã có ít nhất 12 lượt phát trong năm", "en": "The commune airs it at least 12 times a year"}},
    ],
}


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> District:
    """The test district, renamed "Kon Tum" (no unit in the name) with district.level tinh, and
    the province set in force for periods ending from 2024-07-01."""
    district = build_district(tmp_path_factory.mktemp("province"))
    config = yaml.safe_load(district.config_path.read_text(encoding="utf-8"))
    config["district"].update({"name": "Kon Tum", "level": "tinh"})
    config["criteria"] = [{"from": "2024-07-01", "file": "criteria/tinh-2025.yaml"}]
    (district.config_path.parent / "criteria").mkdir()
    (district.config_path.parent / "criteria" / "tinh-2025.yaml").write_text(
        yaml.safe_dump(PROVINCE_SET, allow_unicode=True), encoding="utf-8")
    district.config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return district


@pytest.fixture(scope="module")
def bundle(province: District, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "kon-tum-2024"
    assert main(["-c", str(province.config_path), "evidence", "--from", PERIOD[0], "--to", PERIOD[1],
                 "--out", str(out)]) == 0
    return out


def _report(province: District, capsys: pytest.CaptureFixture[str], fmt: str,
            period: tuple[str, str] = PERIOD) -> Any:
    code = main(["-c", str(province.config_path), "report", "--from", period[0], "--to", period[1],
                 "--format", fmt])
    out = capsys.readouterr().out
    assert code == 0
    return json.loads(out) if fmt == "json" else out


def test_criteria_set_scores_the_report_with_its_points_and_thresholds(
        province: District, capsys: pytest.CaptureFixture[str]) -> None:
    report = _report(province, capsys, "json")
    d = report["district"]
    assert (d["name"], d["tier"], d["criteria"]) == ("Kon Tum", "weekly", {"T2.1": 15})
    koi, ruong = report["communes"]
    assert (koi["tier"], koi["airings"], koi["criteria"]) == ("weekly", 50, {"X3.4": 12, "X3.5": 4})
    # dak-ruong-01 airs once a month: monthly under the letter's set, but this set wants two.
    assert (ruong["tier"], ruong["months_aired"], ruong["airings"]) == ("none", 0, 11)
    assert len(ruong["missing_months"]) == 11 and ruong["criteria"] == {"X3.4": 0, "X3.5": 0}


def test_criteria_set_is_chosen_by_the_period_end(province: District, capsys: pytest.CaptureFixture[str]) -> None:
    first_half = _report(province, capsys, "json", ("2024-01-01", "2024-06-30"))
    assert first_half["district"]["criteria"] == {"1.6": 10, "1.7": 10}  # before 2024-07-01: the letter's set
    assert first_half["communes"][1]["tier"] == "monthly"
    assert first_half["communes"][0]["criteria"] == {"1.5": 20}


def test_criteria_set_report_table_names_the_province_and_its_criteria(
        province: District, capsys: pytest.CaptureFixture[str]) -> None:
    table = _report(province, capsys, "table")
    assert "Province: tier weekly, weeks 49/49" in table and "points T2.1 = 15" in table
    assert "District:" not in table and "1.5" not in table
    header = next(line for line in table.splitlines() if line.startswith("Commune"))
    assert header.split()[:8] == ["Commune", "Code", "Weeks", "Months", "Tier", "X3.4", "X3.5", "Airings"]
    koi = next(line for line in table.splitlines() if line.startswith("Xã Đăk Kôi"))
    assert koi.split()[6:9] == ["weekly", "12", "4"]
    csv_text = _report(province, capsys, "csv")
    assert csv_text.splitlines()[1].split(",")[14] == "15"  # points: the region's criteria


def test_criteria_set_travels_in_the_bundle(province: District, bundle: Path) -> None:
    carried = json.loads((bundle / "criteria.json").read_bytes())
    assert carried["id"] == "tinh-2025" and [c["id"] for c in carried["criteria"]] == ["T2.1", "X3.4", "X3.5"]
    assert carried["tiers"] == {"weekly": 1, "monthly": 2}
    listed = {e["name"] for e in json.loads((bundle / "manifest.json").read_bytes())["files"]}
    assert "criteria.json" in listed
    assert json.loads((bundle / "keys.json").read_bytes())["district"]["level"] == "tinh"
    verify_txt = (bundle / "VERIFY.txt").read_text(encoding="utf-8")
    assert "chữ ký của tỉnh" in verify_txt and "the province's signature" in verify_txt
    assert "huyện" not in verify_txt


def test_criteria_set_in_the_pdf(bundle: Path) -> None:
    text = pdf_text(bundle / "report.pdf")
    assert "ỦY BAN NHÂN DÂN TỈNH KON TUM" in text and "Kon Tum, ngày" in text
    assert "Toàn tỉnh" in text and "Dấu vân tay khóa của tỉnh" in text
    assert "Tỉnh duy trì chuyên mục chuyển đổi số" in text and "Xã có ít nhất 12 lượt phát trong năm" in text
    assert "T2.1" in text and "X3.4" in text and "X3.5" in text
    assert "Toàn huyện" not in text and "1.6" not in text and "1.7" not in text
    assert "Tiêu chí 1.5" not in text and "Cộng điểm" not in text  # one region criterion: no total row


def test_criteria_set_in_the_xlsx(bundle: Path) -> None:
    ws = load_workbook(bundle / "report.xlsx")["Tổng hợp"]
    rows = [tuple(c.value for c in row) for row in ws.iter_rows()]
    points = {(r[0], r[1]): r[4:6] for r in rows if len(r) > 5 and r[1] in ("T2.1", "X3.4", "X3.5")}
    assert points == {("Kon Tum", "T2.1"): (15, 15),
                      ("Xã Đăk Kôi", "X3.4"): (12, 12), ("Xã Đăk Kôi", "X3.5"): (4, 4),
                      ("Xã Đăk Ruồng", "X3.4"): (12, 0), ("Xã Đăk Ruồng", "X3.5"): (4, 0)}
    assert not any(r[1] in ("1.5", "1.6", "1.7") for r in rows if len(r) > 1)
    grid = [tuple(c.value for c in row) for row in load_workbook(bundle / "report.xlsx")["Lưới tuần"].iter_rows()]
    assert ("Toàn tỉnh", "49/49", "Hằng tuần (≥ 1 lần/tuần)", "15 (T2.1)") == grid[2][:4]


def test_verify_recomputes_with_the_carried_set(province: District, bundle: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(bundle), f"--district-key={province.district_signer.kid}"]) == 0
    out = capsys.readouterr().out
    assert "Province / Đơn vị: Kon Tum (kon-ray)" in out
    assert "Criteria set / Bộ tiêu chí: tinh-2025 (Province and commune digital-transformation index 2025)" in out
    assert "VERIFIED / ĐÃ XÁC MINH" in out


def test_verify_fails_when_the_carried_set_is_changed_even_if_re_signed(
        province: District, bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    changed = tmp_path / "changed"
    shutil.copytree(bundle, changed)
    rules = json.loads((changed / "criteria.json").read_bytes())
    rules["criteria"][1]["points"]["weekly"] = 20
    (changed / "criteria.json").write_text(json.dumps(rules, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    rewrite_manifest_hashes(changed)
    signer = Signer(load_private_key(province.config_path.parent / "keys" / "district.pem"))
    (changed / "manifest.jws").write_bytes(signer.sign((changed / "manifest.json").read_bytes(), MANIFEST_TYP))
    assert main(["verify", str(changed)]) == 1
    out = capsys.readouterr().out
    assert "report.json: communes[0].criteria.X3.4 says 12, the events give 20" in out
    # Without the district key, editing the set breaks the manifest.
    (changed / "manifest.jws").write_bytes((bundle / "manifest.jws").read_bytes())
    assert main(["verify", str(changed)]) == 1
    assert "differs from the manifest the district signed" in capsys.readouterr().out
