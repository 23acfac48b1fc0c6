"""A tampered bundle fails verification, even when the tamperer rewrites the manifest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from test_evidence_support import PERIOD, build_district, read_lines, rewrite_manifest_hashes

from district_collector.cli import main
from district_collector.evidence.verify import _events, verify_bundle
from district_collector.registry import Registry
from district_collector.scoring.report import build_report, report_json
from radio_protocol.jose import MANIFEST_TYP, Signer


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Signer]:
    district = build_district(tmp_path_factory.mktemp("district"))
    out = tmp_path_factory.mktemp("bundles") / "bundle"
    assert main(["-c", str(district.config_path), "evidence", "--from", PERIOD[0], "--to", PERIOD[1],
                 "--out", str(out), "--lang", "en"]) == 0
    return out, district.district_signer


@pytest.fixture
def bundle(original: tuple[Path, Signer], tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(original[0], copy)
    assert verify_bundle(copy).ok
    return copy


def _flip(data: bytes, index: int) -> bytes:
    new = b"B" if data[index:index + 1] == b"A" else b"A"
    return data[:index] + new + data[index + 1:]


def _position(line: bytes, where: str) -> int:
    marks = {"protected": b'"protected":"', "payload": b'"payload":"', "signature": b'"signature":"'}
    if where == "first":
        return 0
    if where == "last":
        return len(line) - 1
    start = line.index(marks[where]) + len(marks[where])
    end = line.index(b'"', start)
    return (start + end) // 2


@pytest.mark.parametrize("rewrite_manifest", [False, True])
@pytest.mark.parametrize("line_index", [0, 40, -1])
@pytest.mark.parametrize("where", ["first", "protected", "payload", "signature", "last"])
def test_tamper_any_byte_of_an_event_is_detected(bundle: Path, where: str, line_index: int,
                                                 rewrite_manifest: bool) -> None:
    lines = read_lines(bundle / "events.jsonl")
    lines[line_index] = _flip(lines[line_index], _position(lines[line_index], where))
    (bundle / "events.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    if rewrite_manifest:
        rewrite_manifest_hashes(bundle)
    result = verify_bundle(bundle)
    assert not result.ok
    if rewrite_manifest:
        assert any("manifest.json: differs from the manifest the district signed" in p for p in result.problems)
    else:
        assert any("events.jsonl: SHA-256 or size differs" in p for p in result.problems)
    # Independently of the manifest, the event itself no longer checks out (a bad signature
    # or JWS), or it no longer counts the way the signed report says.
    assert any(p.startswith(("events.jsonl line", "report.json:")) for p in result.problems), result.problems


@pytest.mark.parametrize("rewrite_manifest", [False, True])
@pytest.mark.parametrize("line_index", [0, 30, -1])
def test_tamper_removing_one_event_is_detected(bundle: Path, line_index: int, rewrite_manifest: bool,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    lines = read_lines(bundle / "events.jsonl")
    del lines[line_index]
    (bundle / "events.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    if rewrite_manifest:
        rewrite_manifest_hashes(bundle)
    assert main(["verify", str(bundle)]) == 1
    out = capsys.readouterr().out
    assert "NOT VERIFIED / KHÔNG XÁC MINH ĐƯỢC" in out
    result = verify_bundle(bundle)
    # The signed report lists each station's seq range and gaps: the recomputation differs.
    assert any(p.startswith("report.json: stations[") for p in result.problems), result.problems


def test_tamper_forged_bundle_with_own_district_key_caught_by_pinning(
        bundle: Path, original: tuple[Path, Signer], capsys: pytest.CaptureFixture[str]) -> None:
    """Remove an event, recompute the report, re-sign everything with another key: only the
    district key differs, which the printed kid shows and --district-key refuses."""
    lines = read_lines(bundle / "events.jsonl")
    del lines[10]
    (bundle / "events.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    forger = Signer(Ed25519PrivateKey.generate())
    keys = json.loads((bundle / "keys.json").read_bytes())
    keys["district"]["keys"] = [forger.public_jwk]
    (bundle / "keys.json").write_text(json.dumps(keys, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    registry = Registry.from_keys_json(keys)
    from district_collector.evidence.verify import VerifyResult

    facts = _events(VerifyResult(bundle), registry)
    report = json.loads((bundle / "report.json").read_bytes())
    period = report["period"]
    from district_collector.scoring.compute import Period

    forged = build_report(facts, registry, Period.parse(period["from"], period["to"], period["timezone"]))
    (bundle / "report.json").write_bytes(report_json(forged))
    (bundle / "schedules.jsonl").write_bytes(b"")  # signed by the real district key: dropped
    rewrite_manifest_hashes(bundle)
    manifest = json.loads((bundle / "manifest.json").read_bytes())
    manifest["district_key"] = forger.kid
    forged_manifest = json.dumps(manifest, ensure_ascii=False, indent=2).encode() + b"\n"
    (bundle / "manifest.json").write_bytes(forged_manifest)
    (bundle / "manifest.jws").write_bytes(forger.sign(forged_manifest, MANIFEST_TYP))
    result = verify_bundle(bundle)
    assert result.ok and result.district_kid == forger.kid != original[1].kid
    assert main(["verify", str(bundle), f"--district-key={original[1].kid}"]) == 1
    out = capsys.readouterr().out
    assert f"signed by district key {forger.kid}, not the expected {original[1].kid}" in out


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("report.json", b'"weeks_aired": 49', b'"weeks_aired": 48'),
        ("report.json", b'"1.5": 0', b'"1.5": 20'),
        ("keys.json", '"Xã Đăk Ruồng"'.encode(), '"Xã Đăk Kôi"'.encode()),
        ("schedules.jsonl", b'"signature":"', b'"signature":"AA'),
    ],
)
def test_tamper_other_files_detected(bundle: Path, name: str, old: bytes, new: bytes) -> None:
    data = (bundle / name).read_bytes()
    assert old in data
    (bundle / name).write_bytes(data.replace(old, new, 1))
    rewrite_manifest_hashes(bundle)
    result = verify_bundle(bundle)
    assert not result.ok
    assert any("manifest.json: differs from the manifest the district signed" in p for p in result.problems)


def test_tamper_report_detected_by_recomputation_alone(bundle: Path, original: tuple[Path, Signer]) -> None:
    """Even a district that signs a manifest over an altered report is caught: the events disagree."""
    data = (bundle / "report.json").read_bytes().replace(b'"1.5": 0', b'"1.5": 20', 1)
    (bundle / "report.json").write_bytes(data)
    rewrite_manifest_hashes(bundle)
    signer = original[1]
    (bundle / "manifest.jws").write_bytes(signer.sign((bundle / "manifest.json").read_bytes(), MANIFEST_TYP))
    result = verify_bundle(bundle, signer.kid)
    assert result.problems == ["report.json: communes[1].criteria.1.5 says 20, the events give 0"]


def test_verify_reports_unlisted_extra_file_as_finding(bundle: Path) -> None:
    (bundle / "notes.txt").write_text("chữ ký của chủ tịch")
    result = verify_bundle(bundle)
    assert result.ok
    assert any("notes.txt is not covered by the manifest" in f for f in result.findings)


def test_verify_bad_signature_is_a_failure_not_a_finding(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A changed byte in one event: the line is listed under NOT VERIFIED only; the findings
    keep what the signed report lists (gaps, conflicts) and nothing about signatures."""
    lines = read_lines(bundle / "events.jsonl")
    lines[5] = _flip(lines[5], _position(lines[5], "signature"))
    (bundle / "events.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    signed = json.loads((bundle / "report.json").read_text(encoding="utf-8"))["findings"]
    assert main(["verify", str(bundle)]) == 1
    out = capsys.readouterr().out
    findings, failures = out.split("NOT VERIFIED / KHÔNG XÁC MINH ĐƯỢC:\n")
    _, findings = findings.split("không phải lỗi xác minh):\n")
    assert [line[4:] for line in findings.splitlines() if line.startswith("  - ")] == signed
    assert "do not verify" not in findings and "chữ ký" not in findings
    assert any(line.startswith("  - events.jsonl line 6 (station ") and "signature check failed" in line
               and "changed after export" in line for line in failures.splitlines()), failures
