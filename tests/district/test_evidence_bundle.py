"""report / evidence / verify end to end over a real store, and the bundle read by jwcrypto."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jwcrypto import jwk, jws
from test_evidence_support import PERIOD, District, build_district, read_lines

from district_collector.cli import main
from district_collector.commands import report as commands_report
from radio_protocol.clock import SimulatedClock
from radio_protocol.jose import sha256_hex
from radio_protocol.names import EVENT_TYP, MANIFEST_TYP, SCHEDULE_TYP


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> District:
    return build_district(tmp_path_factory.mktemp("district"))


@pytest.fixture(scope="module")
def bundle(district: District, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "kon-ray-2024"
    code = main(["-c", str(district.config_path), "evidence", "--from", PERIOD[0], "--to", PERIOD[1],
                 "--out", str(out)])
    assert code == 0
    return out


def _report(district: District, capsys: pytest.CaptureFixture[str], fmt: str = "json", *more: str) -> Any:
    code = main(["-c", str(district.config_path), "report", "--from", PERIOD[0], "--to", PERIOD[1],
                 "--format", fmt, *more])
    out = capsys.readouterr().out
    assert code == 0
    return json.loads(out) if fmt == "json" else out


def test_report_json_scores_the_store(district: District, capsys: pytest.CaptureFixture[str]) -> None:
    report = _report(district, capsys)
    assert report["period"] == {"from": "2024-01-01", "to": "2024-12-10", "timezone": "Asia/Ho_Chi_Minh"}
    d = report["district"]
    assert (d["id"], d["name"], d["tier"], d["required_weeks"], d["weeks_aired"]) == (
        "kon-ray", "Huyện Kon Rẫy", "weekly", 49, 49)
    assert d["criteria"] == {"1.6": 10, "1.7": 10}
    koi, ruong = report["communes"]
    assert (koi["code"], koi["name"], koi["stations"]) == ("23335", "Xã Đăk Kôi", ["dak-koi-01", "dak-koi-02"])
    assert (koi["tier"], koi["weeks_aired"], koi["airings"], koi["criteria"]) == ("weekly", 49, 50, {"1.5": 20})
    assert koi["schedule"] == {"scheduled": 9, "aired": 9}  # Tuesdays of January and February
    assert (ruong["code"], ruong["tier"], ruong["months_aired"], ruong["criteria"]) == (
        "23338", "monthly", 11, {"1.5": 0})
    assert ruong["airings"] == 11 and ruong["excluded"] == 5 and ruong["conflicts"] == 2
    assert ruong["missing_weeks"][:2] == ["2024-W01", "2024-W02"]
    assert sorted({e["reason"] for e in report["excluded"]}) == [
        "clock-unsynced", "conflict", "outcome", "program"]
    stations = {s["id"]: s for s in report["stations"]}
    assert stations["dak-koi-01"]["first_seq"] == 1 and stations["dak-koi-01"]["last_seq"] == 52
    assert stations["dak-ruong-01"]["gaps"] == [[9, 9]]
    assert stations["dak-ruong-01"]["conflicts"] == [12]
    assert stations["dak-koi-02"]["events"] == 0
    assert any("dak-koi-02" in f and "no events" in f for f in report["findings"])
    assert [w["week"] for w in report["weeks"]][-1] == "2024-W50"
    assert len(koi["weeks_grid"]) == 50 and koi["weeks_grid"][-1] == "aired"


def test_report_table_and_csv(district: District, capsys: pytest.CaptureFixture[str]) -> None:
    table = _report(district, capsys, "table")
    assert "Xã Đăk Kôi" in table and "49/49" in table and "Findings:" in table
    rows = list(csv.DictReader(io.StringIO(_report(district, capsys, "csv"))))
    assert [r["level"] for r in rows] == ["district", "commune", "commune"]
    assert rows[1]["points"] == "20" and rows[2]["tier"] == "monthly"


def test_report_default_period_from_clock(district: District, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # 2023-12-31 20:00 UTC is already 2024 in Vietnam: this year's scoring period, which has events.
    monkeypatch.setattr(commands_report, "default_clock",
                        lambda: SimulatedClock(datetime(2023, 12, 31, 20, 0, tzinfo=UTC)))
    assert main(["-c", str(district.config_path), "report", "--format", "json"]) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert report["period"]["from"] == "2024-01-01" and report["period"]["to"] == "2024-12-10"
    assert report["district"]["airings"] > 0
    assert "no --from/--to: this year's scoring period 2024-01-01 .. 2024-12-10" in out.err


def test_report_default_period_without_events_is_the_latest_month_with_events(
        district: District, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # 2024-12-31 20:00 UTC is already 2025 in Vietnam, and 2025 holds no event (issue 11: the
    # report then said "airings 0" for every commune): the latest month with events, said.
    monkeypatch.setattr(commands_report, "default_clock",
                        lambda: SimulatedClock(datetime(2024, 12, 31, 20, 0, tzinfo=UTC)))
    assert main(["-c", str(district.config_path), "report", "--format", "json"]) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    period = report["period"]
    assert period["from"].startswith("2024-") and period["from"].endswith("-01")
    assert period["from"][:7] == period["to"][:7]  # one whole calendar month
    assert report["district"]["airings"] > 0
    assert (f"this year's scoring period 2025-01-01 .. 2025-12-10 holds no event: reporting "
            f"{period['from'][:7]}, the latest month with events") in out.err


def test_report_period_without_events_says_so(district: District, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(district.config_path), "report", "--from", "2030-01-01", "--to", "2030-01-31"]) == 0
    out = capsys.readouterr()
    assert "no events at all in 2030-01-01 .. 2030-01-31 (the latest event is of 2024-" in out.err
    assert "airings 0" in out.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "--from", "2024-12-10", "--to", "2024-01-01"], "the period is empty"),
        (["report", "--from", "2024-02-30"], "bad period"),
        (["evidence", "--out", "{tmp}"], "is not empty"),
    ],
)
def test_report_bad_input_is_one_clear_sentence(district: District, tmp_path: Path, args: list[str],
                                                message: str, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "something").write_text("x")
    argv = ["-c", str(district.config_path)] + [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_report_without_database_says_so(tmp_path: Path, district: District,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    text = district.config_path.read_text(encoding="utf-8").replace("data/collector.sqlite", "none/x.sqlite")
    shutil.copytree(district.config_path.parent / "keys", tmp_path / "keys")
    (tmp_path / "d.yaml").write_text(text, encoding="utf-8")
    assert main(["-c", str(tmp_path / "d.yaml"), "report"]) == 1
    assert "no store at" in capsys.readouterr().err


def test_evidence_bundle_files_and_manifest(bundle: Path, district: District) -> None:
    names = sorted(p.name for p in bundle.iterdir())
    for name in ("events.jsonl", "schedules.jsonl", "keys.json", "report.json", "manifest.json",
                 "manifest.jws", "VERIFY.txt"):
        assert name in names
    manifest = json.loads((bundle / "manifest.json").read_bytes())
    assert manifest["period"] == {"from": "2024-01-01", "to": "2024-12-10", "timezone": "Asia/Ho_Chi_Minh"}
    assert manifest["district_key"] == district.district_signer.kid
    listed = {e["name"]: e for e in manifest["files"]}
    assert set(listed) == set(names) - {"manifest.json", "manifest.jws"}
    for name, entry in listed.items():
        assert entry["sha256"] == sha256_hex((bundle / name).read_bytes())
    # Events are the bytes as received, period seq ranges plus one neighbour each side.
    lines = read_lines(bundle / "events.jsonl")
    assert set(lines) <= set(district.imported)
    koi_first = district.imported[0]
    assert koi_first in lines  # 2023-12-26, the neighbour before the period
    assert len(read_lines(bundle / "schedules.jsonl")) == 2
    keys = json.loads((bundle / "keys.json").read_bytes())
    assert [s["id"] for s in keys["stations"]] == ["dak-koi-01", "dak-koi-02", "dak-ruong-01", "kon-ray-tt"]
    report = json.loads((bundle / "report.json").read_bytes())
    assert report["district"]["key_thumbprint"] == district.district_signer.kid
    assert "generated_at" not in report


def test_evidence_documents_rendered(bundle: Path) -> None:
    assert (bundle / "report.pdf").read_bytes()[:5] == b"%PDF-"
    assert (bundle / "report.xlsx").read_bytes()[:2] == b"PK"


def test_verify_accepts_the_bundle_with_findings(bundle: Path, district: District,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(bundle), f"--district-key={district.district_signer.kid}"]) == 0
    out = capsys.readouterr().out
    assert "VERIFIED / ĐÃ XÁC MINH" in out and "NOT VERIFIED" not in out
    assert district.district_signer.kid in out
    assert "Station dak-ruong-01: seq 9 missing" in out
    assert "seq 12 was received with 2 different payloads" in out


def test_verify_wrong_pinned_district_key_fails(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(bundle), "--district-key", "A" * 43]) == 1
    assert "not the expected" in capsys.readouterr().out


@pytest.mark.parametrize("what", ["missing-dir", "empty-dir", "no-keys"])
def test_verify_unusable_directory_is_a_clear_failure(tmp_path: Path, bundle: Path, what: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "b"
    if what == "empty-dir":
        target.mkdir()
    if what == "no-keys":
        shutil.copytree(bundle, target)
        (target / "keys.json").unlink()
    assert main(["verify", str(target)]) == 1
    out = capsys.readouterr().out
    assert "NOT VERIFIED / KHÔNG XÁC MINH ĐƯỢC" in out and "Traceback" not in out


def test_bundle_signatures_check_with_jwcrypto(bundle: Path) -> None:
    """An independent JOSE library verifies every event, schedule and the manifest."""
    keys = json.loads((bundle / "keys.json").read_bytes())
    station_keys = {s["id"]: [jwk.JWK(**k) for k in s["keys"]] for s in keys["stations"]}
    district_keys = [jwk.JWK(**k) for k in keys["district"]["keys"]]

    def check(serialized: bytes, candidates: list[jwk.JWK], typ: str) -> bytes:
        token = jws.JWS()
        token.deserialize(serialized.decode("utf-8"))
        assert token.jose_header["typ"] == typ and token.jose_header["alg"] == "EdDSA"
        kid = token.jose_header["kid"]
        (key,) = [k for k in candidates if k.thumbprint() == kid]
        token.verify(key, alg="EdDSA")
        return bytes(token.payload)

    lines = read_lines(bundle / "events.jsonl")
    for line in lines:
        station = json.loads(_payload(line))["station"]
        check(line, station_keys[station], EVENT_TYP)
    for line in read_lines(bundle / "schedules.jsonl"):
        check(line, district_keys, SCHEDULE_TYP)
    signed = check((bundle / "manifest.jws").read_bytes().strip(), district_keys, MANIFEST_TYP)
    assert signed == (bundle / "manifest.json").read_bytes()
    assert len(lines) > 80


def _payload(line: bytes) -> bytes:
    import base64

    text = json.loads(line)["payload"]
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_report_json_has_the_members_scoring_md_names(district: District,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    report = _report(district, capsys, "json", "--airings")
    assert {"period", "district", "communes", "weeks", "months", "airings", "excluded", "stations",
            "findings"} <= set(report)
    assert set(report["period"]) == {"from", "to", "timezone"}
    assert {"id", "name", "tier", "required_weeks", "weeks_aired", "required_months", "months_aired",
            "airings", "criteria"} <= set(report["district"])
    assert set(report["district"]["criteria"]) == {"1.6", "1.7"}
    for commune in report["communes"]:
        assert {"code", "name", "stations", "tier", "required_weeks", "weeks_aired", "missing_weeks",
                "required_months", "months_aired", "missing_months", "airings", "excluded", "conflicts",
                "schedule", "criteria", "weeks_grid"} <= set(commune)
        assert set(commune["schedule"]) == {"scheduled", "aired"} and set(commune["criteria"]) == {"1.5"}
        assert commune["missing_weeks"] == sorted(commune["missing_weeks"])
        assert len(commune["weeks_grid"]) == len(report["weeks"])
    assert set(report["airings"][0]) == {"station", "commune", "seq", "started_at", "local_date",
                                         "local_time", "segment_id", "title", "played_s", "slot"}
    assert {"station", "commune", "seq", "started_at", "reason"} <= set(report["excluded"][0])
    assert {"id", "commune", "first_seq", "last_seq", "events", "gaps", "chain_breaks",
            "conflicts"} <= set(report["stations"][0])
    assert all(isinstance(f, str) for f in report["findings"])


def test_report_json_lists_airings_only_with_the_flag(district: District, bundle: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    main(["-c", str(district.config_path), "report", "--from", PERIOD[0], "--to", PERIOD[1],
          "--format", "json"])
    text = capsys.readouterr().out
    assert text.count("\n") == 1 and text.endswith("}\n")  # compact when stdout is not a terminal
    summary = json.loads(text)
    full = _report(district, capsys, "json", "--airings")
    assert "airings" not in summary and len(full["airings"]) == full["district"]["airings"] == 81
    assert summary == {k: v for k, v in full.items() if k != "airings"}
    # The fast report path scores exactly what the bundle's report.json holds (airings included).
    assert full == json.loads((bundle / "report.json").read_bytes())


def test_report_help_documents_the_airings_choice(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--airings" in text and "left out unless --airings is given" in text
