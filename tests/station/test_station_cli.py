"""``radio-station`` keygen, check, amp-off and events, run in process."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_testkit import (
    PIN,
    event_lines,
    keygen,
    run,
    write_config,
)
from gpiozero.pins.mock import MockFactory
from jwcrypto import jwk as jw_jwk

from radio_protocol.jose import jwk_thumbprint


def test_cli_keygen_creates_private_key_once(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    jwk = keygen(config, capsys)
    key_path = tmp_path / "data" / "station.key"
    assert key_path.stat().st_mode & 0o777 == 0o600
    assert key_path.parent.stat().st_mode & 0o777 == 0o700
    assert set(jwk) == {"kty", "crv", "x", "kid"}
    assert jwk["kid"] == jwk_thumbprint(jwk) == jw_jwk.JWK(kty="OKP", crv="Ed25519",
                                                           x=jwk["x"]).thumbprint()
    before = key_path.read_bytes()
    assert keygen(config, capsys) == jwk
    assert key_path.read_bytes() == before


def test_cli_check_ok_and_every_problem(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    assert run(config, "check") == 0
    assert capsys.readouterr().out.startswith(f"OK: {config}")
    keygen(config, capsys)
    (tmp_path / "data" / "station.key").chmod(0o644)
    assert run(config, "check") == 1
    assert "chmod 600" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("station: {id: X, district: kon-ray, commune: 1}\namplifier: {pin: 17}\n"
                   "audio: {devise: hw}\n", encoding="utf-8")
    assert run(bad, "check") == 1
    out = capsys.readouterr().out
    assert "3 problem(s)" in out
    for key in ("station.id", "station.commune", "audio.devise"):
        assert f"{bad}: {key}:" in out


@pytest.mark.parametrize("active_high", [True, False])
def test_cli_amp_off_works_with_broken_audio_section(
        tmp_path: Path, factory: MockFactory, capsys: pytest.CaptureFixture[str],
        active_high: bool) -> None:
    config = write_config(tmp_path, audio="audio: {device: [1, 2], latency: fast, x: 1}\n",
                          active_high=active_high)
    assert run(config, "check") == 1
    capsys.readouterr()
    pin = factory.pin(PIN)
    assert run(config, "amp-off") == 0
    assert capsys.readouterr().out.startswith("amplifier off (pin 17")
    # active-high off = low (no change); active-low off = driven high
    assert [s.state for s in pin.states] == ([False] if active_high else [False, True])


def test_cli_events_without_outbox_prints_nothing(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    assert event_lines(config, capsys) == []
    assert not (tmp_path / "data").exists()


def test_cli_keygen_tightens_an_existing_open_data_dir(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    keygen(config, capsys)
    assert data.stat().st_mode & 0o777 == 0o700
    assert (data / "station.key").stat().st_mode & 0o777 == 0o600
