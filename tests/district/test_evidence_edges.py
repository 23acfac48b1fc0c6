"""Bundles at the edges: no events, a station or key since removed from the registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from test_evidence_support import District, build_district

from district_collector.cli import main
from district_collector.evidence.bundle import jsonl_line
from district_collector.evidence.verify import verify_bundle
from radio_protocol.jose import KeyRing, Signer, public_jwk, verify
from radio_protocol.names import EVENT_TYP


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> District:
    return build_district(tmp_path_factory.mktemp("district"))


def _edit_config(district: District, tmp_path: Path, edit: Any) -> Path:
    """A copy of the district config (same database and key) changed by ``edit``."""
    data = yaml.safe_load(district.config_path.read_text(encoding="utf-8"))
    base = district.config_path.parent
    data["database"] = str(base / data["database"])
    data["signing_key"] = str(base / data["signing_key"])
    edit(data)
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _evidence(config: Path, out: Path, start: str = "2024-01-01", end: str = "2024-12-10") -> None:
    assert main(["-c", str(config), "evidence", "--from", start, "--to", end, "--out", str(out)]) == 0


def test_evidence_period_without_events_is_valid_and_says_so(district: District, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    _evidence(district.config_path, tmp_path / "b", "2020-01-01", "2020-12-31")
    assert (tmp_path / "b" / "events.jsonl").read_bytes() == b""
    report = json.loads((tmp_path / "b" / "report.json").read_bytes())
    assert report["district"]["criteria"] == {"1.6": 0, "1.7": 0}
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "No events in the period 2020-01-01..2020-12-31." in out and "VERIFIED / ĐÃ XÁC MINH" in out


def test_evidence_station_removed_from_registry(district: District, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    def drop_town(data: dict[str, Any]) -> None:
        data["stations"] = [s for s in data["stations"] if s["id"] != "kon-ray-tt"]

    config = _edit_config(district, tmp_path, drop_town)
    _evidence(config, tmp_path / "b")
    report = json.loads((tmp_path / "b" / "report.json").read_bytes())
    reasons = {e["reason"] for e in report["excluded"] if e["station"] == "kon-ray-tt"}
    assert reasons == {"unknown-station"}
    result = verify_bundle(tmp_path / "b", district.district_signer.kid)
    assert result.ok, result.problems
    assert any("kon-ray-tt is not in the registry" in f for f in result.findings)


def test_evidence_key_removed_from_registry_excludes_as_bad_signature(
        district: District, tmp_path: Path) -> None:
    def rotate_ruong(data: dict[str, Any]) -> None:
        for s in data["stations"]:
            if s["id"] == "dak-ruong-01":
                s["keys"] = [public_jwk(Ed25519PrivateKey.generate().public_key())]

    config = _edit_config(district, tmp_path, rotate_ruong)
    _evidence(config, tmp_path / "b")
    report = json.loads((tmp_path / "b" / "report.json").read_bytes())
    ruong = report["communes"][1]
    assert ruong["airings"] == 0 and ruong["tier"] == "none"
    assert {e["reason"] for e in report["excluded"] if e["station"] == "dak-ruong-01"} == {"bad-signature"}
    result = verify_bundle(tmp_path / "b")
    assert result.ok, result.problems
    assert any("no longer registered" in f for f in result.findings)


def test_evidence_jsonl_line_keeps_bytes_or_compacts_a_multiline_jws() -> None:
    signer = Signer(Ed25519PrivateKey.generate())
    jws = signer.sign({"v": 1, "type": "airing"}, EVENT_TYP)
    assert jsonl_line(jws) == jws + b"\n"
    pretty = json.dumps(json.loads(jws), indent=2).encode()
    line = jsonl_line(pretty)
    assert line.count(b"\n") == 1
    assert verify(line.strip(), KeyRing.from_jwks([signer.public_jwk]), EVENT_TYP).payload["v"] == 1
