"""An auditor's attacks on a bundle: keys swapped and everything re-signed, forged and
malformed lines, and the command-line failures an official must read as one sentence."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from test_evidence_support import (
    PERIOD,
    District,
    build_district,
    pdf_text,
    read_lines,
    rewrite_manifest_hashes,
)

from district_collector.cli import main
from district_collector.documents import pdf as pdf
from district_collector.evidence.verify import format_result, verify_bundle
from district_collector.registry import Registry
from district_collector.scoring.compute import Period, facts_from_payload
from district_collector.scoring.report import build_report, report_json
from radio_protocol.jose import MANIFEST_TYP, Signer, canonical_json, parse_jws, sha256_hex
from radio_protocol.names import EVENT_TYP, SCHEDULE_TYP


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> District:
    return build_district(tmp_path_factory.mktemp("district"))


@pytest.fixture(scope="module")
def original(district: District, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "bundle"
    assert main(["-c", str(district.config_path), "evidence", "--from", PERIOD[0], "--to", PERIOD[1],
                 "--out", str(out)]) == 0
    return out


@pytest.fixture
def bundle(original: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(original, copy)
    return copy


def _resign(bundle: Path, signer: Signer) -> None:
    """What a holder of ``signer`` does after editing events.jsonl: recompute the report from
    the events, rewrite every hash and sign the manifest."""
    keys = json.loads((bundle / "keys.json").read_bytes())
    registry = Registry.from_keys_json(keys)
    facts = []
    for line in read_lines(bundle / "events.jsonl"):
        _h, _m, body = parse_jws(line.strip())
        facts.append(facts_from_payload(json.loads(body), sha256_hex(body), True))
    manifest = json.loads((bundle / "manifest.json").read_bytes())
    p = manifest["period"]
    schedules = [json.loads(parse_jws(s)[2]) for s in read_lines(bundle / "schedules.jsonl")]
    report = build_report(facts, registry, Period.parse(p["from"], p["to"], p["timezone"]), schedules)
    (bundle / "report.json").write_bytes(report_json(report))
    rewrite_manifest_hashes(bundle)
    manifest = json.loads((bundle / "manifest.json").read_bytes())
    manifest["district_key"] = signer.kid
    raw = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    (bundle / "manifest.json").write_bytes(raw)
    (bundle / "manifest.jws").write_bytes(signer.sign(raw, MANIFEST_TYP) + b"\n")


def test_verify_all_keys_replaced_and_resigned_is_caught_by_pinning(
        bundle: Path, district: District, capsys: pytest.CaptureFixture[str]) -> None:
    """The forger replaces the district's AND every station's key, turns the excluded
    airings into completed ones, re-signs every event, schedule and the manifest. The bundle
    is then self-consistent: only the district key tells, so the verdict names it and says
    it was not pinned, and --district-key refuses it."""
    keys = json.loads((bundle / "keys.json").read_bytes())
    forger = Signer(Ed25519PrivateKey.generate())
    keys["district"]["keys"] = [forger.public_jwk]
    station_signers = {}
    for station in keys["stations"]:
        station_signers[station["id"]] = Signer(Ed25519PrivateKey.generate())
        station["keys"] = [station_signers[station["id"]].public_jwk]
    (bundle / "keys.json").write_text(json.dumps(keys, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    lines = []
    for line in read_lines(bundle / "events.jsonl"):
        payload = json.loads(parse_jws(line)[2])
        payload["outcome"], payload["reason"] = "completed", None
        lines.append(station_signers[payload["station"]].sign(canonical_json(payload), EVENT_TYP))
    (bundle / "events.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    schedules = [forger.sign(parse_jws(s)[2], SCHEDULE_TYP) for s in read_lines(bundle / "schedules.jsonl")]
    (bundle / "schedules.jsonl").write_bytes(b"".join(s + b"\n" for s in schedules))
    _resign(bundle, forger)

    result = verify_bundle(bundle)
    assert result.ok and result.district_kid == forger.kid
    text = format_result(result)
    assert f"VERIFIED / ĐÃ XÁC MINH, by district key {forger.kid}" in text
    assert "the key was not pinned" in text and "chưa đối chiếu khóa" in text
    real = district.district_signer.kid
    assert main(["verify", str(bundle), f"--district-key={real}"]) == 1
    out = capsys.readouterr().out
    assert f"signed by district key {forger.kid}, not the expected {real}" in out
    assert "NOT VERIFIED / KHÔNG XÁC MINH ĐƯỢC" in out


def test_verify_pinned_key_verdict_says_so(original: Path, district: District,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    kid = district.district_signer.kid
    assert main(["verify", str(original), f"--district-key={kid}"]) == 0
    out = capsys.readouterr().out
    assert f"signed by the pinned district key {kid}" in out and "not pinned" not in out
    # The printed instructions use the --district-key=KID form: a thumbprint may start with "-".
    assert f"--district-key={kid}" in (original / "VERIFY.txt").read_text(encoding="utf-8")


def test_verify_district_key_beginning_with_a_dash_can_be_pinned(original: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(original), "--district-key=-" + "A" * 42]) == 1
    assert "not the expected -AAAA" in capsys.readouterr().out


def _forged_extra(lines: list[bytes]) -> list[bytes]:
    payload = json.loads(parse_jws(lines[0])[2])
    payload.update(seq=999, started_at="2024-06-04T06:30:00.000+07:00")
    return [*lines, Signer(Ed25519PrivateKey.generate()).sign(canonical_json(payload), EVENT_TYP)]


MUTATIONS = {
    "duplicate-line": lambda ls: ls[:4] + [ls[3]] + ls[4:],
    "reordered": lambda ls: random.Random(7).sample(ls, len(ls)),
    "truncated": lambda ls: ls[:30] + [ls[30][: len(ls[30]) // 2]],
    "not-utf8": lambda ls: ls[:2] + [b"\xff\xfe\x80 not a JWS"] + ls[2:],
    "huge-line": lambda ls: ls[:2] + [b'{"protected":"' + b"A" * 200_000 + b'","payload":"e30","signature":"x"}'] + ls[2:],
    "forged-extra-event": _forged_extra,
    "empty": lambda ls: [],
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_verify_mutated_events_file_with_rewritten_manifest_fails_clearly(
        bundle: Path, mutation: str, capsys: pytest.CaptureFixture[str]) -> None:
    lines = MUTATIONS[mutation](read_lines(bundle / "events.jsonl"))
    (bundle / "events.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    rewrite_manifest_hashes(bundle)
    assert main(["verify", str(bundle)]) == 1
    out = capsys.readouterr().out
    assert "NOT VERIFIED / KHÔNG XÁC MINH ĐƯỢC" in out and "Traceback" not in out
    assert "manifest.json: differs from the manifest the district signed" in out


@pytest.mark.parametrize(("mutation", "problem"), [
    ("truncated", "events.jsonl line 31: not a readable JWS"),
    ("not-utf8", "events.jsonl line 3: not a readable JWS"),
    ("huge-line", "events.jsonl line 3: not a readable JWS (too-large"),
])
def test_verify_malformed_line_fails_even_when_the_district_signs_it(
        bundle: Path, district: District, mutation: str, problem: str) -> None:
    lines = MUTATIONS[mutation](read_lines(bundle / "events.jsonl"))
    (bundle / "events.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    _resign_tolerant(bundle, district.district_signer)
    result = verify_bundle(bundle, district.district_signer.kid)
    assert any(p.startswith(problem) for p in result.problems), result.problems


def _resign_tolerant(bundle: Path, signer: Signer) -> None:
    """Re-sign the manifest over the files as they are (the report is left as it was)."""
    rewrite_manifest_hashes(bundle)
    raw = (bundle / "manifest.json").read_bytes()
    (bundle / "manifest.jws").write_bytes(signer.sign(raw, MANIFEST_TYP) + b"\n")


@pytest.mark.parametrize("mutation", ["duplicate-line", "reordered"])
def test_verify_order_and_duplicates_are_allowed_when_signed(bundle: Path, district: District,
                                                            mutation: str) -> None:
    """docs/protocol.md: an events file is in any order, duplicates allowed."""
    lines = MUTATIONS[mutation](read_lines(bundle / "events.jsonl"))
    (bundle / "events.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    _resign(bundle, district.district_signer)
    result = verify_bundle(bundle, district.district_signer.kid)
    assert result.ok, result.problems


def test_verify_list_of_different_length_names_count_and_first_difference(bundle: Path,
                                                                          district: District) -> None:
    lines = read_lines(bundle / "events.jsonl")
    del lines[20]
    (bundle / "events.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    _resign_tolerant(bundle, district.district_signer)
    problems = verify_bundle(bundle).problems
    assert any(p.startswith("report.json: airings lists 81 entries, the events give 80; first difference at [")
               for p in problems), problems


def test_verify_keys_json_not_utf8_is_one_sentence(bundle: Path) -> None:
    (bundle / "keys.json").write_bytes(b"\xff{")
    assert verify_bundle(bundle).problems == ["keys.json: not UTF-8 JSON text"]


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "2024-13-01"], "bad period: --from 2024-13-01: month must be in 1..12"),
    (["--to", "2024-1-5"], "bad period: --to 2024-1-5: not a YYYY-MM-DD date"),
    (["--from", "2024-12-10", "--to", "2024-01-01"], "the period is empty"),
])
def test_report_bad_dates_name_the_option(district: District, args: list[str], message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(district.config_path), "report", *args]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_evidence_unwritable_out_dir_is_one_sentence(district: District, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a-file").write_text("x")
    out = tmp_path / "a-file" / "bundle"
    assert main(["-c", str(district.config_path), "evidence", "--from", PERIOD[0], "--to", PERIOD[1],
                 "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"cannot write the bundle into {out}" in err and "Traceback" not in err


def test_evidence_failed_document_leaves_no_half_bundle(district: District, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """No font: a clear error, and the directory is taken back so the same command can be
    run again once the font is installed."""
    monkeypatch.setattr(pdf, "_fonts", None)
    monkeypatch.setattr(pdf, "FONT_DIRS", ())
    monkeypatch.delenv("COMMUNE_RADIO_FONT", raising=False)
    out = tmp_path / "bundle"
    argv = ["-c", str(district.config_path), "evidence", "--from", PERIOD[0], "--to", PERIOD[1], "--out", str(out)]
    assert main(argv) == 1
    assert "no TrueType font covering Vietnamese" in capsys.readouterr().err
    assert not out.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(argv[:-1] + [str(empty)]) == 1
    assert empty.is_dir() and not any(empty.iterdir())


def test_evidence_documents_name_the_district_stations_commune(original: Path) -> None:
    """The registry's commune names reach report.pdf/.xlsx; report.json stays the report."""
    assert "kon-ray-tt Thị trấn Đăk Rve" in pdf_text(original / "report.pdf")
    assert "commune_names" not in json.loads((original / "report.json").read_bytes())


def test_evidence_output_tells_the_official_how_to_check_it(district: District, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bundle"
    assert main(["-c", str(district.config_path), "evidence", "--from", PERIOD[0], "--to", PERIOD[1],
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"radio-district verify {out} --district-key={district.district_signer.kid}" in text
    assert "phát hiện: Trạm dak-ruong-01: thiếu số thứ tự 9" in text
